"""CCTools' ``poncho.package_create`` API, on this Poncho's engine (py-rattler + conda-pack).

Code written for CCTools keeps working with only its import changed::

    from poncho import package_create            # was: from ndcctools.poncho import package_create

    tarball = package_create.dict_to_env(spec)   # cached in .poncho_cache by the spec's content
    package_create.pack_env("spec.json", "env.tar.gz")
    package_create.pack_env("my-conda-env", "env.tar.gz")       # an env name or folder
    package_create.pack_env_from_dict(spec, "env.tar.gz")

Same names, parameters and defaults as CCTools (`pack_env` and `pack_env_from_dict`
create OUTPUT's missing folders, as CCTools did through conda-pack). Differences: micromamba
is never downloaded (`download_micromamba` is accepted and ignored: no conda executable is needed);
`conda_executable`, when given, builds the conda part with that executable instead of
py-rattler; errors are :class:`poncho.PonchoError` subclasses with a message naming the
problem, not ``sys.exit``; nothing is printed (the ``poncho_create`` logger reports).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

__all__ = ["DEFAULT_CACHE_PATH", "dict_to_env", "pack_env", "pack_env_from_dict"]

DEFAULT_CACHE_PATH = ".poncho_cache"
"""Where :func:`dict_to_env` caches tarballs when no `cache_path` is given (as CCTools)."""

SpecLike = Union[Mapping[str, Any], str]  # noqa: UP007 - a runtime alias on Python 3.10


def dict_to_env(
    spec: SpecLike,
    conda_executable: str | None = None,
    download_micromamba: bool = False,
    ignore_editable_packages: bool = False,
    cache: bool = True,
    cache_path: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> str:
    """Build the environment of `spec` (a dict, or its JSON text) and return the tarball's
    path, ``<cache_path>/<spec hash>-<platform>[-<digest>].tar.gz`` (the spec hash is the
    sha256 of its canonical form: the same content in another order or form is the same
    tarball; the digest covers local pip sources, as `poncho_create.create` names entries).

    A tarball already built from the same inputs is returned at once, unless `force`, which
    builds again and replaces that entry. With ``cache=False`` a new tarball
    ``<spec hash>-<platform>.tar.gz`` is written to the current folder instead (`cache_path`
    is not written; the user's environment cache serves and keeps it, as for every
    create). Concurrent calls for one spec build it once.
    """
    from poncho_create import create

    loaded = _spec(spec)
    options = _options(conda_executable, ignore_editable_packages)
    if cache:
        folder = Path(cache_path if cache_path is not None else DEFAULT_CACHE_PATH)
        return str(create(loaded, cache_dir=folder, force=force, **options))
    from poncho_create.cache import cache_name
    from poncho_create.options import native_platform

    name = cache_name(loaded.hash(), native_platform(), "tar.gz")
    return str(create(loaded, Path(name), force=force, **options))


def pack_env(
    spec: str | os.PathLike[str],
    output: str | os.PathLike[str],
    conda_executable: str | None = None,
    download_micromamba: bool = False,
    ignore_editable_packages: bool = False,
) -> str:
    """Pack into `output`: a spec file (``"-"`` = stdin), or an existing conda environment,
    by folder or by name (packed as it is). Returns `output`."""
    from poncho_create import create

    options = _options(conda_executable, ignore_editable_packages)
    return str(create(os.fspath(spec), _parents_made(output), **options))


def pack_env_from_dict(
    spec: SpecLike,
    output: str | os.PathLike[str],
    conda_executable: str | None = None,
    download_micromamba: bool = False,
    ignore_editable_packages: bool = False,
) -> str:
    """Build the environment of `spec` (a dict, or its JSON text) into `output`; returns
    `output`."""
    from poncho_create import create

    options = _options(conda_executable, ignore_editable_packages)
    return str(create(_spec(spec), _parents_made(output), **options))


def _parents_made(output: str | os.PathLike[str]) -> str | os.PathLike[str]:
    # CCTools packed with conda-pack's force=True, which creates OUTPUT's missing folders;
    # create itself refuses them, so the historic API makes them first (where it cannot,
    # create names the problem).
    with contextlib.suppress(OSError):
        Path(output).parent.mkdir(parents=True, exist_ok=True)
    return output


def _spec(spec: SpecLike) -> Any:
    from poncho_spec import Spec, loads_spec

    if isinstance(spec, str):
        return loads_spec(spec, source="<spec>")
    return Spec.from_dict(json.loads(json.dumps(spec)), source="<spec>")


def _options(conda_executable: str | None, ignore_editable_packages: bool) -> dict[str, Any]:
    return {
        "conda_exe": conda_executable,
        "ignore_editable_packages": bool(ignore_editable_packages),
        "progress": None,
    }
