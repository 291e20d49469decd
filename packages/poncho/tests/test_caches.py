"""`poncho cache list|prune` over real caches, with real processes holding entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from poncho.cache_cli import main
from poncho.caches import list_caches, parse_age, prune_caches
from poncho_fetch.cache import DataCache
from poncho_spec import Spec

HOLD = """
import sys
from pathlib import Path
kind, root, what = sys.argv[1:]
if kind == "envs":
    from poncho_create.cache import EnvCache
    held = EnvCache(Path(root)).building(what)
elif kind == "build-folder":
    from poncho_create.build_folders import build_folder
    held = build_folder(parent=Path(root))
elif kind == "layers":
    from poncho_create.conda_layer import LayerStore, use_layer
    held = use_layer(LayerStore(Path(root)), what, lambda p: p.mkdir(), keep=2)
elif kind == "pkgs":
    from poncho_create.cache import PackageCache
    held = PackageCache(Path(root)).in_use()
else:
    from poncho_fetch.cache import DataCache
    from poncho_spec import Spec
    held = DataCache(Path(root)).acquire(Spec.from_dict({"http": {"D": {"url": what}}}))
with held:
    print("held", flush=True)
    sys.stdin.read()
"""


class Holder:
    """A real process holding a cache entry (a build, a task) until closed."""

    def __init__(self, kind: str, root: Path, what: str = "") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, kind, str(root), what],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "held\n"

    def close(self) -> None:
        self.proc.communicate("")


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


@pytest.fixture
def caches(tmp_path: Path, http_server: Any) -> dict[str, Any]:
    """An env cache with two tarballs, a data cache with two entries, a package cache."""
    envs, data, pkgs = tmp_path / "envs", tmp_path / "data", tmp_path / "pkgs"
    envs.mkdir()
    for name, days in (("old.tar.gz", 40), ("new.tar.gz", 1)):
        (envs / name).write_bytes(b"e" * 1000)
        _age(envs / name, days * 86400)
    urls = []
    for name in ("a.txt", "b.txt"):
        (http_server.root / name).write_text(name * 100)
        urls.append(f"{http_server.url}/{name}")
    cache = DataCache(data)
    for url in urls:
        cache.acquire(Spec.from_dict({"http": {"D": {"url": url}}})).release()
    (pkgs / "pkg-1-0").mkdir(parents=True)
    (pkgs / "pkg-1-0" / "f").write_bytes(b"p" * 500)
    _age(pkgs / "pkg-1-0", 90 * 86400)
    dirs = {"envs_dir": envs, "data_dir": data, "pkgs_dir": pkgs}
    return {"dirs": dirs, "urls": urls, "data": cache}


def test_list_shows_every_cache(caches: dict[str, Any]) -> None:
    reports = {r.kind: r for r in list_caches(**caches["dirs"])}
    assert [i.name for i in reports["envs"].items] == ["old.tar.gz", "new.tar.gz"]
    assert reports["envs"].size == 2000
    assert len(reports["data"].items) == 2 and reports["data"].size > 1000
    assert [(i.name, i.size) for i in reports["pkgs"].items] == [("pkg-1-0", 500)]


def test_prune_by_age_spares_what_is_in_use(caches: dict[str, Any]) -> None:
    dirs = caches["dirs"]
    build = Holder("envs", dirs["envs_dir"], "old.tar.gz")  # being rebuilt right now
    task = Holder("data", dirs["data_dir"], caches["urls"][0])  # a task uses the first
    creating = Holder("pkgs", dirs["pkgs_dir"])  # a create is installing from the cache
    try:
        dry = {r.kind: r for r in prune_caches(older_than=30 * 86400, dry_run=True, **dirs)}
        done = {r.kind: r for r in prune_caches(older_than=30 * 86400, **dirs)}
        # A task's entry is never removed, however small the cache must get.
        dry_data = prune_caches(["data"], max_size=0, dry_run=True, **dirs)[0]
        data = prune_caches(["data"], max_size=0, **dirs)[0]
    finally:
        for holder in (build, task, creating):
            holder.close()
    # The dry run says what the real prune then did: the same removals, the same kept.
    for kind in ("envs", "data", "pkgs"):
        assert (dry[kind].removed, dry[kind].kept_in_use) == (
            done[kind].removed,
            done[kind].kept_in_use,
        )
    assert (dry_data.removed, dry_data.kept_in_use) == (data.removed, data.kept_in_use)
    assert not any(dirs["envs_dir"].glob(".locks/new*"))  # a dry run makes no lock files
    assert done["envs"].removed == [] and done["envs"].kept_in_use == ["old.tar.gz"]
    assert done["data"].removed == []  # both used today
    assert len(data.removed) == 1 and len(data.kept_in_use) == 1 and len(data.items) == 1
    assert done["pkgs"].removed == [] and done["pkgs"].kept_in_use == ["pkg-1-0"]
    assert (dirs["pkgs_dir"] / "pkg-1-0" / "f").exists()
    # Once nothing holds them, they go.
    again = {r.kind: r for r in prune_caches(older_than=30 * 86400, **dirs)}
    assert [i.name for i in again["envs"].removed] == ["old.tar.gz"]
    assert [i.name for i in again["pkgs"].removed] == ["pkg-1-0"]
    assert not (dirs["envs_dir"] / "old.tar.gz").exists()
    assert (dirs["envs_dir"] / "new.tar.gz").exists()


def test_prune_by_size_removes_the_least_recently_used(caches: dict[str, Any]) -> None:
    reports = {r.kind: r for r in prune_caches(["envs"], max_size=1000, **caches["dirs"])}
    assert list(reports) == ["envs"]
    assert [i.name for i in reports["envs"].removed] == ["old.tar.gz"]
    assert reports["envs"].size == 1000


def test_the_command(caches: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    dirs = [f"--{k.replace('_', '-')}={v}" for k, v in caches["dirs"].items()]
    assert main(["list", "envs", *dirs]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"envs in {caches['dirs']['envs_dir']}: 2 entries, 2.0 kB",
        "     1.0 kB    40 d ago  old.tar.gz",
        "     1.0 kB     1 d ago  new.tar.gz",
    ]
    assert main(["list", "data", *dirs]) == 0  # a data entry says where it comes from
    assert f"  http {caches['urls'][1]}\n" in capsys.readouterr().out
    # What goes first, then what is left (a dry run: what would be).
    assert main(["prune", "envs", "--older-than", "30d", "--dry-run", *dirs]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"envs in {caches['dirs']['envs_dir']}:",
        "  would remove old.tar.gz (1.0 kB)",
        "  1 entry, 1.0 kB would be left",
    ]
    assert main(["prune", "pkgs", "envs", "--older-than", "30d", "--json", *dirs]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in data] == ["pkgs", "envs"]
    assert [i["name"] for i in data[1]["removed"]] == ["old.tar.gz"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prune"], "prune needs --older-than AGE, --max-size SIZE or both"),
        (["list", "tarballs"], "unknown cache 'tarballs'"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--older-than", "soon", "argument --older-than: 'soon' is not an age (e.g. 30d, 12h,"),
        ("--older-than", "30", "argument --older-than: '30' has no unit: write 30d (days), 30h"),
        ("--max-size", "10X", "argument --max-size: invalid size '10X'"),
    ],
)
def test_bad_values_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    (tmp_path / "old.tar.gz").write_bytes(b"e")
    _age(tmp_path / "old.tar.gz", 40 * 86400)
    with pytest.raises(SystemExit) as info:
        main(["prune", "envs", option, value, f"--envs-dir={tmp_path}"])
    assert info.value.code == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"poncho cache prune: error: {message}"), first
    assert (tmp_path / "old.tar.gz").exists()


def test_ages() -> None:
    assert parse_age("30d") == 30 * 86400 and parse_age("15m") == 900
    assert parse_age("12h") == 12 * 3600 and parse_age("2w") == 14 * 86400
    assert parse_age("1.5d") == 1.5 * 86400 and parse_age(" 45S ") == 45
    for bad in ("", "d", "-1d", "nand", "infd"):
        with pytest.raises(ValueError, match="is not an age"):
            parse_age(bad)
    with pytest.raises(ValueError, match="'90' has no unit"):
        parse_age("90")


def _prune_on_a_terminal(argv: list[str], answer: str | None) -> tuple[int, str]:
    """`poncho cache prune ARGV` in a real process whose stdin is a terminal (a pty) that
    types `answer` (None: closes it); its exit status and stdout."""
    import pty

    main_fd, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "poncho", "cache", "prune", *argv],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        os.close(terminal)
        if answer is not None:
            os.write(main_fd, answer.encode() + b"\n")
        else:
            os.write(main_fd, b"\x04")  # Ctrl-D: end of input
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(main_fd)
    return proc.returncode, out


def test_a_prune_on_a_terminal_asks_first(caches: dict[str, Any]) -> None:
    dirs = [f"--{k.replace('_', '-')}={v}" for k, v in caches["dirs"].items()]
    old = caches["dirs"]["envs_dir"] / "old.tar.gz"
    status, out = _prune_on_a_terminal(["envs", "--older-than", "30d", *dirs], "n")
    assert status == 0 and old.exists()
    assert "  envs: old.tar.gz (1.0 kB)\nRemove 1 entry (1.0 kB)? Proceed ([y]/n)? " in out
    assert "poncho cache: nothing removed" in out
    status, out = _prune_on_a_terminal(["envs", "--older-than", "30d", *dirs], None)
    assert status == 0 and old.exists()  # no answer is no
    # Nothing to remove: nothing to ask.
    status, out = _prune_on_a_terminal(["envs", "--older-than", "300d", *dirs], None)
    assert status == 0 and "Proceed" not in out
    status, out = _prune_on_a_terminal(["envs", "--older-than", "30d", *dirs], "y")
    assert status == 0 and not old.exists() and "removed old.tar.gz" in out


def test_yes_or_no_terminal_prunes_without_asking(caches: dict[str, Any]) -> None:
    dirs = [f"--{k.replace('_', '-')}={v}" for k, v in caches["dirs"].items()]
    status, out = _prune_on_a_terminal(["envs", "-y", "--older-than", "30d", *dirs], None)
    assert status == 0 and "Proceed" not in out and "removed old.tar.gz" in out
    # cron, CI: stdin is no terminal, and nothing waits for an answer.
    proc = subprocess.run(
        [sys.executable, "-m", "poncho", "cache", "prune", "envs", "--older-than", "0d", *dirs],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and "removed new.tar.gz" in proc.stdout
    assert "Proceed" not in proc.stdout


def test_a_build_refreshes_the_last_use_of_the_packages_it_installs(
    tmp_path: Path, local_channel: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from poncho_create import create

    pkgs = tmp_path / "pkgs"
    options = {"pkgs_dir": pkgs, "cache_dir": tmp_path / "envs", "channels": [local_channel.url],
               "override_channels": True}  # fmt: skip
    create({"conda": {"dependencies": ["python"]}}, tmp_path / "one.tar", **options)
    packages = [i.name for i in list_caches(["pkgs"], pkgs_dir=pkgs)[0].items if "-" in i.name]
    python = next(name for name in packages if name.startswith("python-"))
    for name in packages:  # extracted 40 days ago
        _age(pkgs / name, 40 * 86400)
    # Another spec, so no cache answers: the build installs python from the package cache.
    create({"conda": {"dependencies": ["python", "poncho-demo-app"]}}, tmp_path / "two.tar",
           **options)  # fmt: skip
    ages = {
        i.name: time.time() - i.last_used for i in list_caches(["pkgs"], pkgs_dir=pkgs)[0].items
    }
    assert ages[python] < 600
    assert main(["prune", "pkgs", "--dry-run", "--older-than", "30d", f"--pkgs-dir={pkgs}"]) == 0
    assert python not in capsys.readouterr().out


def test_ages_are_said_in_the_largest_unit_that_fits() -> None:
    from poncho.cache_cli import _ago

    assert [_ago(s) for s in (-3, 59, 180, 7300, 3 * 86400 + 5)] == [
        "0 s ago", "59 s ago", "3 min ago", "2 h ago", "3 d ago",
    ]  # fmt: skip


def test_the_env_cache_listed_is_the_users_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """F8: `poncho cache list` shows ~/.cache/poncho/envs wherever it runs, not ./envs."""
    monkeypatch.delenv("PONCHO_ENVS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    envs = tmp_path / "xdg" / "poncho" / "envs"
    envs.mkdir(parents=True)
    (envs / "e.tar.gz").write_bytes(b"e" * 100)
    seen = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "envs").mkdir()
        (tmp_path / folder / "envs" / f"{folder}.tar.gz").write_bytes(b"x")
        monkeypatch.chdir(tmp_path / folder)
        assert main(["list", "--json"]) == 0
        seen.append(capsys.readouterr().out)
    assert seen[0] == seen[1]
    assert [i.name for i in next(r for r in list_caches() if r.kind == "envs").items] == [
        "e.tar.gz"
    ]


def test_prune_removes_the_build_folders_of_killed_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26.8: a build folder whose process is gone (its lock free) goes; a live one
    (its lock held by a real process) stays."""
    from poncho_create.build_folders import build_folder

    monkeypatch.setenv("PONCHO_CREATE_TMPDIR", str(tmp_path))
    with build_folder(parent=tmp_path) as gone:
        pass
    gone.mkdir()
    (gone / ".poncho-build.lock").touch()
    (gone / "env").mkdir()
    live = Holder("build-folder", tmp_path)
    try:
        (kept,) = [
            p for p in tmp_path.iterdir() if p.name.startswith("poncho-create-") and p != gone
        ]
        prune_caches(["envs"], envs_dir=tmp_path / "envs", dry_run=True)
        assert gone.exists()
        prune_caches(["envs"], envs_dir=tmp_path / "envs")
        assert not gone.exists() and kept.is_dir()
    finally:
        live.close()


