"""Fuzzing poncho-run with damaged and hostile environment archives (hypothesis).

A strategy builds a valid conda-pack-like archive (a small environment: a ``bin/python``
stub, ``conda-meta/*.json``, ``conda-meta/state``, ``poncho/spec.json``, a
``bin/conda-unpack`` stub, links, an activate.d script...) and mutates it member by member
(names, types, link targets, sizes, modes, times, pax records, contents, order) and then as
bytes (header bytes, truncation, trailing garbage, compression, a damaged compressed
stream). Each archive goes through the command line (``main([...])``, with and without
``-d``) and through `poncho_run.prepare` (with and without ``unpack_to``); each run must:

- raise no exception but poncho-run's documented errors (`poncho_run.PonchoError`: its
  own `RunError` and poncho-core's archive errors);
- succeed, or exit with status >= 1 and exactly one ``poncho_package_run: error:`` line and
  no traceback;
- write nothing outside its target (DIR and its lock file, or a temporary folder that is
  gone afterwards), leave no temporary sibling, and leave DIR ready only on success; no
  symbolic link in DIR may point outside it.

Indexed tarballs (poncho-core's layout, read by their index) are fuzzed too: damaged as
bytes (flips, more of them in the index member and the footer), or with an index document
damaged before it is compressed (it may still parse, and lie).

The short profile (the normal suite) runs a few dozen derandomized archives. The long one
runs with ``PONCHO_FUZZ=long`` (``nox -s fuzz_archives``): ``PONCHO_FUZZ_EXAMPLES``
archives (default 2,000), its figures written as JSON to ``PONCHO_FUZZ_REPORT`` if set.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poncho_run
from poncho_run import api, cli
from poncho_run.unpack import TEMP_INFIX
from poncho_testing.tars import STATE_FOLDER_MEMBERS, make_indexed_tar, member
from tar_writer import BLOCK, COMPRESSORS, Entry, tar_bytes

PROG = "poncho_package_run"
LONG = os.environ.get("PONCHO_FUZZ") == "long"
EXAMPLES = int(os.environ.get("PONCHO_FUZZ_EXAMPLES", "2000")) if LONG else 12

# -- the valid environment -------------------------------------------------------------------

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
CONDA_UNPACK = f"""\
import os, sys
prefix = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(prefix, "lib", "prefix.txt")
with open(path) as f:
    text = f.read()
with open(path, "w") as f:
    f.write(text.replace({PLACEHOLDER!r}, prefix))
