"""Indexed environment tarballs (poncho-core's layout: members, an index, a footer) through
poncho_package_run: unpacked into a DIR by their index (`poncho_core.extract_indexed`, with
the node store), into a temporary folder as a stream (no store: the index unread), a lying index
refused like a hostile archive (one error line, nothing left, DIR usable afterwards), every
member of the shared hostile table refused inside an indexed tarball too."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import poncho_core.extract_indexed
import poncho_run
from poncho_run import api, cli
from poncho_run_helpers import script, tree
from poncho_testing.tars import (
    UNSAFE_MEMBERS,
    drop_record,
    edit_member,
    edit_record,
    make_indexed_tar,
    make_tar,
    member,
)

PROG = "poncho_package_run"

#: A small environment in three members (a conda package, a pip one, what create adds).
GROUPS = [
    [
        member("bin/python", script(f'exec {sys.executable} "$@"'), mode=0o755),
        member("bin/hello", b'#!/bin/sh\necho "hello $CONDA_PREFIX"\n', mode=0o755),
        member("conda-meta/history", b"==> 2026-01-01 <==\n"),
    ],
    [member("lib/site/mod.py", b"X = 1\n" * 100), member("lib/up", kind=b"2", linkname="..")],
    [member("poncho/spec.json", b'{"conda": {"packages": ["python"]}}\n')],
]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as a worker's world: TMPDIR, HOME, a working folder; DIR is scratch/envA."""
    for name in ("tmp", "work", "home", "scratch"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "work")

    def no_exec(argv: object, env: object) -> None:
        raise AssertionError(f"the command was run: {argv}")

    monkeypatch.setattr(api, "exec_command", no_exec)
    return tmp_path


def run_hello(world: Path, archive: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poncho_run", "-e", str(archive), "-u", str(target), "hello"],
        capture_output=True,
        text=True,
        check=False,
        cwd=world / "work",
    )


def test_an_indexed_environment_is_unpacked_by_its_index_and_runs(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_indexed_tar(world / "env.tar.gz", GROUPS)
    calls: list[int] = []
    real = poncho_core.extract_indexed.extract_indexed

    def spy(*args: Any, **kwargs: Any) -> int:
        count = real(*args, **kwargs)
        calls.append(count)
        return count

    monkeypatch.setattr(poncho_core.extract_indexed, "extract_indexed", spy)
    env = poncho_run.prepare(archive, world / "scratch" / "api")
    assert calls == [7]  # the 6 entries of the members and the index's own
    assert (env.prefix / "poncho" / "index.json").is_file()
    assert os.readlink(env.prefix / "lib" / "up") == ".."
    target = world / "scratch" / "envA"
    proc = run_hello(world, archive, target)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"hello {target}\n", "")


# lie -> (the index's edit, or a byte edit of the archive; what the error line says)
LIES: dict[str, tuple[Any, str]] = {
    "member digest": (edit_member(1, sha256="0" * 64), "does not match its digest"),
    "member usize": (edit_member(0, usize=512), "holds more than"),
    "record sha256": (edit_record("bin/hello", sha256="1" * 64), "does not match its sha256"),
    "record path": (edit_record("lib/site/mod.py", path="lib/site/other.py"), "index says"),
    "record size": (edit_record("conda-meta/history", size=3), "its size"),
    "record type": (edit_record("lib/up", type="file", link="", sha256="0" * 64), "its type"),
    "entry not in the index": (drop_record("lib/up"), "does not list"),
    "overlapping offsets": (edit_member(1, offset=5), "not where the index says"),
    "footer past the end": ("cut", "the index footer names bytes"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_an_index_that_lies_is_one_error_line_and_dir_stays_usable(
    world: Path, lie: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, said = LIES[lie]
    bad = world / "bad.tar.gz"
    make_indexed_tar(bad, GROUPS, edit=None if edit == "cut" else edit)
    if edit == "cut":
        data = bad.read_bytes()
        bad.write_bytes(data[:40] + data[50:])
    target = world / "scratch" / "envA"
    before = tree(world)
    assert cli.main(["-e", str(bad), "-u", str(target), "--", "true"]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: {bad}: "), err
    assert said in lines[0] and "Traceback" not in err
    lock = os.path.relpath(f"{target}.poncho.lock", world)
    assert tree(world) - before - {lock} == set()
    assert not os.path.lexists(target) and poncho_run.open_ready(target) is None
    good = make_indexed_tar(world / "good.tar.gz", GROUPS)
    proc = run_hello(world, good, target)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"hello {target}\n", "")


@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_the_shared_table_of_malicious_members_is_refused_in_an_indexed_tarball(
    world: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unsafe = UNSAFE_MEMBERS[case]
    archive = make_indexed_tar(world / "evil.tar.gz", [*GROUPS, unsafe.members])
    target = world / "scratch" / "envA"
    before = tree(world)
    assert cli.main(["-e", str(archive), "-d", str(target), "--", "true"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unsafe archive member" in err, err
    assert unsafe.reason in err
    lock = os.path.relpath(f"{target}.poncho.lock", world)
    assert tree(world) - before - {lock} == set()


def test_a_tarball_without_index_is_still_read_as_a_stream(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("an archive without an index has no index to read")

    monkeypatch.setattr(poncho_core.extract_indexed, "extract_indexed", refuse)
    archive = make_tar(world / "env.tar.gz", [m for group in GROUPS for m in group])
    env = poncho_run.prepare(archive, world / "scratch" / "envA")
    assert (env.prefix / "bin" / "hello").is_file()


IMPORTED = """
import sys
from poncho_run.archive import extract_environment
from poncho_run.store import open_store
store = open_store(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else None
extract_environment(sys.argv[1], sys.argv[2], store=store)
print(sorted(m for m in sys.modules if m.startswith("poncho_core.")))
"""


def test_the_index_reader_is_imported_only_for_an_indexed_tarball_and_a_store(
    tmp_path: Path,
) -> None:
    """A cold start through the node store pays for the index's reader (dataclasses, json)
    only for an indexed tarball (a plain one: the footer check, tarfooter); one without a
    store reads every tarball as a stream, and imports neither."""
    members = [m for group in GROUPS for m in group]
    imported = {}
    for kind, archive in (
        ("plain", make_tar(tmp_path / "plain.tar.gz", members)),
        ("indexed", make_indexed_tar(tmp_path / "indexed.tar.gz", GROUPS)),
    ):
        for store in ("", str(tmp_path / "store")):
            way = f"{kind} {'store' if store else 'no store'}"
            (tmp_path / way).mkdir()
            argv = [sys.executable, "-c", IMPORTED, str(archive), str(tmp_path / way)]
            proc = subprocess.run(
                argv + ([store] if store else []), capture_output=True, text=True, check=True
            )
            imported[way] = set(ast.literal_eval(proc.stdout))
    index_reader = {"poncho_core.tarfooter", "poncho_core.tarindex"}
    assert not index_reader & (imported["plain no store"] | imported["indexed no store"])
    assert "poncho_core.tarfooter" in imported["plain store"]
    assert "poncho_core.tarindex" not in imported["plain store"]
    assert {"poncho_core.tarindex", "poncho_core.extract_indexed"} <= imported["indexed store"]
