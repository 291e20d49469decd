"""The one-call API: fetch a spec's data and get the environment variables for the task."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from poncho_core.compression import DEFAULT_MAX_RATIO
from poncho_fetch.cache import DataCache

if TYPE_CHECKING:
    from poncho_fetch.http import RetryPolicy
    from poncho_spec import Spec

__all__ = ["env_lines", "fetch"]


def fetch(
    spec: Spec,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    max_bytes: int | None = None,
    policy: RetryPolicy | None = None,
    max_ratio: float | None = DEFAULT_MAX_RATIO,
) -> dict[str, str]:
    """Make every git and http entry of `spec` available in the cache.

    Returns ``{VAR: absolute path}``: for ``git``, the checkout; for ``http`` of type
    ``file``, the downloaded (and, with ``compression``, decompressed) file, named after the
    URL; for type ``tar``, the folder the archive was extracted into, as is (an archive
    holding a single top-level folder gives a folder holding that folder). Nothing stays
    locked afterwards: a task should rather use ``DataCache(...).using(spec)``, which keeps
    the entries safe from eviction while it runs.

    `max_bytes` bounds each entry and the cache (see :class:`DataCache`), `policy` the
    retries, timeouts and deadline of each entry, `max_ratio` decompression. Every entry is
    tried; the failures are raised at the end (FetchFailed when there are several).
    """
    cache = DataCache(cache_dir, max_bytes, policy=policy, max_ratio=max_ratio)
    with cache.using(spec) as env:
        return env


def env_lines(env: Mapping[str, str], *, shell: bool = False) -> list[str]:
    """``VAR=path`` lines, or with `shell` ``export VAR='path'`` lines for POSIX sh."""
    if not shell:
        return [f"{var}={path}" for var, path in env.items()]
    return [f"export {var}={_sh_quote(path)}" for var, path in env.items()]


def _sh_quote(text: str) -> str:
    """Single-quoted for POSIX sh, always (a quote inside becomes '\\'')."""
    return "'" + text.replace("'", "'\\''") + "'"