""".encode()
SPEC = {"conda": {"channels": ["conda-forge"], "packages": ["python=3.13"]}, "pip": ["x==1"]}
PYTHON_JSON = {"name": "python", "version": "3.13.0", "build": "0", "files": ["bin/python"]}


def python_stub() -> bytes:
    return f'#!/bin/sh\nexec {sys.executable} "$@"\n'.encode()


def base_env(conda_unpack: bool, activate: bool) -> list[Entry]:
    """A valid small environment (the fuzzer's starting point)."""
    entries = [
        Entry("bin", kind=b"5", mode=0o755),
        Entry("bin/python", python_stub(), mode=0o755),
        Entry("bin/python3", kind=b"2", linkname="python", mode=0o777),
        Entry("conda-meta/history", b"==> 2026-01-01 00:00:00 <==\n"),
        Entry("conda-meta/python-3.13.0-0.json", json.dumps(PYTHON_JSON).encode()),
        Entry("conda-meta/state", json.dumps({"env_vars": {"FUZZ": "1"}}).encode()),
        Entry("poncho/spec.json", json.dumps(SPEC).encode()),
        Entry("lib/prefix.txt", f"prefix={PLACEHOLDER}\n".encode()),
        Entry("lib/python3.13/site-packages/mod.py", b"X = 1\n", pax={"mtime": b"1600000000.5"}),
        Entry("lib/python3.13/site-packages/same.py", kind=b"1", linkname="lib/prefix.txt"),
        Entry("share/link-to-lib", kind=b"2", linkname="../lib", mode=0o777),
    ]
    if conda_unpack:
        entries.append(Entry("bin/conda-unpack", CONDA_UNPACK, mode=0o755))
    if activate:
        entries.append(Entry("etc/conda/activate.d/fuzz.sh", b"export FUZZ_ACT=1\n"))
    return entries


# -- mutations -------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "",
    "/",
    ".",
    "./",
    "/etc/poncho-fuzz",
    "../outside",
    "a/../../outside",
    "lib/../../outside",
    "bin",
    "bin/",
    "bin/python/inside-a-file",
    "share/link-to-lib/through-a-link",
    "bin/python3/x",
    "a//b",
    "a/./b",
    "x" * 300,
    "d/" * 300 + "f",
    "d/" * 2000 + "f",
    "n" * 5000,
    "a\0b",
    "\udcff\udcfe",
    "caf\u00e9",
    ".poncho-run/state.json",
    ".poncho-run",
    "conda-meta/state",
    "poncho/spec.json",
]
HOSTILE_LINKS = [
    "",
    "/",
    "/etc/passwd",
    "..",
    "../..",
    "../../outside",
    ".",
    "bin",
    "bin/python",
    "share/link-to-lib",
    "share/link-to-lib/../..",
    "a\0b",
    "x" * 5000,
    "loop",
    "lib/../../x",
]
KINDS = [b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"S", b"x", b"g", b"L", b"K", b"V"]
NUMBERS = [
    -1,
    0,
    1,
    511,
    512,
    513,
    10**6,
    8**11 - 1,
    8**11,
    2**63,
    2**88 - 1,
    -(2**63),
    -(10**12),
]
PAX_KEYS = [
    "path",
    "linkpath",
    "size",
    "mtime",
    "atime",
    "uid",
    "uname",
    "GNU.sparse.size",
    "hdrcharset",
    "comment",
]
PAX_VALUES = [
    b"",
    b"nan",
    b"inf",
    b"-inf",
    b"1e400",
    b"-1e400",
    b"1.5",
    b"abc",
    b"1_0",
    b" 7 ",
    b"-5",
    b"9" * 5000,
    b"../x",
    b"/etc/x",
    b"a\0b",
    b"\xff\xfe",
]
RAW_PAX = [
    b"",
    b"abc",
    b"5 a\n",
    b"99 path=x\n",
    b"0 path=x\n",
    b"-3 path=x\n",
    b"10 pathx\n",
    b"12 path=x\n\0\0",
    b"9" * 5000 + b" path=x\n",
    b"13 path=/tmp\n",
]
STATES = [
    b"",
    b"null",
    b"[]",
    b'{"env_vars": []}',
    b'{"env_vars": {"A=B": "1"}}',
    b'{"env_vars": {"": "1"}}',
    b'{"env_vars": {"A\\u0000": "1"}}',
    b'{"env_vars": {"A": "\\ud800"}}',
    b'{"env_vars": {"A": null}}',
    b'{"env_vars": {"PATH": "/nowhere"}}',
    b'{"env_vars": {"A": 1e400}}',
    b'{"env_vars": {"A": ' + b"1" * 5000 + b"}}",
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"\xff\xfe",
]
SPECS = [
    b"",
    b"[]",
    b"{",
    b'{"http": {"X": {"url": "http://["}}}',
    b'{"conda": {"channels": ["https://[]/"], "packages": []}}',
    b'{"x": ' + b"1" * 5000 + b"}",
    b"[" * 1000 + b"]" * 1000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"pip": ["./\\ud800"]}',
    b'{"pip": ["' + b"p" * 300 + b'"]}',
    b'{"pip": ["~nosuchuser/pkg"]}',
    b"\xff",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _numbers() -> st.SearchStrategy[int]:
    return st.sampled_from(NUMBERS) | st.integers(-(2**70), 2**70)


