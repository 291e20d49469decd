"""Write a pure-python wheel by hand (zip + METADATA, WHEEL, RECORD with hashes).

Standard library only and free of package-relative imports: this file is also copied as-is
into the in-tree build backend of :func:`poncho_testing.make_local_project`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# A fixed date: the same inputs give the same bytes (and sha256).
_DATE = (2020, 1, 1, 0, 0, 0)


def normalize(name: str) -> str:
    """The wheel file name form of a project name (``poncho-demo-x`` -> ``poncho_demo_x``)."""
    return name.replace("-", "_").replace(".", "_").lower()


def write_wheel(
    dest_dir: str | os.PathLike[str],
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    requires: Iterable[str] = (),
    console_scripts: Iterable[str] = (),
    summary: str = "",
    extra_dist_info: Mapping[str, bytes] | None = None,
    tag: str = "py3-none-any",
    executables: Iterable[str] = (),
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``dest_dir``; return its path.

    A `tag` other than ``py3-none-any`` makes a platform wheel (``Root-Is-Purelib: false``);
    the paths in `executables` get mode 755. Files of ``<name>-<version>.data/scripts/``
    are installed into the environment's ``bin``.
    """
    dist = f"{normalize(name)}-{version}"
    dist_info = f"{dist}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        metadata.append(f"Summary: {summary}")
    metadata += [f"Requires-Dist: {req}" for req in requires]
    members = dict(files)
    members[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: poncho-testing\n"
        f"Root-Is-Purelib: {'true' if tag == 'py3-none-any' else 'false'}\nTag: {tag}\n"
    ).encode()
    scripts = list(console_scripts)
    if scripts:
        text = "[console_scripts]\n" + "".join(f"{s}\n" for s in scripts)
        members[f"{dist_info}/entry_points.txt"] = text.encode()
    for rel, data in (extra_dist_info or {}).items():
        members[f"{dist_info}/{rel}"] = data
    record_path = f"{dist_info}/RECORD"
    rows = [f"{p},sha256={record_digest(d)},{len(d)}" for p, d in sorted(members.items())]
    members[record_path] = ("\n".join([*rows, f"{record_path},,"]) + "\n").encode()

    target = Path(dest_dir) / f"{dist}-{tag}.whl"
    executable = set(executables)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, data in members.items():  # RECORD last, as the spec asks
                info = zipfile.ZipInfo(path, date_time=_DATE)
                # pip keeps the executable bit only of members marked as regular files.
                mode = stat.S_IFREG | 0o755 if path in executable else 0o644
                info.external_attr = mode << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def record_digest(data: bytes) -> str:
    """The ``sha256=`` value of a RECORD line: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