def test_layers_are_listed_and_pruned_unless_a_build_holds_one(tmp_path: Path) -> None:
    from poncho_create.conda_layer import LayerStore, use_layer

    envs = tmp_path / "envs"
    store = LayerStore.of_cache(envs)
    old, held = "a" * 64, "b" * 64
    for key in (old, held):
        with use_layer(store, key, lambda p: p.mkdir(), keep=2, dependencies=("python", "numpy")):
            pass
        (store.path(key[:16]) / "data").write_bytes(b"x" * 1000)
        _age(store.root / f"{key[:16]}.json", 40 * 86400)
    (report,) = list_caches(["layers"], envs_dir=envs)
    assert report.root == str(envs / "layers")
    assert [(i.name, i.label) for i in report.items] == [
        (old[:16], "python, numpy"),
        (held[:16], "python, numpy"),
    ]
    assert all(i.size >= 1000 for i in report.items)
    build = Holder("layers", store.root, held)  # a build uses it right now
    try:
        dry = prune_caches(["layers"], max_size=0, dry_run=True, envs_dir=envs)[0]
        done = prune_caches(["layers"], max_size=0, envs_dir=envs)[0]
        aged = prune_caches(["layers"], older_than=30 * 86400, envs_dir=envs)[0]
    finally:
        build.close()
    assert (dry.removed, dry.kept_in_use) == (done.removed, done.kept_in_use)
    assert [i.name for i in done.removed] == [old[:16]] and done.kept_in_use == [held[:16]]
    assert not store.path(old[:16]).exists()
    assert not (store.root / f"{old[:16]}.json").exists()
    assert aged.removed == []  # held, so just used: not old
    assert store.path(held[:16]).exists()
    assert main(["list", "layers", f"--envs-dir={envs}"]) == 0
    assert main(["prune", "layers", "--max-size", "0", "-q", f"--envs-dir={envs}"]) == 0
    assert store.entries() == []


