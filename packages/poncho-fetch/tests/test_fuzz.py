"""Fuzzing poncho_fetch (issue 13): specs whose git and http sections are valid, mutated key
by key, or arbitrary JSON, fetched from a misbehaving server on 127.0.0.1 (500s, resets,
truncated bodies, stalls after the headers, 1 byte at a time, bombs, hostile tars) and a
real git repository.

For every run: exit status 0 or 1, stderr only ``poncho_fetch: error|warning|WARNING:``
lines (each error names the spec file, an entry, or the cache folder), nothing written
outside the cache folder, no leftovers in the cache's ``tmp/``, and an end within a bound.
The short profile runs with the normal suite; ``nox -s fuzz`` runs the long one
(``PONCHO_FUZZ=long``) and appends counts to ``$PONCHO_FUZZ_REPORT``.
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poncho_fetch.cli import main
from poncho_testing import GitRepo, ServedDirectory, make_git_repo, serve_directory

OUTCOMES: Counter[str] = Counter()
SLOWEST: list[float] = [0.0]
BOUND = 30.0  # seconds: every run here has a 1.5 s deadline per entry
ARGS = ["--deadline", "1.5", "--timeout", "0.5", "--max-size", "4M", "--min-rate", "0"]
ESCAPE = "poncho-fuzz-escaped"

LONG = os.environ.get("PONCHO_FUZZ") == "long"
FUZZ = settings(
    max_examples=500 if LONG else 25,
    derandomize=not LONG,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _tar(
    members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.PAX_FORMAT
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", **pax: str
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.pax_headers = kind, link, pax
    return info


def _files(outside: Path) -> dict[str, bytes]:
    zeros = b"\0" * (16 << 20)
    escape = f"../../../../../../../../../../{outside.relative_to('/')}/{ESCAPE}"
    return {
        "ok.bin": os.urandom(10_000),
        "data.txt.gz": gzip.compress(b"line\n" * 200),
        "bomb.gz": gzip.compress(zeros),
        "bomb.bz2": bz2.compress(zeros),
        "bomb.xz": lzma.compress(zeros),
        "good.tar.gz": gzip.compress(
            _tar([(_member("top/a.txt"), b"a"), (_member("top/b"), b"b")])
        ),
        "big.tar.gz": gzip.compress(_tar([(_member("zeros"), zeros)])),
        "nan.tar": _tar([(_member("f", mtime="nan"), b"x"), (_member("g", mtime="1e400"), b"y")]),
        "evil.tar": _tar([(_member(escape), b"x")]),
        "abs.tar": _tar([(_member(f"/{outside.relative_to('/')}/{ESCAPE}"), b"x")]),
        "link.tar": _tar(
            [
                (_member("out", tarfile.SYMTYPE, str(outside)), None),
                (_member(f"out/{ESCAPE}"), b"x"),
            ]
        ),
        "hard.tar": _tar([(_member("h", tarfile.LNKTYPE, f"../../{ESCAPE}"), None)]),
        "deep.tar": _tar([(_member("d/" * 300 + "f"), b"x")]),
        "dev.tar": _tar([(_member("null", tarfile.CHRTYPE), None)]),
        "garbage.tar.gz": b"\x1f\x8b" + os.urandom(2000),
        "empty": b"",
    }


class World:
    """What the fuzzer aims at: the server, its files, a git repository, a folder that
    nothing may write into."""

    def __init__(self, server: ServedDirectory, repo: GitRepo, outside: Path) -> None:
        self.server = server
        self.repo = repo
        self.outside = outside
        self.files = _files(outside)
        for name, data in self.files.items():
            server.add(name, data)
        server.trickle_interval = 0.05


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    outside = tmp_path_factory.mktemp("outside")
    repo = make_git_repo(tmp_path_factory.mktemp("git") / "repo", {"data.txt": "v1\n"})
    with serve_directory(tmp_path_factory.mktemp("served")) as server:
        yield World(server, repo, outside)
    report = os.environ.get("PONCHO_FUZZ_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"suite": "poncho_fetch", "slowest_s": SLOWEST[0], **OUTCOMES}))
            out.write("\n")


FAULTS = ["500", "503", "reset", "close", "truncate", "stall", "trickle", "hold"]
HOSTILE: list[Any] = [
    None, 0, "", " ", "\x00", "http://[", "https://[]/", "http://127.0.0.1:0/x", "ftp://x/y",
    "http://127.0.0.1:1/refused", "http://a b/", "http://x.org/a\tb", "x" * 300, "\ud800",
    "file:///etc/passwd", "--upload-pack=touch /tmp/x", "ext::sh -c id", "../..", "HEAD",
    "0" * 40, "f" * 64, "tar", "file", "zip", "gzip", "xz", "bzip2", [], {}, [[[]]],
    "LD_PRELOAD", "PATH", "GIT_SSH_COMMAND", "1X", "ok",
]  # fmt: skip


@st.composite
def fetch_specs(draw: st.DrawFn, world: World) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A spec with http and git entries aimed at `world`, maybe mutated; and the faults to
    queue on the server per path."""
    names = [*world.files, "missing", "d" * 300]
    variables = st.from_regex(r"[A-Z][A-Z0-9_]{0,4}", fullmatch=True).filter(
        lambda v: not v.startswith(("LD_", "PYTHON", "GIT_")) and v not in ("PATH", "PWD")
    )
    http: dict[str, Any] = {}
    faults: dict[str, list[str]] = {}
    for var in draw(st.lists(variables, max_size=3, unique=True)):
        name = draw(st.sampled_from(names))
        entry: dict[str, Any] = {"url": world.server.url_for(name)}
        if draw(st.booleans()):
            entry["type"] = draw(st.sampled_from(["file", "tar"]))
        if draw(st.booleans()):
            entry["compression"] = draw(st.sampled_from(["gzip", "bzip2", "xz", None]))
        if draw(st.booleans()) and name in world.files:
            good = hashlib.sha256(world.files[name]).hexdigest()
            entry["sha256"] = draw(st.sampled_from([good, "0" * 64, good.upper()]))
        http[var] = entry
        faults[name] = draw(st.lists(st.sampled_from(FAULTS), max_size=2))
    git: dict[str, Any] = {}
    for var in draw(st.lists(variables, max_size=2, unique=True)):
        if var in http:
            continue
        remote = draw(
            st.sampled_from(
                [world.repo.url, str(world.repo.path), world.server.url_for("repo.git")]
            )
        )
        ref = draw(
            st.sampled_from(
                [world.repo.head, world.repo.commits[0], "main", "v1", "dev", "nope", "abc1234"]
            )
        )
        git[var] = {"remote": remote, "ref": ref}
        if remote.startswith("http"):
            faults["repo.git/info/refs?service=git-upload-pack"] = ["stall"]
    doc: dict[str, Any] = {}
    if http:
        doc["http"] = http
    if git:
        doc["git"] = git
    for _ in range(draw(st.integers(0, 2))):  # mutate key by key
        section = draw(st.sampled_from(["http", "git", "top"]))
        value = copy.deepcopy(draw(st.sampled_from(HOSTILE)))  # shared: never mutate them
        if section == "top" or not doc.get(section):
            doc[draw(st.sampled_from(["http", "git", "conda", "pip", "x"]))] = value
            continue
        if not isinstance(doc[section], dict):
            continue
        var = draw(st.sampled_from(sorted(doc[section])))
        if draw(st.booleans()) and isinstance(doc[section][var], dict):
            key = draw(st.sampled_from(["url", "type", "compression", "sha256", "remote", "ref"]))
            doc[section][var][key] = value
        elif isinstance(value, str) and value:
            doc[section][value] = doc[section].pop(var)
        else:
            doc[section][var] = value
    return doc, faults


