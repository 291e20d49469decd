"""The Dask integration moved to its own distribution, `poncho_dask` (``pip install poncho-dask``).

This module stays so that code written for ``poncho-run[dask]`` (which now installs
poncho-dask) keeps working: it re-exports `poncho_dask`'s public names. Nothing imports it
but such code, so poncho-run itself never loads Dask. New code imports `poncho_dask`.
"""

from __future__ import annotations

try:
    from poncho_dask import *  # noqa: F403 - the same names, never a list of ours to drift
    from poncho_dask import __all__ as _names
except ImportError as exc:  # pragma: no cover - exercised without poncho-dask installed
    raise ImportError(
        f"poncho_run.dask is now poncho_dask ({exc}): pip install poncho-dask"
    ) from exc

__all__ = [name for name in _names if name != "__version__"]
