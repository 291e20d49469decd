from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import (
    ChecksumMismatch,
    DataCache,
    DownloadError,
    FetchError,
    FetchFailed,
    GitNotFound,
    LimitExceeded,
    LockTimeout,
    RetryPolicy,
    UnsafeArchive,
    default_cache_dir,
    parse_size,
)
from poncho_fetch._sources import plan
from poncho_fetch.settings import max_size_from_env

DATA = os.urandom(256 * 1024)
DIGEST = hashlib.sha256(DATA).hexdigest()

# A task process: fetches the spec given, reports what it sees, optionally keeps it in use.
CHILD = r"""
import hashlib, json, sys
from poncho_spec import load_spec
from poncho_fetch import DataCache, RetryPolicy
spec = load_spec(sys.argv[1])
cache = DataCache(sys.argv[2], policy=RetryPolicy(retries=3, backoff=0.01, timeout=30))
print("ready", flush=True)
if sys.argv[3] == "barrier":
    sys.stdin.readline()
lease = cache.acquire(spec)
digests = {var: hashlib.sha256(open(path, "rb").read()).hexdigest()
           for var, path in lease.env.items()}
print(json.dumps({"env": lease.env, "sha256": digests}), flush=True)
if sys.argv[3] == "hold":
    sys.stdin.read()
lease.release()
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``child(spec, cache_dir, mode)`` starts a real task process ("barrier": waits for a
    line on stdin before fetching; "hold": keeps the lease until stdin closes)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    procs: list[subprocess.Popen[str]] = []

    def start(spec: Any, cache_dir: Path, mode: str = "") -> subprocess.Popen[str]:
        spec_file = tmp_path / f"spec-{len(procs)}.json"
        spec_file.write_text(json.dumps(spec.to_dict()))
        proc = subprocess.Popen(
            [sys.executable, str(script), str(spec_file), str(cache_dir), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "the child process died"
    return dict(json.loads(line))


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _blocked_on(path: Path) -> int:
    """How many processes wait for a flock on `path` (Linux /proc/locks)."""
    inode = path.stat().st_ino
    text = Path("/proc/locks").read_text()
    return sum(
        1 for line in text.splitlines() if "->" in line and line.split()[6].endswith(f":{inode}")
    )


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _used(cache: DataCache, path: str) -> Path:
    return cache.root / "entries" / Path(path).relative_to(cache.root / "entries").parts[0]


# -- filling and reusing ---------------------------------------------------------------


def test_file_tar_and_git_entries(
    server: Any, git_remote: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    tarball = _tar_gz({"top/a.txt": b"alpha", "top/b/c.txt": b"gamma"})
    spec = make_spec(
        http={
            "FILE": {"url": server.add("d/x.bin?v=1", DATA), "sha256": DIGEST},
            "TAR": {
                "url": server.add("t.tar.gz", tarball),
                "type": "tar",
                "compression": "gzip",
                "sha256": hashlib.sha256(tarball).hexdigest(),
            },
            "GZ": {
                "url": server.add("notes.txt.gz", gzip.compress(b"notes")),
                "compression": "gzip",
            },
        },
        git={"REPO": {"remote": git_remote.url, "ref": git_remote.commits[0]}},
    )
    cache = DataCache(tmp_path / "c", policy=policy)
    with cache.using(spec) as env:
        assert set(env) == {"FILE", "TAR", "GZ", "REPO"}
        assert all(os.path.isabs(p) and p.startswith(str(cache.root)) for p in env.values())
        assert Path(env["FILE"]).name == "x.bin" and Path(env["FILE"]).read_bytes() == DATA
        # A tar with one top-level folder: the variable points at the folder holding it.
        assert (Path(env["TAR"]) / "top" / "b" / "c.txt").read_bytes() == b"gamma"
        assert Path(env["GZ"]).name == "notes.txt"
        assert Path(env["GZ"]).read_bytes() == b"notes"
        assert (Path(env["REPO"]) / "data.txt").read_text() == "v1\n"
    assert not list((cache.root / "tmp").iterdir())
    # Second use: straight from the cache.
    with DataCache(tmp_path / "c", policy=policy).using(spec) as again:
        assert again == env
    assert server.hits("d/x.bin?v=1") == server.hits("t.tar.gz") == 1


def test_git_branch_is_keyed_by_its_commit(git_remote: Any, tmp_path: Path, make_spec: Any) -> None:
    cache = DataCache(tmp_path / "c")
    with cache.using(make_spec(git={"R": {"remote": git_remote.url, "ref": "main"}})) as a:
        pass
    with cache.using(
        make_spec(git={"R": {"remote": git_remote.url, "ref": git_remote.commits[-1]}})
    ) as b:
        pass
    with cache.using(make_spec(git={"R": {"remote": git_remote.url, "ref": "v1"}})) as c:
        pass
    assert a == b != c
    assert len(cache.entries()) == 2
    meta = {e.meta["source"]["commit"] for e in cache.entries()}
    assert meta == {git_remote.commits[-1], git_remote.commits[0]}


def test_a_relative_remote_means_the_spec_folder_never_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26 item 6 (seam 8): resolved against the spec file's folder, keyed by the
    resolved path (two folders, two entries); a spec without a folder is refused."""
    from poncho_spec import Spec, load_spec
    from poncho_testing import make_git_repo

    specs = []
    for top in ("a", "b"):
        make_git_repo(tmp_path / top / "data" / "repo", {"data.txt": f"{top}\n"})
        path = tmp_path / top / "specs" / "spec.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"git": {"R": {"remote": "../data/repo", "ref": "main"}}}))
        specs.append(load_spec(path))
    monkeypatch.chdir(tmp_path / "b" / "specs")  # the cwd would name b's repository
    cache = DataCache(tmp_path / "c")
    with cache.using(specs[0]) as a, cache.using(specs[1]) as b:
        assert (Path(a["R"]) / "data.txt").read_text() == "a\n"
        assert (Path(b["R"]) / "data.txt").read_text() == "b\n"
    remotes = {e.meta["source"]["remote"] for e in cache.entries()}
    assert remotes == {str(tmp_path / "a" / "data" / "repo"), str(tmp_path / "b" / "data" / "repo")}
    nowhere = Spec.from_dict({"git": {"R": {"remote": "../data/repo", "ref": "main"}}})
    refused = pytest.raises(FetchError, match="relative path, and this spec has no folder")
    with refused, cache.using(nowhere):
        pass