def _std_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    """Streams that fail like the real ones: stdout strict UTF-8, stderr backslashreplace."""
    return (
        io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict"),
        io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace"),
    )


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


def _check_run(world: World, doc: Any, faults: dict[str, list[str]], text: str | None) -> None:
    world.server.clear()
    for path, modes in faults.items():
        world.server.fail(path, *modes)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.json"
        spec.write_bytes(
            (text if text is not None else json.dumps(doc)).encode("utf-8", "surrogatepass")
        )
        cache = Path(folder) / "cache"
        out, err = _std_streams()
        started = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([*ARGS, "--cache-dir", str(cache), str(spec)])
        elapsed = time.monotonic() - started
        world.server.clear()
        SLOWEST[0] = max(SLOWEST[0], elapsed)
        assert elapsed < BOUND, f"took {elapsed:.1f} s"
        stdout, stderr = _text(out), _text(err)
        lines = stderr.splitlines()
        allowed = ("poncho_fetch: error: ", "poncho_fetch: warning: ", "poncho_fetch: WARNING: ")
        assert all(line.startswith(allowed) for line in lines), stderr  # no traceback
        errors = [line[len(allowed[0]) :] for line in lines if line.startswith(allowed[0])]
        # Nothing outside the cache folder; nothing escaped from an archive.
        assert sorted(p.name for p in Path(folder).iterdir()) in (
            ["cache", "spec.json"],
            ["spec.json"],
        )
        assert not list(world.outside.iterdir())
        assert not list(Path(folder, "cache", "tmp").glob("*"))  # no leftovers
        for entry in Path(folder, "cache", "entries").glob("*"):
            assert (entry / "meta.json").is_file()  # only complete entries
        if status == 1:
            OUTCOMES["error"] += 1
            assert errors and stdout == ""
            for line in errors:
                assert line.startswith(
                    (f"{spec}: ", "git.", "http.", "cannot use the data cache")
                ), line
            return
        assert status == 0 and not errors, stderr
        OUTCOMES["ok"] += 1
        got = dict(line.split("=", 1) for line in stdout.splitlines())
        assert set(got) == set(doc.get("http", {})) | set(doc.get("git", {}))
        assert all(path.startswith(str(cache)) and os.path.exists(path) for path in got.values())


@FUZZ
@given(data=st.data())
def test_specs_through_poncho_fetch(world: World, data: st.DataObject) -> None:
    doc, faults = data.draw(fetch_specs(world))
    _check_run(world, doc, faults, None)


TEXTS = st.one_of(
    st.sampled_from(
        ["", "{", "[]", "null", "1" * 5000, "[" * 100_000, '{"http": NaN}',
         '{"git": {"\\ud800": 1}}',
         '{"http": {"X": {"url": "http://127.0.0.1:1/\\ud800"}}}', '{"a": 1, "a": 2}']
    ),
    st.text(max_size=40),
)  # fmt: skip


@FUZZ
@given(text=TEXTS)
def test_arbitrary_text_through_poncho_fetch(world: World, text: str) -> None:
    _check_run(world, None, {}, text)
