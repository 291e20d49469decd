"""``poncho cache list|prune``: what Poncho's caches hold on this machine, and cleaning them.

A thin layer over :mod:`poncho.caches`; entries in use by a build or a task are never removed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from poncho.caches import KINDS, CacheReport, list_caches, parse_age, prune_caches
from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    report_error,
    verbosity,
)
from poncho_core.fs import parse_size
from poncho_spec import PonchoError

__all__ = ["main"]

PROG = "poncho cache"
T = TypeVar("T")


_EPILOG = epilog(
    exit_status=[("0", "done"), ("1", "an error"), ("2", "bad usage")],
    environment=[
        ("PONCHO_ENVS_DIR", "the environment cache (default ~/.cache/poncho/envs)"),
        ("PONCHO_FETCH_CACHE", "the data cache (default ~/.cache/poncho/data)"),
        ("PONCHO_PKGS_DIR", "the package cache (default ~/.cache/poncho/pkgs)"),
        ("PONCHO_RUN_STORE", "poncho_package_run's node store (the default of --store-dir)"),
        ("XDG_CACHE_HOME", "where the default data and package caches live"),
    ],
)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser of ``poncho cache``."""
    parser = ArgumentParser(
        prog=prog,
        description="List or prune Poncho's caches on this machine: envs (environment "
        "tarballs), layers (installed conda parts that builds reuse, in the envs cache), "
        "data (git/http data of specs), pkgs (conda package downloads) and "
        "store (poncho_package_run's node store, where its place is given). "
        "Entries a running build or task uses, and store files an environment folder "
        "links, are never removed.",
        epilog=_EPILOG,
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="list|prune")
    for action, text in (
        ("list", "show each cache's entries, sizes and last use (-v: their paths)"),
        ("prune", "remove entries by age (--older-than) or size (--max-size); -q: say nothing"),
    ):
        cmd = sub.add_parser(
            action, help=text, description=text[0].upper() + text[1:] + ".", epilog=_EPILOG
        )
        add_verbosity_options(cmd)
        cmd.add_argument(
            "kinds", nargs="*", metavar="CACHE", help=f"which caches ({', '.join(KINDS)}; all)"
        )
        cmd.add_argument(
            "--envs-dir", type=Path, metavar="DIR", help="the environment cache (and its layers)"
        )
        cmd.add_argument("--data-dir", type=Path, metavar="DIR", help="the data cache")
        cmd.add_argument("--pkgs-dir", type=Path, metavar="DIR", help="the package cache")
        cmd.add_argument(
            "--store-dir",
            type=Path,
            metavar="DIR",
            help="the node store, or the folder of the environment folders (-u DIR) it serves",
        )
        cmd.add_argument(
            "--json",
            action="store_true",
            help="print JSON (schema: docs/schemas/cache.schema.json)",
        )
        if action == "prune":
            cmd.add_argument(
                "--older-than",
                metavar="AGE",
                type=_checked(parse_age),
                help="remove entries last used longer ago: 30d, 12h, 15m, 2w (a unit is required)",
            )
            cmd.add_argument(
                "--max-size",
                metavar="SIZE",
                type=_checked(parse_size),
                help="then remove the least recently used until each cache holds "
                "at most SIZE (50G, 500M)",
            )
            cmd.add_argument(
                "-n",
                "--dry-run",
                action="store_true",
                help="show what would be removed, remove nothing",
            )
            cmd.add_argument(
                "-y",
                "--yes",
                action="store_true",
                help="do not ask for confirmation (asked only when stdin is a terminal)",
            )
    return parser


