"""Snapshot and restore of a folder tree: what the conda layer uses to undo a pip step."""

from __future__ import annotations

import os
import time
from pathlib import Path

from poncho_create.layer_snapshot import restore, snapshot


def _tree(root: Path) -> Path:
    (root / "lib" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "lib" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "lib" / "pkg" / "__pycache__" / "mod.cpython-313.pyc").write_bytes(b"old")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    (root / "bin" / "link").symlink_to("tool")
    return root


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_restore_removes_what_was_added_and_keeps_the_rest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = snapshot(root)
    listing = _listing(root)
    (root / "lib" / "added").mkdir()
    (root / "lib" / "added" / "deep.py").write_text("y\n")
    (root / "lib" / "pkg" / "new.py").write_text("z\n")
    (root / "poncho").mkdir()
    (root / "bin" / "dangling").symlink_to("nowhere")
    done = restore(before)
    assert done.intact
    assert done.removed == ["bin/dangling", "lib/added", "lib/pkg/new.py", "poncho"]
    assert _listing(root) == listing
    assert restore(snapshot(root)).removed == []


def test_a_file_replaced_written_in_place_or_removed_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = snapshot(root)
    replaced = root / "lib" / "pkg" / "mod.py"
    replaced.unlink()
    replaced.write_text("x = 1\n")  # same content, another inode
    with (root / "bin" / "tool").open("a") as handle:
        handle.write("echo\n")
    (root / "bin" / "link").unlink()
    done = restore(before)
    assert not done.intact
    assert done.changed == ["bin/tool", "lib/pkg/mod.py"]
    assert done.missing == ["bin/link"]


def test_the_same_size_written_in_place_is_seen_by_its_time(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = snapshot(root)
    tool = root / "bin" / "tool"
    st = tool.stat()
    tool.write_text("#!/bin/zz\n")
    os.utime(tool, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert restore(before).changed == ["bin/tool"]


def test_a_removed_folder_is_reported_once_and_a_replaced_one_as_changed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = snapshot(root)
    for path in sorted((root / "lib" / "pkg").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / "lib" / "pkg").rmdir()
    (root / "bin" / "tool").unlink()
    (root / "bin" / "tool").mkdir()
    done = restore(before)
    assert done.missing == ["lib/pkg"]
    assert done.changed == ["bin/tool"]


def test_a_recompiled_pyc_is_not_a_change(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = snapshot(root)
    pyc = root / "lib" / "pkg" / "__pycache__" / "mod.cpython-313.pyc"
    time.sleep(0.01)
    fresh = pyc.with_name("tmp")
    fresh.write_bytes(b"fresh pyc")
    fresh.replace(pyc)  # as Python writes it
    done = restore(before)
    assert done.intact
    assert done.recompiled == ["lib/pkg/__pycache__/mod.cpython-313.pyc"]
    assert pyc.read_bytes() == b"fresh pyc"