def test_missing_git_is_reported_before_any_download(
    server: Any, tmp_path: Path, make_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(
        http={"F": {"url": server.add("x.bin", DATA)}},
        git={"R": {"remote": "https://example.invalid/r.git", "ref": "a" * 40}},
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitNotFound):
        DataCache(tmp_path / "c").acquire(spec)
    assert server.hits("x.bin") == 0


def test_checksum_mismatch_publishes_nothing(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    spec = make_spec(http={"F": {"url": server.add("x.bin", DATA), "sha256": "0" * 64}})
    cache = DataCache(tmp_path / "c", policy=policy)
    with pytest.raises(ChecksumMismatch, match=r"^http\.F: sha256 mismatch for http://"):
        cache.acquire(spec)
    assert cache.entries() == []
    assert not list((cache.root / "entries").iterdir())
    assert not list((cache.root / "tmp").iterdir())


def test_dropped_download_is_retried_and_never_published_partial(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    url = server.add("x.bin", DATA)
    cache = DataCache(tmp_path / "c", policy=policy)
    server.fail("x.bin", *["truncate"] * 4)
    with pytest.raises(DownloadError):
        cache.acquire(make_spec(http={"F": {"url": url}}))
    assert server.hits("x.bin") == 4
    assert not list((cache.root / "entries").iterdir())
    server.fail("x.bin", "truncate")
    with cache.using(make_spec(http={"F": {"url": url}})) as env:
        assert Path(env["F"]).read_bytes() == DATA
    assert server.hits("x.bin") == 6


def test_bad_tar_publishes_nothing(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    url = server.add("evil.tar.gz", _tar_gz({"../evil.txt": b"x"}))
    cache = DataCache(tmp_path / "c", policy=policy)
    with pytest.raises(UnsafeArchive, match=r"^http\.T: evil\.tar\.gz: .*'\.\.'"):
        cache.acquire(make_spec(http={"T": {"url": url, "type": "tar"}}))
    assert not list((cache.root / "entries").iterdir())
    assert not (tmp_path / "evil.txt").exists()


def test_fill_killed_half_way_is_never_seen_and_is_cleaned_up(
    server: Any, tmp_path: Path, make_spec: Any, child: Any, policy: RetryPolicy
) -> None:
    spec = make_spec(http={"F": {"url": server.add("x.bin", DATA)}})
    cache = DataCache(tmp_path / "c", policy=policy)
    server.fail("x.bin", "hold")  # half the body, then the server waits
    proc = child(spec, cache.root)
    _wait_until(lambda: server.hits("x.bin") == 1, "the download to start")
    _wait_until(lambda: any((cache.root / "tmp").glob("*/data/x.bin")), "the partial file")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server.release()
    assert cache.entries() == []
    assert not list((cache.root / "entries").iterdir())
    assert len(list((cache.root / "tmp").iterdir())) == 1  # the leftover
    with cache.using(spec) as env:
        assert Path(env["F"]).read_bytes() == DATA
    assert not list((cache.root / "tmp").iterdir())
    assert server.hits("x.bin") == 2


def test_concurrent_tasks_download_once(
    server: Any, tmp_path: Path, make_spec: Any, child: Any
) -> None:
    spec = make_spec(http={"F": {"url": server.add("x.bin", DATA)}})
    root = tmp_path / "c"
    server.fail("x.bin", "hold")
    procs = [child(spec, root, "barrier") for _ in range(4)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    _wait_until(lambda: server.hits("x.bin") == 1, "the first download")
    fill_lock = next((root / "locks").glob("*.fill"))
    if Path("/proc/locks").exists():  # let the others queue up behind the downloader
        _wait_until(lambda: _blocked_on(fill_lock) == 3, "3 processes waiting")
    server.release()
    reports = [_report(proc) for proc in procs]
    assert server.hits("x.bin") == 1
    assert {r["sha256"]["F"] for r in reports} == {DIGEST}
    assert len({r["env"]["F"] for r in reports}) == 1


# -- eviction --------------------------------------------------------------------------


def _fill_three(server: Any, cache: DataCache, make_spec: Any) -> dict[str, Any]:
    specs = {}
    for name in "abc":
        specs[name] = make_spec(http={"F": {"url": server.add(f"{name}.bin", DATA)}})
        with cache.using(specs[name]):
            pass
    return specs


def _key_of(cache: DataCache, spec: Any) -> str:
    with cache.using(spec) as env:
        return Path(env["F"]).relative_to(cache.root / "entries").parts[0]


def _set_last_use(cache: DataCache, key: str, when: float) -> None:
    os.utime(cache.root / "entries" / key / ".used", (when, when))


def test_eviction_is_least_recently_used_first(server: Any, tmp_path: Path, make_spec: Any) -> None:
    cache = DataCache(tmp_path / "c")
    specs = _fill_three(server, cache, make_spec)
    keys = {name: _key_of(cache, spec) for name, spec in specs.items()}
    for when, name in enumerate("bca"):  # b least recently used, then c, then a
        _set_last_use(cache, keys[name], 1000 + when)
    assert [e.key for e in cache.entries()] == [keys["b"], keys["c"], keys["a"]]
    size = cache.entries()[0].size
    assert cache.size() == 3 * size
    assert cache.evict(max_bytes=2 * size) == [keys["b"]]
    assert cache.evict(max_bytes=2 * size) == []
    # Using c makes it the most recent: a goes next.
    with cache.using(specs["c"]):
        pass
    assert cache.evict(max_bytes=size) == [keys["a"]]
    assert [e.key for e in cache.entries()] == [keys["c"]]
    # Without a limit, evict() does nothing; clear() removes everything not in use.
    assert cache.evict() == []
    assert cache.clear() == [keys["c"]]
    assert cache.entries() == []


def test_entry_in_use_by_a_running_task_survives_eviction(
    server: Any, tmp_path: Path, make_spec: Any, child: Any
) -> None:
    cache = DataCache(tmp_path / "c")
    specs = _fill_three(server, cache, make_spec)
    keys = {name: _key_of(cache, spec) for name, spec in specs.items()}
    _set_last_use(cache, keys["a"], 1000)  # the oldest: first to go, were it not in use
    holder = child(specs["a"], cache.root, "hold")
    held = _report(holder)["env"]["F"]
    assert [cache.busy(keys[n]) for n in "abc"] == [True, False, False]
    assert not cache.busy("no-such-key")
    assert sorted(cache.clear()) == sorted([keys["b"], keys["c"]])
    assert Path(held).read_bytes() == DATA
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait() == 0
    assert cache.clear() == [keys["a"]]


def test_limit_evicts_after_a_fill_but_not_what_the_task_uses(
    server: Any, tmp_path: Path, make_spec: Any
) -> None:
    # Room for one entry (the data, its folders and meta.json), not for two.
    cache = DataCache(tmp_path / "c", max_bytes=len(DATA) + 32 * 1024)
    a = make_spec(http={"F": {"url": server.add("a.bin", DATA)}})
    b = make_spec(http={"F": {"url": server.add("b.bin", DATA)}})
    with cache.using(a) as env_a:
        assert Path(env_a["F"]).read_bytes() == DATA
    with cache.using(b) as env_b:  # over the limit with both: a, not in use, goes
        assert Path(env_b["F"]).read_bytes() == DATA
        assert not Path(env_a["F"]).exists()


@pytest.mark.parametrize("inheritable", [True, False])
def test_inheritable_locks_protect_an_execed_task(
    server: Any, tmp_path: Path, make_spec: Any, inheritable: bool
) -> None:
    cache = DataCache(tmp_path / "c")
    spec = make_spec(http={"F": {"url": server.add("a.bin", DATA)}})
    lease = cache.acquire(spec, inheritable=inheritable)
    assert len(lease.lock_fds) == 1
    # close_fds=False: the task gets exactly the descriptors an exec would keep.
    task = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('started', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=False,
    )
    try:
        # Until its exec is complete, a child holds copies of every descriptor.
        assert task.stdout is not None and task.stdout.readline() == b"started\n"
        lease.release()
        assert lease.lock_fds == ()
        removed = cache.clear()
        assert (removed == []) is inheritable
    finally:
        task.communicate()
    assert len(cache.clear()) == (1 if inheritable else 0)


def test_leftovers_of_dead_processes_are_removed_by_eviction(tmp_path: Path) -> None:
    cache = DataCache(tmp_path / "c", max_bytes=10)
    leftover = cache.root / "tmp" / "0123abcd.xyz" / "data"
    leftover.mkdir(parents=True)
    (leftover / "part").write_bytes(b"x")
    leftover.chmod(0o500)  # read-only folders do not stop the cleanup
    assert cache.evict() == []
    assert not list((cache.root / "tmp").iterdir())


# -- configuration ---------------------------------------------------------------------


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PONCHO_FETCH_CACHE", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    assert DataCache().root == tmp_path / "explicit"
    monkeypatch.delenv("PONCHO_FETCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "poncho" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "poncho" / "data"


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("10G", 10 << 30), ("512m", 512 << 20), ("1.5KiB", 1536), ("2TB", 2 << 40)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "10X", "-1", "1.2.3G"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


def test_max_size_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PONCHO_FETCH_MAX_SIZE", raising=False)
    assert max_size_from_env() is None
    monkeypatch.setenv("PONCHO_FETCH_MAX_SIZE", "3M")
    assert DataCache(tmp_path).max_bytes == 3 << 20
    assert DataCache(tmp_path, max_bytes=5).max_bytes == 5
    monkeypatch.setenv("PONCHO_FETCH_MAX_SIZE", "lots")
    with pytest.raises(FetchError, match=r"\$PONCHO_FETCH_MAX_SIZE: invalid size 'lots'"):
        DataCache(tmp_path)


# -- damage and contention -------------------------------------------------------------


def test_damaged_entries_are_refilled(
    server: Any, tmp_path: Path, make_spec: Any, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(http={"F": {"url": server.add("x.bin", DATA)}})
    cache = DataCache(tmp_path / "c")
    with cache.using(spec) as env:
        entry = _used(cache, env["F"])
    for damage in ("not json", '{"path": "../../etc"}', None):
        if damage is None:
            (entry / "meta.json").unlink()
        else:
            (entry / "meta.json").write_text(damage)
        assert cache.entries() == []
        with cache.using(spec) as again:
            assert Path(again["F"]).read_bytes() == DATA
    assert server.hits("x.bin") == 4
    assert "replacing damaged cache entry" in caplog.text
    # A lost last-use stamp is recreated.
    (entry / ".used").unlink()
    with cache.using(spec):
        assert (entry / ".used").exists()


def test_a_failed_acquire_releases_what_it_held(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    spec = make_spec(
        http={
            "GOOD": {"url": server.add("a.bin", DATA)},
            "BAD": {"url": server.add("b.bin", DATA), "sha256": "f" * 64},
        }
    )
    cache = DataCache(tmp_path / "c", policy=policy)
    with pytest.raises(ChecksumMismatch):
        cache.acquire(spec)
    assert len(cache.clear()) == 1  # GOOD was filled, and is no longer held


def test_one_evicting_process_at_a_time(server: Any, tmp_path: Path, make_spec: Any) -> None:
    cache = DataCache(tmp_path / "c")
    with cache.using(make_spec(http={"F": {"url": server.add("a.bin", DATA)}})):
        pass
    with open(cache.root / "locks" / "evict.lock", "ab") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        assert cache.clear() == []
    assert len(cache.clear()) == 1


# -- hostile input (issue 13) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "why"),
    [
        ("root-is-a-file", "Not a directory (a file is where a folder should be)"),
        ("under-a-file", "Not a directory (a file is where a folder should be)"),
        ("long-name", "File name too long"),
        ("entries-is-a-file", "File exists (a file is where a folder should be)"),
    ],
)
def test_an_unusable_cache_folder_is_one_error(
    tmp_path: Path, make_spec: Any, server: Any, layout: str, why: str
) -> None:
    # Issue 13 item 18: NotADirectoryError, OSError or FileExistsError tracebacks.
    root = {
        "root-is-a-file": tmp_path / "c",
        "under-a-file": tmp_path / "c" / "sub",
        "long-name": tmp_path / ("x" * 300) / "c",
        "entries-is-a-file": tmp_path / "c",
    }[layout]
    if layout != "long-name":
        (tmp_path / "c").parent.mkdir(exist_ok=True)
        if layout == "entries-is-a-file":
            root.mkdir()
            (root / "entries").write_text("")
        else:
            (tmp_path / "c").write_text("")
    spec = make_spec(http={"F": {"url": server.add("a.bin", DATA)}})
    with pytest.raises(FetchError) as info:
        DataCache(root).acquire(spec)
    message = str(info.value)
    assert message.startswith(f"cannot use the data cache folder {root}: ")
    assert why in message and message.endswith("(give another --cache-dir or $PONCHO_FETCH_CACHE)")
    assert server.hits("a.bin") == 0  # found before any download


def test_max_size_is_a_hard_limit_per_entry_and_nothing_is_kept(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    # Issue 13 item 21: with --max-size the data was written and kept, with a warning.
    tarball = _tar_gz({"zeros": b"\0" * (4 << 20)})
    spec = make_spec(http={"T": {"url": server.add("z.tar.gz", tarball), "type": "tar"}})
    cache = DataCache(tmp_path / "c", max_bytes=1 << 20, policy=policy)
    with pytest.raises(LimitExceeded) as info:
        cache.acquire(spec)
    assert str(info.value).startswith("http.T: z.tar.gz: member 'zeros': total unpacked ")
    assert "limit of 1,048,576 bytes (the data cache's limit for one entry)" in str(info.value)
    assert not list((cache.root / "entries").iterdir())
    assert not list((cache.root / "tmp").iterdir())


def test_a_git_checkout_over_max_size_is_not_kept(
    git_remote: Any, tmp_path: Path, make_spec: Any
) -> None:
    cache = DataCache(tmp_path / "c", max_bytes=1000)
    spec = make_spec(git={"R": {"remote": git_remote.url, "ref": git_remote.head}})
    with pytest.raises(LimitExceeded, match=r"^git\.R: \d+ bytes, over the 1000 byte limit"):
        cache.acquire(spec)
    assert not list((cache.root / "entries").iterdir())
    assert not list((cache.root / "tmp").iterdir())


def test_every_entry_is_tried_and_every_failure_reported(
    server: Any, git_remote: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    spec = make_spec(
        git={"G": {"remote": git_remote.url, "ref": "no-such-branch"}},
        http={
            "A": {"url": server.add("a.bin", DATA), "sha256": "f" * 64},
            "GOOD": {"url": server.add("good.bin", DATA)},
            "B": {"url": server.url_for("missing.bin")},
        },
    )
    cache = DataCache(tmp_path / "c", policy=policy)
    with pytest.raises(FetchFailed) as info:
        cache.acquire(spec)
    lines = str(info.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["git.G", "http.A", "http.B"]
    host = server.url.split("/")[2]
    missing = server.url_for("missing.bin")
    assert lines[2] == f"http.B: cannot download {missing}: {host}: HTTP 404 File not found"
    assert isinstance(info.value.errors[1], ChecksumMismatch)
    assert server.hits("good.bin") == 1  # tried despite the failures before it
    assert len(cache.clear()) == 1  # and not held


def test_the_wait_for_another_filler_has_a_deadline(
    server: Any, tmp_path: Path, make_spec: Any
) -> None:
    # Issue 12 item 6: waiting for another process's download had no timeout.
    spec = make_spec(http={"F": {"url": server.add("a.bin", DATA)}})
    cache = DataCache(tmp_path / "c", policy=RetryPolicy(lock_wait=0.5))
    cache.root.joinpath("locks").mkdir(parents=True)
    (key,) = (item.key for item in plan(spec)[0])
    with open(cache.root / "locks" / f"{key}.fill", "ab") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # a filler that never ends
        with pytest.raises(LockTimeout) as info:
            cache.acquire(spec)
    assert str(info.value) == (
        "http.F: another process filling the entry: still locked by another process after "
        f"waiting 0.5 s (lock {cache.root / 'locks' / (key + '.fill')}); try again later"
    )
    assert info.value.exit_status == 75
    assert server.hits("a.bin") == 0
    with cache.using(spec) as env:  # once the other is gone, the lock is free again
        assert Path(env["F"]).read_bytes() == DATA


def test_a_url_with_a_long_last_component_is_cached_under_a_short_name(
    server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    # No server can hold that name either: it answers 404, where the cache used to fail
    # with "cannot write <cache path>: File name too long" before asking.
    url = server.url_for("d" * 300 + ".bin")
    spec = make_spec(http={"F": {"url": url}})
    with pytest.raises(DownloadError, match=r"HTTP 404 File not found$"):
        DataCache(tmp_path / "c", policy=policy).acquire(spec)
    assert server.hits("d" * 300 + ".bin") == 1


READ_ONLY = """
mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" || exit 97
shift; exec "$@"
"""


def test_a_read_only_cache_serves_its_entries_and_names_what_it_lacks(
    tmp_path: Path, http_server: Any, make_spec: Any
) -> None:
    """A shared cache prefilled by its owner and mounted read-only: complete entries are
    served without writing anything, a missing one is one clear error line."""
    import shutil

    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare -m to mount the cache read-only")
    http_server.add("have.txt", b"prefetched\n")
    cache = tmp_path / "shared"
    have = make_spec(http={"HAVE": {"url": f"{http_server.url}/have.txt"}})
    with DataCache(cache).using(have) as env:
        assert Path(env["HAVE"]).read_bytes() == b"prefetched\n"
    (tmp_path / "have.json").write_text(json.dumps(have.to_dict()))
    missing = make_spec(http={"GONE": {"url": f"{http_server.url}/not-fetched.txt"}})
    (tmp_path / "missing.json").write_text(json.dumps(missing.to_dict()))
    before = sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))

    def fetch(spec_file: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "poncho_fetch", "--cache-dir", str(cache),
                str(tmp_path / spec_file)]  # fmt: skip
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", READ_ONLY, "sh", str(cache), *argv],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    served = fetch("have.json")
    assert served.returncode == 0, served.stderr
    assert "HAVE=" in served.stdout and "Traceback" not in served.stderr
    lacking = fetch("missing.json")
    assert lacking.returncode == 1 and "Traceback" not in lacking.stderr
    assert (
        lacking.stderr.strip()
        .splitlines()[-1]
        .startswith("poncho_fetch: error: http.GONE: not in the read-only data cache ")
    )
    assert sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) == before
