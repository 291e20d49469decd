"""Hostile environment archives (issue 13, items 8 to 13): each exact input is refused with
one ``poncho_package_run: error:`` line, no traceback, nothing written outside DIR or the
temporary folder, no leftovers, and DIR not left ready (a later good archive still works)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import poncho_run
from poncho_run import api, cli
from poncho_run_helpers import tree
from poncho_testing.tars import (
    PACKED_STATE_MEMBERS,
    STATE_FOLDER_MEMBERS,
    UNSAFE_MEMBERS,
    member,
)
from poncho_testing.tars import tar_bytes as tarfile_bytes
from tar_writer import Entry, header, tar_bytes, write

PROG = "poncho_package_run"


def stub_env(*extra: Entry) -> list[Entry]:
    """A small conda-pack-like environment, then `extra` members."""
    python = f'#!/bin/sh\nexec {sys.executable} "$@"\n'.encode()
    return [
        Entry("bin", kind=b"5", mode=0o755),
        Entry("bin/python", python, mode=0o755),
        Entry("bin/hello", b'#!/bin/sh\necho "hello $CONDA_PREFIX"\n', mode=0o755),
        Entry("conda-meta/history", b"==> 2026-01-01 <==\n"),
        Entry("lib/data.txt", b"data\n"),
        *extra,
    ]


# The same small environment for archives written by tarfile (poncho_testing.tars).
STUB_MEMBERS = [
    member("bin/hello", b'#!/bin/sh\necho "hello $CONDA_PREFIX"\n', mode=0o755),
    member("conda-meta/history", b"==> 2026-01-01 <==\n"),
]


def state(text: str | bytes) -> Entry:
    return Entry("conda-meta/state", text.encode() if isinstance(text, str) else text)


def spec(text: str | bytes) -> Entry:
    return Entry("poncho/spec.json", text.encode() if isinstance(text, str) else text)


DEEP = "d/" * 2000 + "f"
BIG_INT = "1" * 5000

# id -> (members added to the stub environment, what the error line must say)
CASES: dict[str, tuple[list[Entry], str]] = {
    # 8: modification times that are not a time
    "mtime-nan": ([Entry("lib/t", b"x", pax={"mtime": b"nan"})], "'lib/t' out of range"),
    "mtime-inf": ([Entry("lib/t", b"x", pax={"mtime": b"inf"})], "'lib/t' out of range"),
    "mtime-1e400": ([Entry("lib/t", b"x", pax={"mtime": b"1e400"})], "'lib/t' out of range"),
    "mtime-base256-huge": (
        [Entry("lib/t", b"x", fields={136: b"\x80" + b"\xff" * 11})],
        "'lib/t' out of range",
    ),
    "mtime-base256-negative": (
        [Entry("lib/t", b"x", fields={136: b"\xff" + bytes(11)})],
        "'lib/t' out of range",
    ),
    # 9: a path 2,000 folders deep (a file, and a folder)
    "deep-file": (
        [Entry("x", b"x", pax={"path": DEEP.encode()})],
        "path more than 256 folders deep",
    ),
    "deep-folder": (
        [Entry("x", kind=b"5", pax={"path": DEEP.encode() + b"/"})],
        "path more than 256 folders deep",
    ),
    # 10: a NUL in a pax path or link path
    "pax-path-nul": (
        [Entry("x", b"x", pax={"path": b"lib/a\0b"})],
        "NUL character in the name of 'lib/a\\x00b'",
    ),
    "pax-linkpath-nul": (
        [Entry("lib/l", kind=b"2", pax={"linkpath": b"data.txt\0x"})],
        "NUL character in the name of 'lib/l'",
    ),
    # 11: a spec the loader cannot take
    "spec-url-ipv6": (
        [spec(json.dumps({"http": {"X": {"url": "http://["}}}))],
        "poncho/spec.json",
    ),
    "spec-channel-ipv6": (
        [
            spec(
                json.dumps(
                    {
                        "conda": {"channels": ["https://[]/"]},
                        "http": {"X": {"url": "http://127.0.0.1:9/x", "type": "file"}},
                    }
                )
            )
        ],
        "poncho/spec.json",
    ),
    "spec-big-int": (
        [spec('{"conda": {"packages": []}, "x": ' + BIG_INT + "}")],
        "poncho/spec.json",
    ),
    "spec-deep-array": ([spec("[" * 1000 + "]" * 1000)], "poncho/spec.json"),
    "spec-deep-object": ([spec('{"a":' * 100_000 + "1" + "}" * 100_000)], "poncho/spec.json"),
    "spec-deep-sha256": (
        [
            spec(
                '{"http": {"X": {"url": "http://127.0.0.1/x", "sha256": '
                + "[" * 1000
                + "]" * 1000
                + "}}}"
            )
        ],
        "poncho/spec.json",
    ),
    # 12: conda-meta/state nested 100,000 deep
    "state-deep": (
        [state('{"a":' * 100_000 + "1" + "}" * 100_000)],
        "conda-meta/state: not a conda state file (JSON nested too deeply)",
    ),
    # 13: env_vars that cannot be environment variables
    "state-name-equals": ([state('{"env_vars": {"A=B": "1"}}')], "env_vars['A=B']"),
    "state-name-empty": ([state('{"env_vars": {"": "1"}}')], "env_vars['']"),
    "state-name-nul": ([state('{"env_vars": {"A\\u0000B": "1"}}')], "env_vars['A\\x00B']"),
    "state-value-nul": ([state('{"env_vars": {"A": "1\\u0000"}}')], "env_vars['A']"),
    "state-value-surrogate": ([state('{"env_vars": {"A": "\\ud800"}}')], "env_vars['A']"),
    "state-name-surrogate": ([state('{"env_vars": {"\\udfff": "1"}}')], "env_vars['\\udfff']"),
    "state-value-object": ([state('{"env_vars": {"A": {"B": 1}}}')], "env_vars['A']"),
    "state-not-utf8": ([state(b'{"env_vars": {"A": "\xff"}}')], "conda-meta/state"),
}


@dataclass
class World:
    """A tmp_path laid out as a worker sees it: the archive, DIR's parent, TMPDIR, HOME and
    a working folder; `snapshot` lists everything in it."""

    root: Path
    tmp: Path
    work: Path
    target: Path

    def snapshot(self) -> set[str]:
        return tree(self.root)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    tmp, work, home, scratch = (tmp_path / n for n in ("tmp", "work", "home", "scratch"))
    for folder in (tmp, work, home, scratch):
        folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)

    def no_exec(argv: object, env: object) -> None:
        raise AssertionError(f"the command was run: {argv}")

    # A run that wrongly succeeds with -d would replace the test process with the command.
    monkeypatch.setattr(api, "exec_command", no_exec)
    return World(tmp_path, tmp, work, scratch / "envA")


def error_line(err: str, fragment: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROG}: error: "), err
    assert fragment in lines[0], err
    return lines[0]


def assert_clean(world: World, before: set[str]) -> None:
    """Nothing new but the lock file next to DIR; DIR absent and not ready."""
    lock = os.path.relpath(f"{world.target}.poncho.lock", world.root)
    assert world.snapshot() - before - {lock} == set()
    assert not os.path.lexists(world.target)
    assert poncho_run.open_ready(world.target) is None
    assert list(world.tmp.iterdir()) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_is_one_error_line(
    world: World, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if case == "spec-channel-ipv6" and sys.version_info < (3, 11):
        pytest.skip("Python 3.10's urllib accepts https://[]/ (nothing to refuse)")
    extra, fragment = CASES[case]
    archive = write(world.root / f"{case}.tar.gz", tar_bytes(stub_env(*extra)))
    before = world.snapshot()
    assert cli.main(["-e", str(archive), "--", "true"]) == 1
    error_line(capsys.readouterr().err, fragment)
    assert cli.main(["-e", str(archive), "-d", str(world.target), "--", "true"]) == 1
    error_line(capsys.readouterr().err, fragment)
    assert_clean(world, before)
    with pytest.raises(poncho_run.PonchoError) as info:
        poncho_run.prepare(archive)
    assert fragment in str(info.value)
    with pytest.raises(poncho_run.PonchoError):
        poncho_run.prepare(archive, unpack_to=world.target)
    assert_clean(world, before)


def test_dir_refused_for_bad_activation_data_is_not_poisoned(world: World) -> None:
    """Item 13's worse half: a refused archive leaves DIR unready, so a good archive run
    later on the same DIR works (before the fix DIR was ready and every run crashed)."""
    bad = write(world.root / "bad.tar.gz", tar_bytes(stub_env(state('{"env_vars": {"A=B": "1"}}'))))
    good = write(
        world.root / "good.tar.gz", tar_bytes(stub_env(state('{"env_vars": {"GOOD": "1"}}')))
    )
    with pytest.raises(poncho_run.RunError, match=r"env_vars\['A=B'\]"):
        poncho_run.prepare(bad, unpack_to=world.target)
    assert poncho_run.open_ready(world.target) is None
    prepared = poncho_run.prepare(good, unpack_to=world.target)
    assert poncho_run.open_ready(world.target) is not None
    assert prepared.environ({"PATH": "/usr/bin"})["GOOD"] == "1"


def test_valid_env_vars_still_work(world: World) -> None:
    """The checks refuse only what cannot be a variable: '=' in a value, unicode, numbers."""
    text = json.dumps({"env_vars": {"OPTS": "a=b c", "NAME": "h\u00e9", "N": 3}})
    archive = write(world.root / "ok.tar.gz", tar_bytes(stub_env(state(text))))
    with poncho_run.prepare(archive) as prepared:
        env = prepared.environ({"PATH": "/usr/bin"})
    assert (env["OPTS"], env["NAME"], env["N"]) == ("a=b c", "h\u00e9", "3")


@pytest.mark.parametrize(
    "case", ["mtime-nan", "deep-file", "spec-big-int", "state-value-surrogate"]
)
def test_hostile_archive_as_a_process(world: World, case: str) -> None:
    """The installed command, as a worker runs it: same single line, status 1, no leftovers."""
    extra, fragment = CASES[case]
    archive = write(world.root / f"{case}.tar.gz", tar_bytes(stub_env(*extra)))
    before = world.snapshot()
    env = {**os.environ, "TMPDIR": str(world.tmp)}
    for extra_args in ([], ["-d", str(world.target)]):
        proc = subprocess.run(
            [sys.executable, "-m", "poncho_run", "-e", str(archive), *extra_args, "--", "true"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=world.work,
        )
        assert proc.returncode == 1, proc.stderr
        error_line(proc.stderr, fragment)
    assert_clean(world, before)


def test_long_member_names_are_shortened_in_the_message(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write(world.root / "deep.tar.gz", tar_bytes(stub_env(*CASES["deep-file"][0])))
    assert cli.main(["-e", str(archive), "--", "true"]) == 1
    line = error_line(capsys.readouterr().err, "...")
    assert len(line) < 400


@pytest.mark.parametrize("kind", [b"x", b"g", b"L", b"K"])
def test_a_huge_name_or_pax_header_is_not_read_into_memory(
    world: World, kind: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    # A header claiming 1 TiB (base-256 size), then 2 MiB of data: refused before reading.
    raw = header(b"././@LongLink", size=1 << 40, kind=kind) + bytes(2 << 20)
    archive = write(world.root / "huge.tar.gz", raw)
    before = world.snapshot()
    assert cli.main(["-e", str(archive), "-d", str(world.target), "--", "true"]) == 1
    error_line(capsys.readouterr().err, f"{kind.decode()!r} header of 1099511627776 bytes")
    assert_clean(world, before)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (
            Entry("bin/conda-unpack", b"def f():\n    raise ValueError('boom')\nf()\n"),
            "conda-unpack failed (exit status 1): ValueError: boom",
        ),
        (
            Entry("etc/conda/activate.d/x.sh", b"echo one >&2\necho two >&2\nexit 3\n"),
            "(x.sh; sh exited with status 3): two",
        ),
    ],
)
def test_a_failing_program_of_the_archive_is_one_line(
    world: World, extra: Entry, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """conda-unpack's traceback, or an activate.d script's lines, end as the one error
    line's last line of their output (the rest is logged with -v)."""
    archive = write(world.root / "prog.tar.gz", tar_bytes(stub_env(extra)))
    before = world.snapshot()
    assert cli.main(["-e", str(archive), "-d", str(world.target), "--", "true"]) == 1
    error_line(capsys.readouterr().err, fragment)
    assert_clean(world, before)


