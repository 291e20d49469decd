"""Run every benchmark of the monorepo and print one table of ratios.

Usage: python benchmarks/run.py [--quick] [--only AREA ...] [--results FILE]
(one area alone, e.g. the edit loop: python benchmarks/run.py --only edit)

Each area module (`bench_<area>.py`) measures ours and a baseline in the same run and returns
rows (see `_rows`); the ratio column is ours / baseline (lower is better unless the note says
otherwise). Figures are seconds, or MB where the cell says so (tarball sizes). A row that
cannot be measured here (e.g. no network and no wheelhouse for the real environment) is
printed as skipped, with the reason, on stderr at once and in the table.
With --results the table is also written, with a header naming the machine, to FILE.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import os
import platform
import sys
import tempfile
from pathlib import Path

AREAS = ["analyze", "create", "inspect", "run", "edit"]
HERE = Path(__file__).resolve().parent


def machine() -> str:
    """Describe the machine the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def table(rows: list[dict[str, object]]) -> str:
    """Format rows as a Markdown table."""
    head = "| area | benchmark | ours (s) | baseline | baseline (s) | ratio | note |"
    lines = [head, "|---|---|---:|---|---:|---:|---|"]
    for row in rows:
        if "skipped" in row:
            lines.append(
                f"| {row['area']} | {row['benchmark']} | | | | | skipped: {row['skipped']} |"
            )
            continue
        ours = float(row["ours_s"])  # type: ignore[arg-type]
        base = float(row["baseline_s"])  # type: ignore[arg-type]
        ratio = ours / base if base else float("inf")
        if row.get("unit", "s") == "s":
            ours_text, base_text = f"{ours:.4f}", f"{base:.4f}"
        else:
            ours_text, base_text = f"{ours:.1f} {row['unit']}", f"{base:.1f} {row['unit']}"
        lines.append(
            f"| {row['area']} | {row['benchmark']} | {ours_text} | {row['baseline']} | "
            f"{base_text} | {ratio:.2f} | {row.get('note', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, few repetitions")
    parser.add_argument("--only", nargs="+", choices=AREAS, default=AREAS)
    parser.add_argument("--results", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    # The libraries log their warnings (e.g. 'the spec's channel is a local folder'), once
    # per repetition: the table is what matters here.
    logging.basicConfig(level=logging.ERROR)
    sys.path.insert(0, str(HERE))
    rows: list[dict[str, object]] = []
    for area in args.only:
        module = importlib.import_module(f"bench_{area}")
        with tempfile.TemporaryDirectory(prefix=f"poncho-bench-{area}-") as work:
            for row in module.run(Path(work), quick=args.quick):
                rows.append({"area": area, **row})
                if "skipped" in row:
                    print(
                        f"[{area}] skipped: {row['benchmark']}: {row['skipped']}", file=sys.stderr
                    )
        print(f"[{area}] done", file=sys.stderr)
    text = table(rows)
    print(text)
    if args.results:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        quick = " (quick)" if args.quick else ""
        args.results.write_text(
            f"# Benchmark results{quick}\n\nMeasured {stamp} on {machine()}.\n"
            f"Command: `make bench` (`python benchmarks/run.py`). "
            f"Ratio = ours / baseline, both measured in the same run.\n\n{text}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
