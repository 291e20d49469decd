"""Where a distribution was installed from, when not by name from an index.

PEP 610's ``direct_url.json`` (in the ``.dist-info``), written by pip for what it
installed from a URL or a folder rather than by name, has one of three shapes:

- ``dir_info``: a local folder (``pip install [-e] ./mylib``).  No index has that
  build: the spec names the folder, which poncho-create builds.
- ``vcs_info``: a repository (``pip install git+https://host/repo@v1``).  The spec gets
  the direct reference ``name @ git+URL@COMMIT`` (the commit, not the branch or tag that
  was asked: it is what was installed), with its ``#subdirectory=``.  A pin by version
  would install whatever an index has under that name, maybe another project.
- ``archive_info``: a file.  pip writes this shape both for a direct reference
  (``pip install https://host/pkg-1.0.tar.gz``) and for a file taken from an index by
  its exact URL (poncho-create replaying a lock installs ``name @ URL`` with its hash;
  a wheelhouse, ``file:`` URLs).  The file is the index's when its URL says so: a
  ``file:`` URL (a wheelhouse or a local archive, found by name with ``--find-links``),
  a PyPI host (``files.pythonhosted.org``, ``pypi.org``), or an index's path layout
  (``/packages/``, ``/simple/``, devpi's ``/+f/``): then the version pin stays, as pip
  would resolve it again.  Any other URL is a direct reference, ``name @ URL``, with
  ``#sha256=`` when pip recorded the hash.

Without ``direct_url.json`` (installed by name, from an index or ``--find-links``) the
version pin is right.  An ``.egg-info`` outside the environment is a
``setup.py develop`` of its project folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Origin", "origin"]

_INDEX_HOSTS = ("pythonhosted.org", "pypi.org", "pypi.python.org")
_INDEX_PATHS = ("/packages/", "/simple/", "/+f/")


@dataclass(frozen=True)
class Origin:
    """Where a distribution came from: a local *folder* (absolute) or a *direct* URL
    reference (the part after ``name @``), and *how*, for ``--explain``."""

    folder: str = ""
    direct: str = ""
    how: str = ""


def origin(meta: Path, prefix: Path) -> Origin:
    """The origin of the distribution whose metadata folder is *meta*, installed in the
    environment at *prefix*; ``Origin()`` when a version pin describes it."""
    if meta.suffix != ".dist-info":
        return _develop(meta, prefix)
    try:
        data = json.loads((meta / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Origin()
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        return Origin()
    where = f"{meta.name}/direct_url.json"
    if isinstance(data.get("dir_info"), dict):
        if not url.startswith("file:"):
            return Origin()
        from urllib.parse import unquote, urlsplit

        how = (
            "editable install of"
            if data["dir_info"].get("editable")
            else "installed from the folder"
        )
        return Origin(folder=unquote(urlsplit(url).path), how=how)
    subdirectory = data.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if isinstance(subdirectory, str) else ""
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("commit_id")
        at = f"@{commit}" if isinstance(commit, str) and commit else ""
        asked = vcs.get("requested_revision")
        asked_text = f", asked as {asked}" if isinstance(asked, str) and asked else ""
        return Origin(
            direct=f"{vcs['vcs']}+{url}{at}{fragment}",
            how=f"installed from {vcs['vcs']} {url} at {commit or 'an unknown commit'}"
            f"{asked_text} ({where}): a direct reference, since no index has this build",
        )
    archive = data.get("archive_info")
    if isinstance(archive, dict):
        if _index_file(url):
            return Origin(how=f"installed from the index file {url} ({where}), pinned by version")
        sha256 = _sha256(archive)
        digest = f"#sha256={sha256}" if sha256 and not fragment else ""
        return Origin(
            direct=f"{url}{fragment or digest}",
            how=f"installed from the URL {url} ({where}): a direct reference, not an index's",
        )
    return Origin()


def _index_file(url: str) -> bool:
    """Whether the archive at *url* is a file of an index or a wheelhouse (see above)."""
    from urllib.parse import urlsplit

    if url.startswith("file:"):
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _INDEX_HOSTS):
        return True
    return any(p in parts.path for p in _INDEX_PATHS)


def _sha256(archive: dict[str, Any]) -> str:
    hashes = archive.get("hashes")
    if isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str):
        return str(hashes["sha256"])
    legacy = archive.get("hash")
    if isinstance(legacy, str) and legacy.startswith("sha256="):
        return legacy.split("=", 1)[1]
    return ""


def _develop(meta: Path, prefix: Path) -> Origin:
    """An ``.egg-info`` outside the environment: ``setup.py develop`` of its project."""
    try:
        meta.resolve().relative_to(prefix.resolve())
        return Origin()
    except ValueError:
        pass
    for project in (meta.parent, meta.parent.parent):
        if any((project / f).is_file() for f in ("setup.py", "pyproject.toml", "setup.cfg")):
            return Origin(folder=str(project), how="development install (setup.py develop) of")
    return Origin()