# -- DIR (item 14) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ['{"state_version": 1', "{bad", "[" * 100_000, "\udcff", '{"state_version": 1, "a": NaN}'],
)
def test_a_corrupt_state_file_means_not_ready_and_is_rewritten(world: World, content: str) -> None:
    """A damaged DIR/.poncho-run/state.json counts as "not ready" (no SystemError from the
    C scanner on Python < 3.12, no RecursionError): the next run prepares DIR again."""
    good = write(world.root / "good.tar.gz", tar_bytes(stub_env()))
    poncho_run.prepare(good, unpack_to=world.target)
    state_file = world.target / ".poncho-run" / "state.json"
    state_file.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert poncho_run.open_ready(world.target) is None
    proc = subprocess.run(
        [sys.executable, "-m", "poncho_run", "-d", str(world.target), "--", "hello"],
        capture_output=True,
        text=True,
        check=False,
        cwd=world.work,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"hello {world.target}\n"
    assert poncho_run.open_ready(world.target) is not None


@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_the_shared_table_of_malicious_members_is_refused(
    world: World, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """poncho_package_run -e, one entry point of the shared table (poncho_testing.tars):
    refused with one error line naming the member, nothing written outside, DIR not ready."""
    unsafe = UNSAFE_MEMBERS[case]
    archive = world.root / "evil.tar"
    archive.write_bytes(tarfile_bytes(unsafe.members))
    before = world.snapshot()
    assert cli.main(["-e", str(archive), "-d", str(world.target), "--", "true"]) == 1
    line = error_line(capsys.readouterr().err, unsafe.reason)
    assert "unsafe archive member" in line
    assert_clean(world, before)


# -- the archive's own state folder (issue 22) ------------------------------------------------


@pytest.mark.parametrize("case", sorted(STATE_FOLDER_MEMBERS))
def test_a_refused_state_folder_leaves_dir_usable(
    world: World, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive carrying ``.poncho-run/state.json`` as a folder (or another shape that
    would stop the state being published) is refused with one line, DIR is not left behind,
    and the next, good tarball into the same -u DIR runs (before: ``…/env: Is a directory``)."""
    unsafe = STATE_FOLDER_MEMBERS[case]
    bad = world.root / "bad.tar"
    bad.write_bytes(tarfile_bytes([*STUB_MEMBERS, *unsafe.members]))
    before = world.snapshot()
    assert cli.main(["-e", str(bad), "-u", str(world.target), "--", "true"]) == 1
    line = error_line(capsys.readouterr().err, unsafe.reason)
    assert "unsafe archive member" in line
    assert_clean(world, before)
    good = write(world.root / "good.tar.gz", tar_bytes(stub_env()))
    proc = subprocess.run(
        [sys.executable, "-m", "poncho_run", "-e", str(good), "-u", str(world.target), "hello"],
        capture_output=True,
        text=True,
        check=False,
        cwd=world.work,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"hello {world.target}\n", "")


def test_the_state_folder_of_a_used_dir_packed_in_the_archive_is_dropped(world: World) -> None:
    """A tarball made from a used DIR carries that DIR's state: another place's, dropped
    (the state is computed here), and the environment runs from its own prefix."""
    archive = world.root / "packed.tar"
    archive.write_bytes(tarfile_bytes([*STUB_MEMBERS, *PACKED_STATE_MEMBERS]))
    prepared = poncho_run.prepare(archive, unpack_to=world.target)
    assert prepared.prefix == world.target
    state = json.loads((world.target / ".poncho-run" / "state.json").read_text())
    assert state["prefix"] == str(world.target) and "archive" in state
    assert "/elsewhere" not in (world.target / ".poncho-run" / "state.sh").read_text()
