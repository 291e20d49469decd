"""py-rattler's installer callbacks become download and install progress events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poncho_create.engine_rattler import solve
from poncho_create.progress import ProgressEvent, Reporter
from poncho_create.rattler_progress import InstallProgress


def test_install_progress_callbacks(mini_channel: Any, pkgs_dir: Path) -> None:
    # rattler calls these from its own threads, where coverage cannot see them: drive them here.
    records = solve(["mini-tool"], [mini_channel.url], "linux-64", pkgs_dir, Reporter(None))
    events: list[ProgressEvent] = []
    progress = InstallProgress(records, Reporter(events.append))
    total = sum(r.size for r in records)
    token = progress.on_populate_cache_start(0, "mini-tool")
    assert progress.on_download_start(token) == token
    progress.on_download_progress(token, 10, None)
    progress.on_download_completed(token)  # ignored callbacks accept anything
    progress.on_populate_cache_complete(token)
    progress.on_link_complete(0)
    progress.done()
    assert (events[2].phase, events[2].done, events[2].total) == ("download", 10, total)
    assert events[3].done == next(r.size for r in records if r.name.normalized == "mini-tool")
    assert events[-1] == ProgressEvent("install", 2, 2, "packages", finished=True)
    with pytest.raises(AttributeError):
        progress.not_a_callback  # noqa: B018
