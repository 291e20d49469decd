"""Shared helpers: real dist-info / egg-info folders and conda-meta records in tmp dirs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze.mapping import Environment
from poncho_analyze.stdlib import parse_version, stdlib_modules

DATA = Path(__file__).parent / "data"


def write_dist(
    site: Path,
    name: str,
    version: str,
    files: dict[str, str],
    *,
    top_level: list[str] | None = None,
    record: bool = True,
    installer: str = "pip",
    requires: tuple[str, ...] = (),
) -> Path:
    """Install a fake distribution the way pip would: files plus a dist-info with RECORD."""
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    meta = site / f"{name.replace('-', '_')}-{version}.dist-info"
    meta.mkdir(parents=True)
    requirements = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (meta / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requirements}\n"
    )
    (meta / "INSTALLER").write_text(installer + "\n")
    rows = [*files, f"{meta.name}/METADATA", f"{meta.name}/INSTALLER", f"{meta.name}/RECORD"]
    if top_level is not None:
        (meta / "top_level.txt").write_text("\n".join(top_level) + "\n")
        rows.append(f"{meta.name}/top_level.txt")
    if record:
        (meta / "RECORD").write_text("".join(f"{row},,\n" for row in rows))
    return meta


def write_conda_record(
    prefix: Path,
    name: str,
    version: str,
    build: str,
    channel: str,
    files: list[str],
    *,
    contents: dict[str, str] | None = None,
) -> Path:
    """A conda-meta record plus the files it lists (relative to the prefix)."""
    for rel in files:
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text((contents or {}).get(rel, ""))
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "version": version,
        "build": build,
        "channel": channel,
        "files": files,
        "url": f"{channel}/{name}-{version}-{build}.conda",
    }
    path = meta / f"{name}-{version}-{build}.json"
    path.write_text(json.dumps(record))
    return path


@pytest.fixture(autouse=True)
def _no_activated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose the environment they inspect; a developer's activated one (or
    tox's own $VIRTUAL_ENV) must not be picked up by the command."""
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(autouse=True)
def _own_map_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The import -> distribution maps go to a folder of each test, not the user's cache."""
    monkeypatch.setenv("PONCHO_ANALYZE_CACHE", str(tmp_path_factory.mktemp("map-cache")))


@pytest.fixture(scope="session")
def data() -> Path:
    """The tests/data folder."""
    return DATA


@pytest.fixture(scope="session")
def dist_writer() -> Callable[..., Path]:
    """:func:`write_dist`."""
    return write_dist


@pytest.fixture(scope="session")
def conda_writer() -> Callable[..., Path]:
    """:func:`write_conda_record`."""
    return write_conda_record


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Environment]:
    """An Environment over tmp folders: ``make_env(prefix, site)``."""

    def make(prefix: Path | None = None, *sites: Path, version: str = "3.11.7") -> Environment:
        prefix = prefix or tmp_path / "prefix"
        prefix.mkdir(parents=True, exist_ok=True)
        return Environment(
            prefix, tuple(sites), version, stdlib_modules(parse_version(version)), prefix
        )

    return make
