"""An edit of a local pip package, then create again (issue 23 item 2): the members of the
unchanged packages are copied from the tarball of the first build (the environment cache),
only the changed ones are compressed, and the result is the tarball a full build from empty
caches gives, byte for byte and file by file. `-v` and `--json` say how many were reused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from poncho_core.tarindex import TarIndex, read_index
from poncho_create import create
from poncho_create.cli import main


def _index(tarball: Path) -> TarIndex:
    index = read_index(tarball)
    assert index is not None
    return index


def _member_bytes(tarball: Path) -> dict[str, bytes]:
    data = tarball.read_bytes()
    return {m.name: data[m.offset : m.offset + m.size] for m in _index(tarball).members}


def _files(tarball: Path, dest: Path) -> dict[str, bytes]:
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(dest)], check=True)
    out = {}
    for path in sorted(dest.rglob("*")):
        rel = str(path.relative_to(dest))
        if path.is_symlink():
            out[rel] = b"-> " + str(path.readlink()).encode()
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def test_an_edited_local_package_reuses_every_other_member(
    demo_build: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = demo_build.spec_path.parent / "localproj"
    module = project / "poncho_create_localproj" / "__init__.py"
    options = {**demo_build.options, "cache_dir": tmp_path / "envs"}
    first = create(demo_build.spec_path, **options)
    original = module.read_text()
    argv = [
        str(demo_build.spec_path), "--json", "--cache-dir", str(options["cache_dir"]),
        "--pkgs-dir", str(options["pkgs_dir"]), "--tmp-dir", str(options["tmp_dir"]),
        "--no-index", "--find-links", str(options["find_links"][0]), "-v",
    ]  # fmt: skip
    try:
        module.write_text("VALUE = 'edited'\n")
        capsys.readouterr()
        assert main(argv) == 0
        out, err = capsys.readouterr()
        shown = json.loads(out)
        second = Path(shown["path"])
        # The same inputs from an empty environment cache at the same place (the build
        # prefix, the conda layer, lives there and is written into the environment): a
        # full build, nothing reused.
        second = second.rename(tmp_path / "second.tar.gz")
        options["cache_dir"].rename(tmp_path / "used-envs")
        moved = tmp_path / "used-envs" / first.relative_to(options["cache_dir"])
        full = create(demo_build.spec_path, **options)
    finally:
        module.write_text(original)

    before, after, whole = (_member_bytes(t) for t in (moved, second, full))
    changed = {name for name in after if before.get(name) != after[name]}
    conda = {name for name in after if name.startswith("conda/")}
    assert conda and not changed & conda  # every conda package copied, byte for byte
    assert {
        "pip/poncho-demo-piptop-0.1.0",
        "pip/poncho-demo-pipbase-0.1.0",
    } <= after.keys() - changed
    assert any(n.startswith("pip/poncho-create-localproj-") for n in changed)
    assert shown["members"] == {"total": len(after), "reused": len(after) - len(changed)}
    assert shown["cache_hit"] is False
    reused = len(after) - len(changed)
    assert f"packed {len(after)} members: {reused} reused from {first}, 2 compressed" in err
    # What a full build gives: the same files, the same bytes.
    assert _files(second, tmp_path / "a") == _files(full, tmp_path / "b")
    assert after == whole and second.read_bytes() == full.read_bytes()
    assert _index(second).files == _index(full).files
