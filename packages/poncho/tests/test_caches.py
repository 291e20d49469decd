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
        assert [i.name for i in dry["envs"].removed] == ["old.tar.gz"]
        assert (dirs["envs_dir"] / "old.tar.gz").exists()  # a dry run removes nothing
        done = {r.kind: r for r in prune_caches(older_than=30 * 86400, **dirs)}
        # A task's entry is never removed, however small the cache must get.
        data = prune_caches(["data"], max_size=0, **dirs)[0]
    finally:
        for holder in (build, task, creating):
            holder.close()
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
    assert out.startswith(f"envs: {caches['dirs']['envs_dir']}: 2 entries, 2.0 kB\n")
    assert " old.tar.gz\n" in out and "days" in out
    assert main(["prune", "--older-than", "30d", "--dry-run", *dirs]) == 0
    assert "  would remove old.tar.gz (1.0 kB)" in capsys.readouterr().out
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


def test_bad_values_are_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--older-than", "soon", f"--envs-dir={tmp_path}"]) == 1
    assert capsys.readouterr().err == (
        "poncho cache: error: 'soon' is not an age (e.g. 30d, 12h, 2w)\n"
    )
    assert main(["prune", "--max-size", "big", f"--envs-dir={tmp_path}"]) == 1
    assert capsys.readouterr().err.startswith("poncho cache: error: ")


def test_ages() -> None:
    assert parse_age("30d") == 30 * 86400
    assert parse_age("12h") == 12 * 3600 and parse_age("2w") == 14 * 86400
    assert parse_age("90") == 90
    for bad in ("", "d", "-1d", "nand"):
        with pytest.raises(ValueError, match="is not an age"):
            parse_age(bad)


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