def _checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` as an argparse type: its ValueError becomes a usage error (exit 2)."""

    def checked(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    checked.__name__ = parse.__name__
    return checked


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run ``poncho cache``; returns the exit status."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    level = verbosity(parser, args)
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown cache {unknown[0]!r} (caches: {', '.join(KINDS)})")
    kinds = list(dict.fromkeys(args.kinds)) or None
    dirs = {
        "envs_dir": args.envs_dir,
        "data_dir": args.data_dir,
        "pkgs_dir": args.pkgs_dir,
        "store_dir": args.store_dir,
    }
    try:
        if args.action == "list":
            reports = list_caches(kinds, **dirs)
        else:
            if args.older_than is None and args.max_size is None:
                parser.error("prune needs --older-than AGE, --max-size SIZE or both")
            now = time.time()

            def prune(dry_run: bool) -> list[CacheReport]:
                return prune_caches(
                    kinds,
                    older_than=args.older_than,
                    max_size=args.max_size,
                    dry_run=dry_run,
                    now=now,
                    **dirs,
                )

            # As conda clean: ask on a terminal. Without one (cron, CI) nothing can answer,
            # so nothing asks; --json is for scripts, and implies --yes as in conda.
            ask = not (args.dry_run or args.yes or args.json) and sys.stdin.isatty()
            if ask and not _confirmed(prune(dry_run=True), prog):
                return 0
            reports = prune(args.dry_run)
    except (ValueError, PonchoError, OSError) as exc:
        return report_error(prog, exc, json_output=args.json, exit_status=1)
    if args.json:
        print(json.dumps([_as_dict(r) for r in reports], indent=2))
    elif level >= 0 or args.action == "list":
        for report in reports:
            _print(report, args.action, getattr(args, "dry_run", False), level)
    return 0


def _confirmed(plan: list[CacheReport], prog: str) -> bool:
    """Show what a prune would remove and ask; True to go on (also when nothing would go)."""
    doomed = [item for report in plan for item in report.removed]
    if not doomed:
        return True
    for report in plan:
        for item in report.removed:
            print(f"  {report.kind}: {item.name} ({_size(item.size)})")
    size = _size(sum(item.size for item in doomed))
    print(f"Remove {_count(len(doomed), 'entry', 'entries')} ({size})? Proceed ([y]/n)? ", end="")
    sys.stdout.flush()
    answer = sys.stdin.readline()  # "" at end of input: no
    if answer and answer.strip().lower() in ("", "y", "yes"):
        return True
    print(f"{prog}: nothing removed", file=sys.stderr)
    return False


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _print(report: CacheReport, action: str, dry_run: bool, level: int = 0) -> None:
    where = f"{report.kind} in {_absolute(report.root)}"
    count = f"{_count(len(report.items), 'entry', 'entries')}, {_size(report.size)}"
    if report.kind == "store":
        count += f", {_size(report.prunable)} of it in files no folder links (prunable)"
    if action == "list":
        print(f"{where}: {count}")
        if report.kind == "store" and level < 1:
            return  # one line per file of every environment: -v
        now = time.time()
        for item in report.items:
            name = str(Path(report.root) / item.name) if level >= 1 else item.name
            label = f"  {item.label}" if item.label else ""
            print(f"  {_size(item.size):>9}  {_ago(now - item.last_used):>10}  {name}{label}")
        return
    print(f"{where}:")
    verb = "would remove" if dry_run else "removed"
    for item in report.removed:
        print(f"  {verb} {item.name} ({_size(item.size)})")
    for name in report.kept_in_use:
        print(f"  kept {name}: in use by a build or a task")
    if not report.removed and not report.kept_in_use:
        print("  nothing to remove")
    print(f"  {count} {'would be left' if dry_run else 'left'}")


def _absolute(root: str) -> str:
    return os.path.abspath(root)  # noqa: PTH100 (a str in, a str out, no symlink resolved)


def _as_dict(report: CacheReport) -> dict[str, object]:
    data = asdict(report)
    data["size"] = report.size
    return data


def _size(size: int) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def _ago(seconds: float) -> str:
    """``12 s ago``, ``3 min ago``, ``5 h ago``, ``2 d ago``: the largest unit that fits."""
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"