@st.composite
def mutate_entry(draw: st.DrawFn, entry: Entry) -> list[Entry]:
    """One member-level mutation of `entry`: the entries that replace it."""
    what = draw(
        st.sampled_from(
            [
                "name",
                "pax-path",
                "kind",
                "link",
                "size",
                "mode",
                "mtime",
                "pax",
                "raw-pax",
                "fields",
                "data",
                "duplicate",
                "delete",
                "gnu-long",
            ]
        )
    )
    names = st.sampled_from(HOSTILE_NAMES) | st.text(max_size=20)
    if what == "name":
        return [replace(entry, name=draw(names))]
    if what == "pax-path":
        raw = draw(names).encode("utf-8", "surrogateescape")
        return [replace(entry, pax={**entry.pax, "path": raw})]
    if what == "kind":
        return [replace(entry, kind=draw(st.sampled_from(KINDS)))]
    if what == "link":
        target = draw(st.sampled_from(HOSTILE_LINKS) | st.text(max_size=20))
        kind = draw(st.sampled_from([entry.kind, b"1", b"2"]))
        if draw(st.booleans()):
            raw = target.encode("utf-8", "surrogateescape")
            return [replace(entry, kind=kind, pax={**entry.pax, "linkpath": raw})]
        return [replace(entry, kind=kind, linkname=target)]
    if what == "size":
        return [replace(entry, size=draw(_numbers()))]
    if what == "mode":
        return [replace(entry, mode=draw(_numbers() | st.sampled_from([0o7777, 0o4755, 0])))]
    if what == "mtime":
        return [replace(entry, mtime=draw(_numbers()))]
    if what == "pax":
        key = draw(st.sampled_from(PAX_KEYS) | st.text(min_size=1, max_size=8))
        value = draw(st.sampled_from(PAX_VALUES) | st.binary(max_size=20))
        return [replace(entry, pax={**entry.pax, key: value})]
    if what == "raw-pax":
        raw = draw(st.sampled_from(RAW_PAX) | st.binary(max_size=40))
        return [Entry("PaxHeader", raw, kind=draw(st.sampled_from([b"x", b"g"]))), entry]
    if what == "fields":
        offset = draw(st.integers(0, BLOCK - 1))
        raw = draw(st.binary(min_size=1, max_size=12))
        return [replace(entry, fields={**entry.fields, offset: raw})]
    if what == "data":
        if entry.name == "conda-meta/state":
            data = draw(st.sampled_from(STATES))
        elif entry.name == "poncho/spec.json":
            data = draw(st.sampled_from(SPECS))
        else:
            data = draw(st.binary(max_size=64))
        if draw(st.booleans()) and entry.name.endswith((".json", "state")):
            data = json.dumps(draw(json_values)).encode()
        return [replace(entry, data=data)]
    if what == "duplicate":
        return [entry, replace(entry, kind=draw(st.sampled_from(KINDS)), linkname="..")]
    if what == "delete":
        return []
    long_name = draw(names).encode("utf-8", "surrogateescape") + b"\0"
    return [Entry("././@LongLink", long_name, kind=draw(st.sampled_from([b"L", b"K"]))), entry]


class Case:
    """An archive's bytes and how they were made (the repr a failure report shows: the bytes
    of a hostile archive can be megabytes)."""

    def __init__(self, packed: bytes, notes: list[str]) -> None:
        self.packed = packed
        self.notes = notes

    def __repr__(self) -> str:
        return f"Case(<{len(self.packed)} bytes>, {self.notes!r})"


