"""The node store: DIRs unpacked side by side share files by content, safely."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from poncho_core.tarindex_write import Entry, IndexedTarWriter, member_key
from poncho_run import store as store_module
from poncho_run._state import read_state
from poncho_run._stored import StoreProvider, keep_tree, prefix_paths, unshare_prefix_files
from poncho_run.api import prepare
from poncho_run.cli import main
from poncho_run.store import STORE_ENV, NodeStore, file_digest, store_root
from poncho_run.store_entries import store_entries

EPOCH = 315532800
BIG = random.Random(24).randbytes(1 << 20) * 3  # 3 MiB, the same in every archive
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
UNPACK = f"""#!/bin/sh
_prefix_records = [
('lib/prefix.txt', '{PLACEHOLDER}', 'text'),
]
""".encode()


def _entry(name: str, data: bytes | None, mode: int = 0o644, *, prefix: bool = False) -> Entry:
    info = tarfile.TarInfo(name)
    info.mtime = EPOCH
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return Entry(info)
    info.size, info.mode = len(data), mode
    return Entry(info, data=data, sha256=hashlib.sha256(data).hexdigest(), prefix=prefix)


def indexed_env(path: Path, own: str, shared: int = 50) -> Path:
    """An indexed tarball: a shared member (BIG, `shared` small files, an executable), one
    member of its own (a file naming `own`, a file holding the build prefix) and
    conda-unpack (a python script whose prefix list names that file; run with python, it
    rewrites the placeholder)."""
    relocator = (
        "import os, sys\n"
        f"_prefix_records = [('lib/prefix.txt', {PLACEHOLDER!r}, 'text')]\n"
        "root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
        "for rel, old, _ in _prefix_records:\n"
        "    p = os.path.join(root, rel)\n"
        "    with open(p, 'rb+') as f:\n"
        "        d = f.read().replace(old.encode(), root.encode())\n"
        "        f.seek(0); f.write(d); f.truncate()\n"
    ).encode()
    hello = b'#!/bin/sh\necho "hello $(cat "$CONDA_PREFIX/lib/own.txt")"\n'
    groups = {
        "conda/shared-1.0-0": [
            _entry("lib", None),
            _entry("lib/big.bin", BIG),
            *(_entry(f"lib/s{i:03}.txt", f"shared {i}\n".encode() * 20) for i in range(shared)),
            _entry("bin", None),
            _entry("bin/tool", b"#!/bin/sh\necho tool\n", 0o755),
        ],
        f"conda/own-{own}": [
            _entry("lib/own.txt", f"{own}\n".encode()),
            _entry("lib/prefix.txt", f"prefix={PLACEHOLDER}\n".encode(), prefix=True),
            _entry("bin/hello", hello, 0o755),
        ],
        "poncho": [_entry("bin/conda-unpack", relocator, 0o755)],
    }
    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, "gzip", 1)
        for name, entries in groups.items():
            writer.add(name, entries, member_key(entries, "gzip", 1))
        writer.finish(EPOCH)
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return indexed_env(tmp_path / "a.tar.gz", "A"), indexed_env(tmp_path / "b.tar.gz", "B")


@pytest.fixture(autouse=True)
def _no_store_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)


def disk(*folders: Path) -> int:
    """Bytes on disk of the files under `folders`, each inode counted once."""
    seen: dict[tuple[int, int], int] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return sum(seen.values())


def store_of(folder: Path) -> Path:
    return folder.parent / f".poncho-store-{os.getuid()}"


def test_two_dirs_share_their_common_files(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "envs" / "A", tmp_path / "envs" / "B"
    prepare(pair[0], a)
    one = disk(a)
    placed: list[str] = []
    place = NodeStore.place

    def counted(self: NodeStore, sha256: str, path: str, mode: int, size: int | None) -> bool:
        placed.append(os.path.relpath(path, store_of(a).parent))
        return place(self, sha256, path, mode, size)

    monkeypatch.setattr(NodeStore, "place", counted)
    prepare(pair[1], b)
    # The shared member was not decompressed: its files came from the store.
    names = {p.split("/", 1)[1] for p in placed}
    assert {"lib/big.bin", "lib/s049.txt", "bin/tool", "bin/conda-unpack"} <= names
    assert len(names) == 53 and not names & {"lib/own.txt", "lib/prefix.txt", "bin/hello"}
    assert disk(a, b) <= 1.15 * one
    for rel in ("lib/big.bin", "lib/s007.txt", "bin/tool"):
        assert (a / rel).stat().st_ino == (b / rel).stat().st_ino
        assert (a / rel).stat().st_nlink == 3  # A, B and the store
    assert (a / "lib/own.txt").read_text() == "A\n" and (b / "lib/own.txt").read_text() == "B\n"
    assert (b / "bin/tool").stat().st_mode & 0o777 == 0o555
    assert (b / "lib/big.bin").read_bytes() == BIG
    store = store_of(a)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in store.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o222 == 0, f"{path} is writable"
            assert path.name.split(".")[0] == file_digest(str(path))


def test_ordinary_tarballs_share_too(tmp_path: Path) -> None:
    from poncho_run_helpers import make_tar, member

    tarballs = [
        make_tar(
            tmp_path / f"{own}.tar.gz",
            [
                member("lib/big.bin", BIG),
                member("lib/own.txt", own.encode()),
                member("bin/conda-unpack", UNPACK, mode=0o755),
                member("lib/prefix.txt", f"prefix={PLACEHOLDER}\n".encode()),
            ],
        )
        for own in ("A", "B")
    ]
    a, b = tmp_path / "A", tmp_path / "B"
    prepare(tarballs[0], a, store=str(tmp_path / "s"))
    prepare(tarballs[1], b, store=str(tmp_path / "s"))
    assert (a / "lib/big.bin").stat().st_ino == (b / "lib/big.bin").stat().st_ino
    assert (a / "lib/own.txt").stat().st_nlink == 2
    assert (a / "lib/prefix.txt").stat().st_nlink == 1, "conda-unpack's list is never shared"
    assert disk(a, b) < 1.15 * len(BIG) + 64 * 1024


def test_prefix_files_are_never_shared(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    prepare(pair[0], a)
    prepare(pair[1], b)
    for folder in (a, b):
        info = (folder / "lib/prefix.txt").stat()
        assert info.st_nlink == 1 and info.st_mode & 0o200
        assert (folder / "lib/prefix.txt").read_text() == f"prefix={folder}\n"
    assert prefix_paths(str(a)) == {"lib/prefix.txt"}


def test_removing_one_dir_leaves_the_other_running(
    tmp_path: Path, pair: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    prepare(pair[0], a)
    env_b = prepare(pair[1], b)
    from poncho_core.fs import rmtree

    rmtree(a)
    assert env_b.run(["hello"]) == 0
    assert capfd.readouterr().out == "hello B\n"
    assert (b / "lib/big.bin").read_bytes() == BIG
    assert (b / "lib/big.bin").stat().st_nlink == 2


def test_the_store_can_be_turned_off(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--no-store", "-e", str(pair[0]), "-u", str(tmp_path / "A")]) == 0
    monkeypatch.setenv(STORE_ENV, "off")
    prepare(pair[1], tmp_path / "B")
    assert not store_of(tmp_path / "A").exists()
    assert (tmp_path / "B/lib/big.bin").stat().st_nlink == 1
    assert store_root(str(tmp_path / "A")) is None
    monkeypatch.delenv(STORE_ENV)
    prepare(pair[1], tmp_path / "C", store=False)
    assert not store_of(tmp_path / "A").exists()


def test_a_store_placed_by_the_variable(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "mystore"))
    prepare(pair[0], tmp_path / "one" / "A")
    prepare(pair[1], tmp_path / "two" / "B")
    assert (tmp_path / "one/A/lib/big.bin").stat().st_ino == (
        tmp_path / "two/B/lib/big.bin"
    ).stat().st_ino
    assert (tmp_path / "mystore").is_dir() and not store_of(tmp_path / "one/A").exists()


def test_a_temporary_folder_uses_only_a_named_store(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with prepare(pair[0]) as env:
        assert (env.prefix / "lib/big.bin").stat().st_nlink == 1
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "s"))
    with prepare(pair[0]) as env:
        assert (env.prefix / "lib/big.bin").stat().st_nlink == 2
    assert any((tmp_path / "s").rglob("*.r"))


# -- what the store does not trust -------------------------------------------------------------


def _planted(store: Path, data: bytes, mode: str = "r") -> Path:
    digest = hashlib.sha256(data).hexdigest()
    path = store / digest[:2] / f"{digest}.{mode}"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@pytest.mark.parametrize("kind", ["symlink", "wrong-size", "wrong-content", "writable", "foreign"])
def test_a_planted_store_file_is_not_trusted(
    tmp_path: Path, pair: tuple[Path, Path], kind: str
) -> None:
    a = tmp_path / "A"
    store = store_of(a)
    store.mkdir(mode=0o700)
    path = _planted(store, BIG)
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "foreign":
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        path.write_bytes(BIG)
        os.chown(path, 4321, 4321)
        path.chmod(0o444)
    else:
        path.write_bytes(BIG[:-1] if kind == "wrong-size" else b"x" * len(BIG))
        path.chmod(0o644 if kind == "writable" else 0o444)
        if kind == "writable":
            path.write_bytes(BIG)
    provider = StoreProvider(NodeStore(str(store)), {hashlib.sha256(BIG).hexdigest(): len(BIG)})
    assert not provider.has(hashlib.sha256(BIG).hexdigest())
    assert not provider.place(hashlib.sha256(BIG).hexdigest(), str(tmp_path / "x"), 0o644)
    prepare(pair[0], a)
    assert (a / "lib/big.bin").read_bytes() == BIG
    assert victim.read_bytes() == b"do not touch"
    assert not path.is_symlink() and file_digest(str(path)) == path.name[:64], "replaced"


@pytest.mark.parametrize("kind", ["symlink", "writable", "foreign"])
def test_a_store_folder_not_the_users_is_not_used(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "store"
    if kind == "symlink":
        (tmp_path / "elsewhere").mkdir()
        root.symlink_to(tmp_path / "elsewhere")
    else:
        root.mkdir()
        if kind == "writable":
            root.chmod(0o777)
        elif os.getuid() == 0:
            os.chown(root, 4321, 4321)
        else:
            pytest.skip("giving a folder to another user needs root")
    with caplog.at_level(logging.WARNING):
        assert NodeStore.open(str(root), str(tmp_path)) is None
    assert "without the store" in caplog.text


# -- the provider, as the indexed extractor calls it -------------------------------------------


def test_the_provider_places_keeps_and_makes_the_other_mode(tmp_path: Path) -> None:
    store = NodeStore(str(tmp_path / "store"))
    (tmp_path / "store").mkdir(mode=0o700)
    data = b"content\n" * 100
    digest = hashlib.sha256(data).hexdigest()
    provider = StoreProvider(store, {digest: len(data)})
    assert not provider.has(digest)
    assert not provider.place(digest, str(tmp_path / "nothing"), 0o644)
    written = tmp_path / "written"
    written.write_bytes(data)
    provider.keep(digest, str(written), 0o644)
    assert written.stat().st_mode & 0o777 == 0o444 and written.stat().st_nlink == 2
    assert provider.has(digest)
    assert provider.place(digest, str(tmp_path / "placed"), 0o644)
    assert (tmp_path / "placed").stat().st_ino == written.stat().st_ino
    assert provider.place(digest, str(tmp_path / "exe"), 0o755)
    exe = (tmp_path / "exe").stat()
    assert exe.st_mode & 0o777 == 0o555 and exe.st_ino != written.stat().st_ino
    assert Path(store.path_of(digest, 0o755)).stat().st_ino == exe.st_ino
    # Kept again (another DIR wrote the same file): the new file becomes a link to the store's.
    again = tmp_path / "again"
    again.write_bytes(data)
    os.utime(again, (written.stat().st_mtime, written.stat().st_mtime))
    provider.keep(digest, str(again), 0o644)
    assert again.stat().st_ino == written.stat().st_ino
    # Another mtime (a .py whose .pyc names it): not shared.
    other = tmp_path / "other"
    other.write_bytes(data)
    os.utime(other, (EPOCH, EPOCH))
    provider.keep(digest, str(other), 0o644)
    assert other.stat().st_nlink == 1
    # Pruned between has and place: place says it could not.
    for entry in store_entries(store.root):
        os.unlink(os.path.join(store.root, entry.name))
    assert not provider.place(digest, str(tmp_path / "late"), 0o644)


def test_links_refused_fall_back_to_copies_with_one_notice(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(store_module.os, "link", refuse)
    with caplog.at_level(logging.INFO, logger="poncho_run.store"):
        prepare(pair[0], tmp_path / "A")
        prepare(pair[1], tmp_path / "B")
    notices = [r for r in caplog.records if "copying them instead" in r.getMessage()]
    assert len(notices) == 2, "one per unpack"
    assert (tmp_path / "B/lib/big.bin").stat().st_nlink == 1
    assert (tmp_path / "B/lib/big.bin").read_bytes() == BIG
    assert any(store_of(tmp_path / "A").rglob("*.r")), "the store still holds a copy"


def test_a_store_on_another_file_system_copies(
    tmp_path: Path, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm)")
    root = shm / f"poncho-store-test-{os.getpid()}"
    monkeypatch.setenv(STORE_ENV, str(root))
    try:
        argv = ["-v", "-e", str(pair[0]), "-u", str(tmp_path / "A")]
        proc = subprocess.run(
            [sys.executable, "-m", "poncho_run", *argv], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count("on another file system") == 1
        assert (tmp_path / "A/lib/big.bin").stat().st_nlink == 1
        prepare(pair[1], tmp_path / "B")  # placed from the store's copies
        assert (tmp_path / "B/lib/big.bin").read_bytes() == BIG
        assert (tmp_path / "B/lib/big.bin").stat().st_nlink == 1
    finally:
        from poncho_core.fs import rmtree

        rmtree(root)


def test_relocation_never_writes_into_a_linked_file(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    (folder / "bin").mkdir(parents=True)
    (folder / "lib").mkdir()
    (folder / "bin/conda-unpack").write_bytes(UNPACK)
    shared = tmp_path / "elsewhere"
    shared.write_text(f"prefix={PLACEHOLDER}\n")
    shared.chmod(0o444)
    os.link(shared, folder / "lib/prefix.txt")  # as a lying index would have it
    assert unshare_prefix_files(str(folder)) == 1
    info = (folder / "lib/prefix.txt").stat()
    assert info.st_nlink == 1 and info.st_mode & 0o200 and shared.stat().st_nlink == 1
    # An unreadable prefix list: every linked file is made private, and nothing kept.
    (folder / "bin/conda-unpack").write_text("_prefix_records = [(\n")
    os.link(shared, folder / "lib/other.txt")
    assert prefix_paths(str(folder)) is None
    assert unshare_prefix_files(str(folder)) == 1
    assert keep_tree(NodeStore(str(tmp_path / "s")), str(folder)) == 0


# -- races --------------------------------------------------------------------------------------

# Unpacks argv[3:] (the CLI) and, at the argv[2]-th file kept or placed, says "paused" and
# waits to be killed: argv[1] "between" (after that one), "inside" (in one from there on,
# just before a link or rename of the store's), or "never" (does not pause: runs
# alongside). Other extracting threads go on until they wait for it.
PAUSING_KEEP = """
import os, pathlib, sys, time  # pathlib before os.replace is patched (3.10 keeps a copy)
from poncho_run import store
where, at = sys.argv[1], int(sys.argv[2])
count = 0
def pause():
    print("paused", flush=True)
    time.sleep(600)
