"""poncho-create on the demo environment: time per phase, the cache hit, and packing
against plain `tar` with the same compressor on the same prefix (all in the same run).

Demo environment: python, poncho-demo-app (noarch, with a dependency and an entry point),
poncho-demo-activate, and the pip wheel poncho-demo-piptop (with its dependency) from the
local wheelhouse; every build starts from an empty package cache. The tarball's size (the
default level) is a row too, against the size of its files unpacked.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from _rows import size_row, unpacked_bytes


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _phases(events: list[tuple[float, Any]], start: float) -> dict[str, float]:
    """Seconds spent in each phase: first event of the phase to its finished event."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for stamp, event in events:
        first.setdefault(event.phase, stamp)
        if event.finished:
            last[event.phase] = stamp
    out = {phase: last[phase] - first[phase] for phase in last}
    # rattler downloads and links in one transaction: report them together as well.
    if "download" in first and "install" in last:
        out["download+install"] = last["install"] - first["download"]
    out["total"] = max(last.values()) - start
    return out


def _timed(cmd: list[str]) -> float:
    begin = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - begin


def run(workdir: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Measure; see the module docstring."""
    from poncho_create import create
    from poncho_create.pack import pack_prefix
    from poncho_create.progress import Reporter
    from poncho_testing import build_channel
    from poncho_testing.wheels import build_wheelhouse

    reps = 1 if quick else 3
    channel = build_channel()
    wheelhouse = build_wheelhouse()
    spec = {
        "conda": {
            "channels": [channel.url],
            "dependencies": [
                "python",
                "poncho-demo-app",
                "poncho-demo-activate",
                {"pip": ["poncho-demo-piptop"]},
            ],
        }
    }
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    pip_options = {"no_index": True, "find_links": [str(wheelhouse.path)]}
    threads = os.cpu_count() or 1

    phase_runs: list[dict[str, float]] = []
    hits: list[float] = []
    for rep in range(reps):
        root = workdir / f"build{rep}"
        events: list[tuple[float, Any]] = []
        start = time.perf_counter()
        tarball = create(
            spec_path,
            cache_dir=root / "envs",
            pkgs_dir=root / "pkgs",
            tmp_dir=root / "tmp",
            keep_prefix=root / "prefix",
            progress=lambda e, events=events: events.append((time.perf_counter(), e)),
            **pip_options,
        )
        phase_runs.append(_phases(events, start))
        begin = time.perf_counter()
        again = create(spec_path, cache_dir=root / "envs", pkgs_dir=root / "pkgs", **pip_options)
        hits.append(time.perf_counter() - begin)
        assert again == tarball
    size_mb = tarball.stat().st_size / 1e6
    size = size_row(
        "demo env: tarball size, default level",
        tarball,
        "unpacked size (its files)",
        unpacked_bytes(tarball),
        "ratio = compressed / unpacked",
    )

    # Packing the last kept prefix: ours (conda-pack through poncho-create) against tar.
    prefix = workdir / f"build{reps - 1}" / "prefix"
    pack_rows = []
    gzip_level, zstd_level = 4, 3
    for fmt, level, tar_cmd, label in (
        ("tar.gz", gzip_level, f"gzip -{gzip_level}", f"tar + gzip -{gzip_level} (1 thread)"),
        ("tar.zst", zstd_level, f"zstd -{zstd_level} -T{threads}",
         f"tar + zstd -{zstd_level} -T{threads}"),
    ):  # fmt: skip
        ours, base = [], []
        for i in range(reps):
            out = workdir / f"ours{i}.{fmt}"
            begin = time.perf_counter()
            pack_prefix(prefix, out, fmt, level=level, threads=threads, report=Reporter(None))
            ours.append(time.perf_counter() - begin)
            ours_size = out.stat().st_size
            out.unlink()
            base_out = workdir / f"tar{i}.{fmt}"
            base.append(
                _timed(["tar", "-C", str(prefix), "-I", tar_cmd, "-cf", str(base_out), "."])
            )
            base_size = base_out.stat().st_size
            base_out.unlink()
        pack_rows.append(
            {
                "benchmark": f"demo prefix packed, {fmt} level {level}: indexed tarball size",
                "ours_s": ours_size / 1e6,
                "baseline": f"the same files as one stream ({label.split(' (')[0]})",
                "baseline_s": base_size / 1e6,
                "unit": "MB",
                "note": "issue 23 target <= 1.03 (one member per package, index and footer)",
            }
        )
        pack_rows.append(
            {
                "benchmark": f"pack the demo prefix, {fmt} level {level}",
                "ours_s": _median(ours),
                "baseline": label,
                "baseline_s": _median(base),
                "note": f"{threads} threads for ours; sizes {ours_size / 1e6:.1f} MB vs "
                f"{base_size / 1e6:.1f} MB; ours also rewrites prefixes and adds conda-unpack",
            }
        )

    total = _median([p["total"] for p in phase_runs])
    rows: list[dict[str, Any]] = []
    for phase in ("solve", "download+install", "pip", "pack"):
        rows.append(
            {
                "benchmark": f"cold create, phase: {phase}",
                "ours_s": _median([p.get(phase, 0.0) for p in phase_runs]),
                "baseline": "whole cold create",
                "baseline_s": total,
                "note": "ratio = share of the whole build"
                + (f"; tarball {size_mb:.1f} MB (tar.gz)" if phase == "pack" else ""),
            }
        )
    rows.append(
        {
            "benchmark": "create again (cache hit)",
            "ours_s": _median(hits),
            "baseline": "cold create of the same spec",
            "baseline_s": total,
            "note": "in-process; no solving, no repodata",
        }
    )
    rows += [size, *pack_rows]
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(exist_ok=True)
    return rows


if __name__ == "__main__":  # pragma: no cover
    import tempfile

    from _rows import line

    with tempfile.TemporaryDirectory() as tmp:
        for row in run(Path(tmp), quick=True):
            print(line(row))