@st.composite
def archives(draw: st.DrawFn) -> Case:
    """A valid environment mutated member by member, then as bytes, then compressed."""
    entries = base_env(conda_unpack=draw(st.booleans()), activate=draw(st.booleans()))
    notes = []
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(entries) - 1)) if entries else 0
        if not entries:
            break
        new = draw(mutate_entry(entries[index]))
        notes.append(f"{entries[index].name[:40]!r} -> {new!r:.200}")
        entries[index : index + 1] = new
    if draw(st.booleans()):
        entries = draw(st.permutations(entries))
        notes.append("shuffled")
    data = tar_bytes(entries, end=draw(st.sampled_from([True, True, True, False])))
    byte_level = draw(st.sampled_from(["none", "none", "truncate", "garbage", "flip"]))
    if byte_level == "truncate" and data:
        cut = draw(st.integers(0, len(data) - 1))
        data = data[: draw(st.sampled_from([cut, cut - cut % BLOCK]))]
    elif byte_level == "garbage":
        data += draw(st.binary(min_size=1, max_size=BLOCK * 2))
    elif byte_level == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    notes.append(f"bytes: {byte_level}")
    compression = draw(st.sampled_from(sorted(COMPRESSORS)))
    packed = COMPRESSORS[compression](data)
    if compression != "tar" and draw(st.integers(0, 5)) == 0:
        packed = packed[: draw(st.integers(0, len(packed)))]
        notes.append("compressed stream truncated")
    notes.append(f"compression: {compression}")
    return Case(packed, notes)


# -- checks ----------------------------------------------------------------------------------

FIGURES: collections.Counter[str] = collections.Counter()


class Executed(BaseException):
    """Raised instead of replacing the test process with the command (-d runs)."""


