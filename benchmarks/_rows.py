"""The rows the benchmark modules return, and the size rows (a tarball against another).

A row is a dict: ``benchmark`` (its name), ``ours_s`` and ``baseline_s`` (seconds, or the
``unit`` given: ``"MB"`` for sizes), ``baseline`` (what was measured beside ours) and
``note``. A row with ``skipped`` (one line saying why) has no figures: the table prints it
as skipped (e.g. no network and no wheelhouse cache for the real environment).
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any


def row(name: str, ours: float, baseline: str, base: float, note: str) -> dict[str, Any]:
    """A timed row: `ours` and `base` in seconds, measured in the same run."""
    return {
        "benchmark": name,
        "ours_s": ours,
        "baseline": baseline,
        "baseline_s": base,
        "note": note,
    }


def skipped(name: str, reason: str) -> dict[str, Any]:
    """A row that could not be measured here, with the one-line reason."""
    return {"benchmark": name, "skipped": reason}


def unpacked_bytes(tarball: Path) -> int:
    """The bytes of the regular files a tarball holds (its size on disk once unpacked,
    before relocation), read from its member headers."""
    with tarfile.open(tarball) as tar:
        return sum(member.size for member in tar if member.isfile())


def size_row(
    name: str, tarball: Path, baseline: str, other: Path | int, note: str = ""
) -> dict[str, Any]:
    """The size of `tarball` against `other`: another tarball (e.g. the same environment
    packed as one gzip stream against an indexed tarball, or at another level), or a byte
    count (e.g. :func:`unpacked_bytes` of the same tarball). The ratio is ours / other; the
    figures are MB (10^6 bytes)."""
    ours = tarball.stat().st_size
    base = other if isinstance(other, int) else other.stat().st_size
    return {
        "benchmark": name,
        "ours_s": ours / 1e6,
        "baseline": baseline,
        "baseline_s": base / 1e6,
        "unit": "MB",
        "note": note,
    }


def line(found: dict[str, Any]) -> str:
    """One row as one line (the benchmark modules run alone print these)."""
    if "skipped" in found:
        return f"  skip  {found['benchmark']}: {found['skipped']}"
    ours, base = float(found["ours_s"]), float(found["baseline_s"])
    ratio = ours / base if base else float("inf")
    unit = found.get("unit", "s")
    return (
        f"{ratio:6.2f}  {ours:.4f} / {base:.4f} {unit}  {found['benchmark']}  "
        f"({found['baseline']}; {found['note']})"
    )