# -- the node store of poncho_package_run ------------------------------------------------------


def _two_dirs(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """Two environment folders unpacked side by side from tarballs sharing a big file."""
    import io
    import random
    import tarfile

    from poncho_run.api import prepare

    big = random.Random(3).randbytes(1 << 20)
    folders = []
    for name in ("A", "B"):
        tarball = tmp_path / f"{name}.tar.gz"
        with tarfile.open(tarball, "w:gz") as tar:
            for path, data in (("lib/big.bin", big), ("lib/own.txt", name.encode())):
                info = tarfile.TarInfo(path)
                info.size, info.mtime = len(data), 1_600_000_000
                tar.addfile(info, io.BytesIO(data))
        prepare(tarball, tmp_path / "envs" / name)
        folders.append(tmp_path / "envs" / name)
    return folders[0], folders[1], big


@pytest.fixture
def _no_store_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PONCHO_RUN_STORE", raising=False)


@pytest.mark.usefixtures("_no_store_variable")
def test_the_store_lists_what_no_folder_links_as_prunable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _, big = _two_dirs(tmp_path)
    envs = tmp_path / "envs"
    (report,) = list_caches(["store"], store_dir=envs)
    assert report.root == str(envs / f".poncho-store-{os.getuid()}")
    assert report.prunable == 0 and report.size >= len(big)
    assert all(i.label.startswith("linked by") for i in report.items)
    assert [r.kind for r in list_caches(envs_dir=tmp_path / "e")] == [
        "envs",
        "layers",
        "data",
        "pkgs",
    ]
    with pytest.raises(ValueError, match="--store-dir"):
        list_caches(["store"])
    from poncho_core.fs import rmtree

    rmtree(a)  # A's own file goes unlinked; big.bin is still B's
    (report,) = list_caches(["store"], store_dir=envs)
    labels = {i.name.split("/")[-1][:6]: i.label for i in report.items}
    assert sorted(labels.values()) == ["linked by 1 folder(s)", "linked by 1 folder(s)",
                                       "linked by no folder"]  # fmt: skip
    assert report.prunable > 0
    assert main(["list", "store", f"--store-dir={envs}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"store in {report.root}: 3 entries,")
    assert "(prunable)" in out and len(out.splitlines()) == 1
    assert main(["list", "store", "-v", f"--store-dir={report.root}"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["list", "store"]) == 1
    assert "--store-dir" in capsys.readouterr().err


@pytest.mark.usefixtures("_no_store_variable")
def test_prune_with_a_folder_in_use_never_breaks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, big = _two_dirs(tmp_path)
    envs = tmp_path / "envs"
    from poncho_core.fs import rmtree

    rmtree(a)
    # A task running in B, reading its files before and after the prune.
    task = subprocess.Popen(
        [sys.executable, "-m", "poncho_run", "-u", str(b), "--", "sh", "-c",
         'cat "$CONDA_PREFIX/lib/own.txt"; read line; cmp "$CONDA_PREFIX/lib/big.bin" "$1" '
         '&& cat "$CONDA_PREFIX/lib/own.txt"', "sh", str(tmp_path / "big")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    (tmp_path / "big").write_bytes(big)
    assert task.stdout is not None and task.stdout.read(1) == "B"
    monkeypatch.setenv("PONCHO_RUN_STORE", str(envs))  # the folder of the DIRs
    dry = prune_caches(["store"], max_size=0, dry_run=True)[0]
    done = prune_caches(["store"], max_size=0)[0]
    assert [i.name for i in dry.removed] == [i.name for i in done.removed]
    assert len(done.removed) == 1 and done.kept_in_use == [] and done.prunable == 0
    assert len(done.items) == 2, "the files B links stay in the store"
    out, _ = task.communicate("go\n")
    assert task.returncode == 0 and out == "B"
    rmtree(b)
    again = prune_caches(["store"], older_than=0)[0]
    assert len(again.removed) == 2 and again.items == [] and again.size == 0