def counted(method):
    def run(self, *args):
        global count
        count += 1
        done = method(self, *args)
        if where == "between" and count >= at:
            pause()
        return done
    return run
store.NodeStore.keep = counted(store.NodeStore.keep)
store.NodeStore.place = counted(store.NodeStore.place)
def paused(call):
    def run(*args, **kwargs):
        if where == "inside" and count >= at:
            pause()
        return call(*args, **kwargs)
    return run
store.os.replace = paused(os.replace)
store.os.link = paused(os.link)
from poncho_run.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _check(folder: Path, own: str) -> None:
    assert read_state(str(folder)) is not None
    assert (folder / "lib/big.bin").read_bytes() == BIG
    assert (folder / "lib/own.txt").read_text() == f"{own}\n"
    assert all(
        (folder / f"lib/s{i:03}.txt").read_bytes() == f"shared {i}\n".encode() * 20
        for i in range(200)
    )
    assert (folder / "lib/prefix.txt").read_text() == f"prefix={folder}\n"


def _unpacking(where: str, at: int, tarball: Path, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PAUSING_KEEP, where, str(at), "-e", str(tarball), "-u", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize(("where", "at"), [("between", 1), ("between", 120), ("inside", 60)])
def test_killed_store_linking_runs_leave_every_dir_good(
    tmp_path: Path, where: str, at: int
) -> None:
    a = indexed_env(tmp_path / "a.tar.gz", "A", shared=200)
    b = indexed_env(tmp_path / "b.tar.gz", "B", shared=200)
    envs = tmp_path / "envs"
    killed = _unpacking(where, at, a, envs / "A")
    alongside = _unpacking("never", 0, b, envs / "B")
    try:
        assert killed.stdout is not None and killed.stdout.readline() == "paused\n"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
    _, err = alongside.communicate()
    assert alongside.returncode == 0, err
    _check(envs / "B", "B")
    assert read_state(str(envs / "A")) is None
    good = subprocess.run(
        [sys.executable, "-m", "poncho_run", "-e", str(a), "-u", str(envs / "A")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    _check(envs / "A", "A")
    _check(envs / "B", "B")
    assert (envs / "A/lib/big.bin").stat().st_ino == (envs / "B/lib/big.bin").stat().st_ino
    for path in store_of(envs / "A").rglob("*"):
        if path.is_file() and not path.name.startswith(".tmp-"):
            assert path.name[:64] == file_digest(str(path))


def test_the_warm_path_does_not_import_the_store(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    prepare(pair[0], tmp_path / "A")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "poncho_run", "-u", str(tmp_path / "A"),
         "--", "true"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "poncho_run.unpack" not in proc.stderr
    assert "poncho_run.store" not in proc.stderr and "poncho_run._stored" not in proc.stderr


def test_entries_and_removal_keep_what_a_folder_links(tmp_path: Path) -> None:
    from poncho_run.store_entries import remove_entry

    root = tmp_path / "store"
    store = NodeStore(str(root))
    files = []
    for text in ("linked", "alone"):
        path = tmp_path / text
        path.write_text(text)
        store.keep(hashlib.sha256(text.encode()).hexdigest(), str(path), 0o644)
        files.append(path)
    files[1].unlink()  # its folder is gone
    (root / ".tmp-leftover").write_text("a killed run's")
    (root / "stray").write_text("not a folder")
    entries = {e.name.split("/")[-1][:6]: e for e in store_entries(str(root))}
    assert sorted(e.links for e in entries.values()) == [1, 1, 2]
    assert ".tmp-l" in entries
    names = {e.links: e.name for e in store_entries(str(root)) if "/" in e.name}
    assert not remove_entry(str(root), names[2]), "a folder links it"
    assert not remove_entry(str(root), "../alone") and not remove_entry(str(root), "nope/x")
    assert remove_entry(str(root), names[1]) and remove_entry(str(root), ".tmp-leftover")
    assert [e.links for e in store_entries(str(root))] == [2]
    assert files[0].read_text() == "linked"
    assert store_entries(str(tmp_path / "missing")) == []


def test_where_the_store_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = str(tmp_path / "envs" / "A")
    assert store_root(folder) == str(tmp_path / "envs" / f".poncho-store-{os.getuid()}")
    assert store_root(None) is None and store_root(folder, False) is None
    assert store_root(folder, tmp_path / "s") == str(tmp_path / "s")
    monkeypatch.setenv(STORE_ENV, "OFF")
    assert store_root(folder) is None
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "v"))
    assert store_root(None) == str(tmp_path / "v")
    # A store that cannot be made: unpacked without it, with a warning.
    (tmp_path / "file").write_text("")
    assert NodeStore.open(str(tmp_path / "file" / "store"), str(tmp_path)) is None
    store = NodeStore(str(tmp_path / "file" / "store"))
    data = tmp_path / "data"
    data.write_text("x")
    store.keep(hashlib.sha256(b"x").hexdigest(), str(data), 0o644)
    assert data.stat().st_nlink == 1 and data.stat().st_mode & 0o200
