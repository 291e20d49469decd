"""``poncho_fetch [--cache-dir D] [--max-size S] [--shell] SPEC``: prefetch a spec's data.

Prints one ``VAR=path`` line per git/http entry (``export VAR='path'`` with ``--shell``, for
``eval "$(poncho_fetch --shell spec.json)"``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from poncho_fetch import __version__
from poncho_fetch.api import env_lines, fetch
from poncho_fetch.cache import CACHE_ENV, MAX_SIZE_ENV, parse_size
from poncho_spec import PonchoError

__all__ = ["build_parser", "entrypoint", "main"]

PROG = "poncho_fetch"


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fetch the git and http data a Poncho spec names into the node-local "
        "cache, and print the environment variables that point at it.",
    )
    parser.add_argument("spec", metavar="SPEC", help="spec JSON file ('-' for stdin)")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"cache folder (default: ${CACHE_ENV}, else $XDG_CACHE_HOME/poncho/data, "
        "else ~/.cache/poncho/data)",
    )
    parser.add_argument(
        "--max-size",
        metavar="SIZE",
        type=_size,
        help=f"evict least recently used data not in use above this size, e.g. 10G "
        f"(default: ${MAX_SIZE_ENV}, else no limit)",
    )
    parser.add_argument(
        "--shell", action="store_true", help="print `export VAR='path'` lines for sh"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="report progress")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, fetch: Callable[..., dict[str, str]] = fetch) -> int:
    """Run the command; returns the exit status (1 for a fetch error, 130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        from poncho_spec import load_spec

        spec = load_spec(args.spec)
        for warning in spec.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        env = fetch(spec, args.cache_dir, max_bytes=args.max_size)
    except PonchoError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    for line in env_lines(env, shell=args.shell):
        print(line)
    return 0


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    logger = logging.getLogger("poncho_fetch")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
