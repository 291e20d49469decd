"""py-rattler's failures worded for a user: which channel, which package, what to do."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from poncho_create._async import run_coroutine
from poncho_create.errors import ChannelError, CreateError, PackageNotFound, UnsatisfiableSpec

__all__ = ["channel_error", "channel_url", "solver_error"]


def channel_error(message: str, channels: Sequence[str]) -> ChannelError:
    """A repodata failure as a ChannelError naming the channel at fault and the remedy."""
    lines = message.strip().splitlines()
    detail = lines[0] if lines else "unknown error"
    if len(lines) > 1:
        detail += f" ({lines[-1].removeprefix('Caused by: ')})"
    culprit = next(
        (
            c
            for c in channels
            if channel_url(c).rstrip("/") and channel_url(c).rstrip("/") in message
        ),
        None,
    )
    if culprit is None:
        return ChannelError(f"cannot read the channels {', '.join(channels)}: {detail}{_REMEDY}")
    return ChannelError(f"channel {culprit} is unreachable or missing: {detail}{_REMEDY}")


_REMEDY = (
    "; to build from a mirror or a local channel, give it with --channel URL "
    "--override-channels, PONCHO_CHANNELS, or [poncho] mirrors in the config file "
    "(~/.config/poncho/config.toml)"
)


def channel_url(channel: str) -> str:
    """The base URL py-rattler reads for `channel` (the name itself if it cannot say)."""
    import rattler

    try:
        return str(rattler.Channel(channel).base_url)
    except Exception:
        return channel


# "No candidates were found for numpy ==1.24.2 py311_0." (the spec as the solver got it)
_NO_CANDIDATES = re.compile(
    r"No candidates were found for ([A-Za-z0-9_.\-]+)(?: ([^\n]+?))?\.?(?:\n|$)"
)


def solver_error(message: str, sources: Sequence[Any], platform: str, gateway: Any) -> CreateError:
    """Turn rattler's SolverError text into our error: a missing package or a conflict."""
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
        shown = ", ".join(available[-10:])
        return UnsatisfiableSpec(
            f"no version of conda package {name!r} matches {constraint!r} (available: {shown})"
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
