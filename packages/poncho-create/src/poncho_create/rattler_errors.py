"""py-rattler's failures worded for a user: which channel, which package, what to do."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from poncho_create._async import run_coroutine
from poncho_create.errors import ChannelError, CreateError, PackageNotFound, UnsatisfiableSpec
from poncho_spec import matchspec

__all__ = ["REMOTE_FIX", "channel_error", "channel_url", "local_folder", "solver_error"]

log = logging.getLogger(__name__)


def channel_error(message: str, channels: Sequence[str]) -> ChannelError:
    """A repodata failure as a short ChannelError naming the channel at fault and the fix
    for its kind of failure; py-rattler's full text is logged (shown under ``-v``)."""
    lines = [line.strip().removeprefix("Caused by: ") for line in message.strip().splitlines()]
    lines = [line for line in lines if line] or ["unknown error"]
    culprit = next(
        (
            c
            for c in channels
            if channel_url(c).rstrip("/") and channel_url(c).rstrip("/") in message
        ),
        None,
    )
    log.info("reading %s: %s", culprit or ", ".join(channels), "; ".join(lines))
    if culprit is None:
        detail = lines[0] + (f" ({lines[-1]})" if len(lines) > 1 else "")
        return ChannelError(f"cannot read the channels {', '.join(channels)}: {detail}")
    kind, problem, fix = _diagnose(culprit, message, lines[-1])
    return ChannelError(
        f"channel {culprit} {problem}" + (f"; {fix}" if fix else ""),
        channel=culprit,
        kind=kind,
        problem=problem,
        fix=fix,
    )


_HTTP_STATUS = re.compile(r"HTTP status (?:client|server) error \((\d{3})[^)]*\)")

REMOTE_FIX = (
    "to build from a local channel or a mirror, set PONCHO_OVERRIDE_CHANNELS or [poncho.mirrors]"
)
"""The fix for an unreachable remote channel that the user did not name themselves."""


def _diagnose(channel: str, message: str, reason: str) -> tuple[str, str, str]:
    """(kind, problem, fix) of a failure to read `channel`."""
    folder = local_folder(channel)
    if folder is not None:
        if not folder.is_dir():
            return "no folder", "is not there (no such folder)", ""
        return (
            "not a channel",
            "is not a conda channel: the folder has no noarch/repodata.json",
            f"index it first (conda index {folder})",
        )
    status = _HTTP_STATUS.search(message)
    if status and status.group(1) == "404":
        return "not found", "does not exist (HTTP 404 for its noarch/repodata.json)", ""
    if status:
        reason = f"HTTP {status.group(1)}"
    return "unreachable", f"is unreachable ({reason})", REMOTE_FIX


def local_folder(channel: str) -> Path | None:
    """The folder of a local channel (a path or a ``file://`` URL), else None."""
    if channel.startswith("file://"):
        return Path(url2pathname(urlsplit(channel).path))
    if channel.startswith(("/", "./", "../", "~")):
        return Path(channel).expanduser()
    return None


def channel_url(channel: str) -> str:
    """The base URL py-rattler reads for `channel` (the name itself if it cannot say)."""
    import rattler

    try:
        return str(rattler.Channel(channel).base_url)
    except Exception:
        return channel


_NO_CANDIDATES = re.compile(r"No candidates were found for (\S+)(?: (.+?))?\.?$", re.MULTILINE)


def solver_error(
    message: str,
    sources: Sequence[Any],
    platform: str,
    gateway: Any,
    specs: Sequence[str] = (),
) -> CreateError:
    """Turn rattler's SolverError text into our error: a missing package or a conflict.
    A version that matches nothing is quoted as requested (one of `specs`, ``python=3.12``),
    not as rattler rewrote it."""
    text = message.strip().removeprefix("Cannot solve the request because of: ")
    match = _NO_CANDIDATES.search(text)
    if match and text.startswith("No candidates"):
        name, constraint = match.group(1), (match.group(2) or "").strip()
        channels = ", ".join(str(getattr(s, "base_url", s)).rstrip("/") for s in sources)
        available = _available_versions(name, sources, platform, gateway)
        if not available:
            return PackageNotFound(
                f"conda package {name!r} does not exist in the channels {channels} "
                f"(platform {platform})"
            )
        requested = next(
            (s.strip() for s in specs if matchspec.package_name(s) == name.lower()), None
        )
        shown = ", ".join(available[-10:])
        return UnsatisfiableSpec(
            f"no version of conda package {name!r} matches "
            f"{requested or f'{name} {constraint}'.strip()!r} (available: {shown})"
        )
    return UnsatisfiableSpec(f"the conda dependencies cannot be satisfied together:\n{text}")


def _available_versions(
    name: str, sources: Sequence[Any], platform: str, gateway: Any
) -> list[str]:
    try:
        result = run_coroutine(
            gateway.query(
                sources, [platform, "noarch"], [name], recursive=False, channel_relations="disabled"
            )
        )
    except Exception:  # pragma: no cover - only used to word a message better
        return []
    versions = {str(record.version) for per_source in result for record in per_source}
    import rattler

    return sorted(versions, key=rattler.Version)
