"""``poncho_fetch [--cache-dir D] [--max-size S] [--shell] SPEC``: prefetch a spec's data.

Prints one ``VAR=path`` line per git/http entry (``export VAR='path'`` with ``--shell``, for
``eval "$(poncho_fetch --shell spec.json)"``). Every entry is tried; each failure is one
``poncho_fetch: error:`` line naming the entry, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from poncho_core.compression import DEFAULT_MAX_RATIO
from poncho_core.fs import parse_size
from poncho_fetch import __version__
from poncho_fetch.api import env_lines, fetch
from poncho_fetch.http import RetryPolicy
from poncho_fetch.settings import CACHE_ENV, MAX_SIZE_ENV
from poncho_spec import PonchoError

__all__ = ["build_parser", "entrypoint", "main"]

PROG = "poncho_fetch"


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid ratio {text!r}") from None
    if not 0 <= value < 1e12:
        raise argparse.ArgumentTypeError(f"{text!r}: give a ratio >= 0 (0: no limit)")
    return value


_DEFAULTS = RetryPolicy()


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
        help=f"evict least recently used data not in use above this size, e.g. 10G; also "
        f"the most one entry may take (default: ${MAX_SIZE_ENV}, else no limit)",
    )
    parser.add_argument(
        "--deadline",
        metavar="SECS",
        type=_seconds,
        default=_DEFAULTS.deadline,
        help="give up an entry not fetched within SECS, all retries included "
        f"(default: {_DEFAULTS.deadline:g})",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECS",
        type=_seconds,
        default=_DEFAULTS.timeout,
        help=f"wait at most SECS to connect and for each read (default: {_DEFAULTS.timeout:g})",
    )
    parser.add_argument(
        "--min-rate",
        metavar="SIZE",
        type=_size,
        default=int(_DEFAULTS.min_rate),
        help="retry a transfer slower than SIZE bytes per second over "
        f"{_DEFAULTS.rate_window:g} s, e.g. 10K; 0: no minimum (default: {_DEFAULTS.min_rate:g})",
    )
    parser.add_argument(
        "--max-ratio",
        metavar="N",
        type=_ratio,
        default=DEFAULT_MAX_RATIO,
        help="refuse data that decompresses to more than N times its compressed size "
        f"(beyond 64 MiB; 0: no limit; default: {DEFAULT_MAX_RATIO:g})",
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
    policy = RetryPolicy(
        timeout=args.timeout, deadline=args.deadline, min_rate=float(args.min_rate)
    )
    try:
        from poncho_spec import load_spec

        spec = load_spec(args.spec)
        for warning in spec.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        env = fetch(
            spec, args.cache_dir, max_bytes=args.max_size, policy=policy, max_ratio=args.max_ratio
        )
    except PonchoError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"{PROG}: error: {line}", file=sys.stderr)
        return exc.exit_status  # 75 for a lock not had in time
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
