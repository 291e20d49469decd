"""The data fetcher a tarball carries: ``poncho/fetch.pyz``, for its own ``bin/run_in_env``.

TaskVine workers run ``bin/run_in_env CMD`` from the unpacked tarball and may have nothing
else: no ``poncho_package_run``, no poncho, no Python but the environment's. When the spec
names data (git/http), the tarball carries a zip of poncho-fetch with what it imports
(poncho-spec, poncho-core: standard library only; `requests` is replaced by
`poncho_fetch._stdlib_http` where the interpreter lacks it) and a ``__main__``
(`poncho_create._fetch_main`). ``run_in_env`` runs it with the environment's interpreter
(``python -E -s poncho/fetch.pyz PREFIX RUN_IN_ENV -- CMD``) when the data is not already
recorded: it fetches into the node's data cache (poncho-fetch's layout and locks, shared
with ``poncho_package_run``), records where each entry is (``poncho/data.sh``, served by
``run_in_env`` in sh on later runs), and execs ``run_in_env`` again with the variables
set and the in-use locks inherited.

The sources are the installed packages' (the versions poncho-create resolved), zipped with
a fixed date so that the same sources give the same bytes.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["FETCHER", "PACKAGES", "fetcher_zip", "names_data", "write_fetcher"]

#: Where the fetcher goes in the tarball, relative to the prefix.
FETCHER = "poncho/fetch.pyz"
#: The packages the fetcher carries (poncho-fetch and what it imports).
PACKAGES = ("poncho_fetch", "poncho_spec", "poncho_core")
_DATE = (2020, 1, 1, 0, 0, 0)
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".so", ".typed")


def names_data(spec_dict: Mapping[str, Any]) -> bool:
    """Whether the spec (as a dict) names git or http data."""
    return any(spec_dict.get(key) for key in ("git", "http"))


def _package_files(name: str) -> dict[str, bytes]:
    """``{NAME/relative path: bytes}`` of the installed package `name`."""
    found = importlib.util.find_spec(name)
    folders = list(found.submodule_search_locations or ()) if found is not None else []
    if not folders:
        raise ModuleNotFoundError(f"{name} is not installed (poncho-create needs it)", name=name)
    files = {}
    root = Path(folders[0])
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in _SKIPPED_SUFFIXES:
            continue
        files[f"{name}/{rel.as_posix()}"] = path.read_bytes()
    return files


def fetcher_zip() -> bytes:
    """The bytes of ``poncho/fetch.pyz``."""
    main = resources.files("poncho_create").joinpath("_fetch_main.py").read_bytes()
    members = {"__main__.py": main}
    for name in PACKAGES:
        members.update(_package_files(name))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, _DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_fetcher(prefix: Path, spec_dict: Mapping[str, Any]) -> Path | None:
    """Write ``poncho/fetch.pyz`` into `prefix` when the spec names data; its path, or None."""
    if not names_data(spec_dict):
        return None
    path = prefix / FETCHER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fetcher_zip())
    path.chmod(0o644)
    return path