def fake_exec(argv: object, env: object) -> None:
    raise Executed


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` (links not followed) with, for files, its size and
    modification time (a folder's change with its entries)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(folder, name), root)] = (-1, 0)
        for name in files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            out[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return out


def check_target(target: Path, ok: bool) -> None:
    """DIR ready on success only; its links stay inside; no temporary sibling left."""
    assert [p for p in target.parent.iterdir() if TEMP_INFIX in p.name] == []
    if not ok:
        assert not os.path.lexists(target) or not any(target.iterdir())
        assert poncho_run.open_ready(target) is None
        return
    assert poncho_run.open_ready(target) is not None
    real = os.path.realpath(target)
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                resolved = os.path.realpath(path)
                assert resolved == real or resolved.startswith(real + os.sep), (path, resolved)


@contextmanager
def sandbox(base: Path) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(dir=base))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def one_error_line(err: str) -> str:
    """The error line of `err`: its last line, the only error; every line is the program's
    own (log lines too), so a message spread over several lines fails here."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and all(line.startswith(f"{PROG}: ") for line in lines), err
    errors = [line for line in lines if line.startswith(f"{PROG}: error: ")]
    assert errors == lines[-1:], err
    return errors[0]


def run_cli(
    archive: Path, target: Path | None, capsys: pytest.CaptureFixture[str]
) -> tuple[bool, str]:
    argv = ["-e", str(archive), "--no-data"]
    if target is not None:
        argv += ["-d", str(target)]
    try:
        status = cli.main([*argv, "--", "true"])
    except Executed:
        status = 0
    err = capsys.readouterr().err
    if status == 0:
        assert "Traceback" not in err and f"{PROG}: error:" not in err, err
        return True, "ok"
    assert status >= 1
    return False, category(one_error_line(err))


# Error lines by kind, for the figures (first match wins).
CATEGORIES = [
    ("corrupt or truncated", "corrupt or truncated archive"),
    ("not an environment archive", "not an archive"),
    ("unsafe archive member", "unsafe member"),
    ("index", "index refused (BadIndex)"),
    ("member ", "index refused (BadIndex)"),
    ("cannot extract", "file system refused a member"),
    ("conda-meta/state", "invalid conda-meta/state"),
    ("spec is not valid", "invalid poncho/spec.json"),
    ("conda-unpack", "conda-unpack failed"),
    ("cannot write the state file", "state file not writable (member .poncho-run)"),
    ("activation scripts", "activate.d script failed"),
]


def category(line: str) -> str:
    for text, name in CATEGORIES:
        if text in line:
            FIGURES[f"error: {name}"] += 1
            return name
    FIGURES[f"error (other): {line[:120]}"] += 1
    return "other"


def run_prepare(archive: Path, target: Path | None) -> tuple[bool, str]:
    try:
        prepared = poncho_run.prepare(archive, target)
    except poncho_run.PonchoError as exc:
        return False, type(exc).__name__
    if target is None:
        assert prepared.temporary
        prepared.cleanup()
    return True, "ok"


def fuzz_settings() -> Callable[[Any], Any]:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the whole world of the runs: TMPDIR, HOME and the working folder."""
    for name in ("tmp", "home", "work", "boxes"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr(api, "exec_command", fake_exec)
    return tmp_path


@fuzz_settings()
@given(case=archives())
def test_fuzzed_archives(world: Path, case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    accepted = check_archive(world, case.packed, case.notes, capsys)
    FIGURES["archives accepted" if accepted else "archives refused"] += 1


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_the_unmutated_environment_is_accepted(
    world: Path, compression: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fuzzer's starting point runs, the four ways (so its checks see successes too)."""
    data = tar_bytes(base_env(conda_unpack=True, activate=True))
    assert check_archive(world, COMPRESSORS[compression](data), ["unmutated"], capsys)


@pytest.mark.parametrize("case", sorted(STATE_FOLDER_MEMBERS))
def test_the_state_folder_shapes_are_refused_and_leave_no_dir(
    world: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 22's leftover: the fuzzer's environment with its own ``.poncho-run`` in a shape
    that would stop the state being published (``state.json`` as a folder, ...): refused the
    four ways, with DIR left absent or empty (the fuzz checks), never full and unready."""
    extra = [
        Entry(info.name, data or b"", kind=info.type, mode=info.mode, linkname=info.linkname)
        for info, data in STATE_FOLDER_MEMBERS[case].members
    ]
    data = tar_bytes([*base_env(conda_unpack=True, activate=True), *extra])
    assert not check_archive(world, COMPRESSORS["gz"](data), [case], capsys)


# -- indexed tarballs (poncho-core's layout: members, an index, a footer) ---------------------


def indexed_env() -> tuple[bytes, bytes]:
    """The fuzzer's environment as an indexed tarball in three members, and its index."""
    members = [
        member(e.name, e.data, kind=e.kind, linkname=e.linkname, mode=e.mode)
        for e in base_env(conda_unpack=True, activate=True)
    ]
    documents: list[bytes] = []

    def keep(index: Any) -> Any:
        documents.append(index.to_json())
        return index

    with tempfile.TemporaryDirectory() as temp:
        path = make_indexed_tar(
            Path(temp, "env.tar.gz"), [members[:4], members[4:8], members[8:]], edit=keep
        )
        return path.read_bytes(), documents[0]


@st.composite
def indexed_archives(draw: st.DrawFn) -> Case:
    """The indexed environment damaged as bytes (flips, more of them in the index member and
    the footer; truncation; garbage), or with a damaged index document that still
    decompresses (then written by the test)."""
    data, document = indexed_env()
    rnd = draw(st.randoms(use_true_random=True))  # positions spread over the whole file
    if draw(st.booleans()):
        raw = bytearray(document)
        for _ in range(draw(st.integers(1, 3))):
            at = rnd.randrange(len(raw))
            raw[at] = draw(st.sampled_from(b'0123456789"{}[],:aefilnrstu \\'))
        return Case(bytes(raw), ["index document"])
    raw = bytearray(data)
    what = draw(st.sampled_from(["flip", "flip end", "truncate", "garbage"]))
    if what == "truncate":
        return Case(bytes(raw[: draw(st.integers(0, len(raw) - 1))]), [what])
    if what == "garbage":
        return Case(bytes(raw) + draw(st.binary(min_size=1, max_size=200)), [what])
    start = max(len(raw) - 500, 0) if what == "flip end" else 0
    for _ in range(draw(st.integers(1, 3))):
        at = rnd.randrange(start, len(raw))
        raw[at] ^= draw(st.integers(1, 255))
    return Case(bytes(raw), [what])


@fuzz_settings()
@given(case=indexed_archives())
def test_fuzzed_indexed_archives(
    world: Path, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    if case.notes == ["index document"]:
        members = [
            member(e.name, e.data, kind=e.kind, linkname=e.linkname, mode=e.mode)
            for e in base_env(conda_unpack=True, activate=True)
        ]
        with tempfile.TemporaryDirectory() as temp:
            path = make_indexed_tar(
                Path(temp, "env.tar.gz"),
                [members[:4], members[4:8], members[8:]],
                edit=lambda index: case.packed,
            )
            packed = path.read_bytes()
    else:
        packed = case.packed
    accepted = check_archive(world, packed, case.notes, capsys)
    FIGURES["indexed archives accepted" if accepted else "indexed archives refused"] += 1


def test_the_unmutated_indexed_environment_is_accepted(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_archive(world, indexed_env()[0], ["unmutated, indexed"], capsys)


def check_archive(
    world: Path, packed: bytes, notes: list[str], capsys: pytest.CaptureFixture[str]
) -> bool:
    """Run the archive `packed` the four ways, check every run; return whether it ran."""
    with sandbox(world / "boxes") as box:
        archive = box / "env.tar.x"
        archive.write_bytes(packed)
        FIGURES["archives"] += 1
        outcomes: dict[bool, set[bool]] = {False: set(), True: set()}  # by: with a DIR
        refusals: set[str] = set()  # the DIR ways' error kinds
        runs: list[tuple[str, Callable[[Path | None], tuple[bool, str]], bool]] = [
            ("cli", lambda t: run_cli(archive, t, capsys), False),
            ("cli -d", lambda t: run_cli(archive, t, capsys), True),
            ("prepare", lambda t: run_prepare(archive, t), False),
            ("prepare unpack_to", lambda t: run_prepare(archive, t), True),
        ]
        for index, (name, run, with_dir) in enumerate(runs):
            target = box / f"dir{index}" / "envA" if with_dir else None
            before = snapshot(world)
            ok, outcome = run(target)
            FIGURES["runs"] += 1
            FIGURES[f"outcome ({name}): {outcome}"] += 1
            outcomes[with_dir].add(ok)
            if with_dir and not ok:
                refusals.add(outcome)
            after = snapshot(world)
            changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
            if target is not None:
                inside = os.path.relpath(target, world)
                lock = f"{inside}.poncho.lock"
                # The node store beside DIR holds DIR's files once it is ready (none if not).
                store = os.path.join(os.path.dirname(inside), f".poncho-store-{os.getuid()}")
                changed = {
                    p
                    for p in changed
                    if p not in (lock, os.path.dirname(inside))
                    and not (p == inside or p.startswith(inside + os.sep))
                    and not (ok and (p == store or p.startswith(store + os.sep)))
                }
                check_target(target, ok)
            assert changed == set(), (name, sorted(changed)[:10], notes)
            assert list((world / "tmp").iterdir()) == [], (name, notes)
        # The two ways of each kind agree. A temporary folder has no node store, so the
        # index is never read there (the stream is extracted, checked as any tar is); a DIR
        # reads it: they differ only on an index that lies, which a DIR refuses as such.
        assert len(outcomes[False]) == len(outcomes[True]) == 1, notes
        if outcomes[False] != outcomes[True]:
            assert outcomes == {False: {True}, True: {False}}, notes
            assert refusals == {"index refused (BadIndex)", "BadIndex"}, (refusals, notes)
        return outcomes[False] == outcomes[True] == {True}


def test_zz_fuzz_figures() -> None:
    """Write the figures of this session (PONCHO_FUZZ_REPORT) and check the fuzzer ran."""
    if not FIGURES:
        pytest.skip("the fuzz test did not run in this session")
    assert FIGURES["archives"] >= EXAMPLES
    assert FIGURES["archives refused"] > 0
    if LONG:
        assert FIGURES["archives accepted"] > 0
    report = os.environ.get("PONCHO_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(sorted(FIGURES.items())), indent=1) + "\n")
