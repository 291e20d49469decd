"""Where the data cache lives and how big it may grow, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from poncho_core.fs import parse_size
from poncho_fetch.errors import FetchError

__all__ = ["CACHE_ENV", "MAX_SIZE_ENV", "default_cache_dir", "max_size_from_env"]

CACHE_ENV = "PONCHO_FETCH_CACHE"
MAX_SIZE_ENV = "PONCHO_FETCH_MAX_SIZE"


def default_cache_dir() -> Path:
    """``$PONCHO_FETCH_CACHE``, else ``$XDG_CACHE_HOME/poncho/data``, else
    ``~/.cache/poncho/data``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "poncho" / "data"


def max_size_from_env() -> int | None:
    """The size limit ``$PONCHO_FETCH_MAX_SIZE`` gives, or None (no limit) when unset."""
    value = os.environ.get(MAX_SIZE_ENV, "").strip()
    if not value:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise FetchError(f"${MAX_SIZE_ENV}: {exc}") from None
