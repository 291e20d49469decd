"""The embedded engine: solving, installing (from a file:// and an http:// channel), locks."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from poncho_create import (
    ChannelError,
    CondaLockEntry,
    CreateError,
    Lock,
    LockError,
    UnsatisfiableSpec,
)
from poncho_create.engine_rattler import (
    build_prefix,
    install,
    records_from_lock,
    solve,
    virtual_packages,
)
from poncho_create.progress import ProgressEvent, Reporter


def names(packages: list[Any]) -> dict[str, str]:
    out = {}
    for p in packages:
        generic = p.into_generic() if hasattr(p, "into_generic") else p
        out[generic.name.normalized] = str(generic.version)
    return out


def test_virtual_packages_for_other_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CONDA_OVERRIDE_GLIBC", "CONDA_OVERRIDE_OSX", "CONDA_OVERRIDE_CUDA"):
        monkeypatch.delenv(var, raising=False)
    assert names(virtual_packages("linux-aarch64", native=False)) == {
        "__unix": "0", "__linux": "5.10", "__glibc": "2.17",
    }  # fmt: skip
    assert names(virtual_packages("osx-arm64", native=False)) == {"__unix": "0", "__osx": "11.0"}
    assert names(virtual_packages("win-64", native=False)) == {"__win": "0"}
    monkeypatch.setenv("CONDA_OVERRIDE_GLIBC", "2.28")
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.2")
    assert names(virtual_packages("linux-64", native=False))["__glibc"] == "2.28"
    assert names(virtual_packages("linux-64", native=False))["__cuda"] == "12.2"
    assert "__unix" in names(virtual_packages("linux-64", native=True))


def test_solve_from_inside_a_running_event_loop(mini_channel: Any, pkgs_dir: Path) -> None:
    async def inside() -> list[Any]:
        return solve(["mini-tool"], [mini_channel.url], "linux-64", pkgs_dir, Reporter(None))

    records = asyncio.run(inside())
    assert sorted(r.name.normalized for r in records) == ["mini-base", "mini-tool"]
    assert {str(r.version) for r in records} == {"1.0", "2.0"}


def test_errors_raised_inside_a_running_loop_come_out(pkgs_dir: Path, tmp_path: Path) -> None:
    async def inside() -> None:
        solve(["x"], [(tmp_path / "none").as_uri()], "linux-64", pkgs_dir, Reporter(None))

    with pytest.raises(ChannelError):
        asyncio.run(inside())


def test_invalid_dependency_and_channel(mini_channel: Any, pkgs_dir: Path) -> None:
    with pytest.raises(CreateError, match="invalid conda dependency"):
        solve(["mini-tool ==="], [mini_channel.url], "linux-64", pkgs_dir, Reporter(None))
    with pytest.raises(ChannelError, match="invalid channel"):
        solve(["mini-tool"], ["ht!tp://::"], "linux-64", pkgs_dir, Reporter(None))


def test_http_channel_downloads_with_progress(
    mini_channel: Any, http_server: Any, tmp_path: Path
) -> None:
    shutil.copytree(mini_channel.path, http_server.root / "channel")
    events: list[ProgressEvent] = []
    prefix = tmp_path / "env"
    build_prefix(["mini-tool"], [f"{http_server.url}/channel"], "linux-64", prefix,
                 tmp_path / "fresh-pkgs", Reporter(events.append), native=True)  # fmt: skip
    assert (prefix / "bin" / "mini-tool").exists()
    download = [e for e in events if e.phase == "download"]
    assert download[0].done == 0 and download[-1].finished
    assert download[-1].done == download[-1].total > 0
    assert any(e.done > 0 for e in download[1:-1])
    assert any("noarch/mini-tool-1.0-0.tar.bz2" in r for r in http_server.requests)
    installed = [e for e in events if e.phase == "install"]
    assert [e.done for e in installed if e.done] == [1, 2, 2]


def test_install_failure_is_a_create_error(
    mini_channel: Any, tmp_path: Path, pkgs_dir: Path
) -> None:
    channel = tmp_path / "channel"
    shutil.copytree(mini_channel.path, channel)
    records = solve(["mini-tool"], [channel.as_uri()], "linux-64", pkgs_dir, Reporter(None))
    (channel / "noarch" / "mini-tool-1.0-0.tar.bz2").unlink()
    with pytest.raises(CreateError, match="installing the conda packages failed"):
        install(records, tmp_path / "env", tmp_path / "empty-pkgs", "linux-64", Reporter(None))


def lock_entries(records: list[Any]) -> tuple[CondaLockEntry, ...]:
    return tuple(
        CondaLockEntry(
            r.name.normalized,
            str(r.version),
            str(r.build),
            r.channel,
            r.url,
            r.sha256.hex() if r.sha256 else None,
        )
        for r in records
    )


def test_records_from_lock(mini_channel: Any, pkgs_dir: Path) -> None:
    assert records_from_lock(Lock("linux-64", "h"), pkgs_dir) == []
    records = solve(["mini-tool"], [mini_channel.url], "linux-64", pkgs_dir, Reporter(None))
    entries = lock_entries(records)
    again = records_from_lock(Lock("linux-64", "h", conda=entries), pkgs_dir)
    assert sorted(r.url for r in again) == sorted(r.url for r in records)
    changed = (dataclasses.replace(entries[0], sha256="0" * 64),)
    with pytest.raises(LockError, match="changed: sha256"):
        records_from_lock(Lock("linux-64", "h", conda=changed), pkgs_dir)
    missing_channel = (
        CondaLockEntry("mini-tool", "1.0", "0", "", "file:///nowhere/noarch/x", None),
    )
    with pytest.raises(ChannelError, match="file:///nowhere"):
        records_from_lock(Lock("linux-64", "h", conda=missing_channel), pkgs_dir)


def test_a_lock_whose_packages_are_cached_asks_no_channel(
    mini_channel: Any, http_server: Any, tmp_path: Path
) -> None:
    shutil.copytree(mini_channel.path, http_server.root / "channel")
    url, pkgs = f"{http_server.url}/channel", tmp_path / "pkgs"
    records = solve(["mini-tool"], [url], "linux-64", pkgs, Reporter(None))
    install(records, tmp_path / "env", pkgs, "linux-64", Reporter(None))
    lock = Lock("linux-64", "h", conda=lock_entries(records))
    asked = len(http_server.requests)

    again = records_from_lock(lock, pkgs)
    assert lock_entries(again) == lock.conda
    install(again, tmp_path / "again", pkgs, "linux-64", Reporter(None))
    assert (tmp_path / "again" / "bin" / "mini-tool").read_text().startswith("#!/bin/sh")
    assert http_server.requests[asked:] == []

    # The cache is trusted only to the lock's sha256: without one, the channel is asked.
    unchecked = Lock("linux-64", "h", conda=tuple(
        dataclasses.replace(e, sha256=None) for e in lock.conda))  # fmt: skip
    assert sorted(r.url for r in records_from_lock(unchecked, pkgs)) == sorted(
        e.url for e in lock.conda
    )
    assert any("repodata" in r for r in http_server.requests[asked:])

    # With the channel gone, the cached packages still rebuild; uncached ones cannot.
    shutil.rmtree(http_server.root / "channel")
    assert lock_entries(records_from_lock(lock, pkgs)) == lock.conda
    with pytest.raises(ChannelError, match="/channel"):
        records_from_lock(lock, tmp_path / "empty-pkgs")


def test_a_version_that_matches_nothing_is_quoted_as_requested(
    mini_channel: Any, pkgs_dir: Path
) -> None:
    """F5: 'python=3.12' used to be reported as matching '3' (the constraint cut at a dot)."""
    for spec in ("mini-base=2.0.1", "mini-base>=3.1", "mini-base 3.1.*"):
        with pytest.raises(UnsatisfiableSpec) as caught:
            solve([spec], [mini_channel.url], "linux-64", pkgs_dir, Reporter(None))
        assert str(caught.value) == (
            f"no version of conda package 'mini-base' matches {spec!r} (available: 1.0, 2.0)"
        )
