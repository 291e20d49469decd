"""``poncho_fetch [--cache-dir D] [--max-size S] [--shell|--json] SPEC``: prefetch a spec's data.

Prints one ``VAR=path`` line per git/http entry (``export VAR='path'`` with ``--shell``, for
``eval "$(poncho_fetch --shell spec.json)"``; one JSON object with ``--json``). Every entry
is tried; each failure is one ``poncho_fetch: error:`` line naming the entry, and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    log_level,
    report_error,
    stderr_handler,
)
from poncho_core.cli_common import verbosity as resolve_verbosity
from poncho_core.compression import DEFAULT_MAX_RATIO
from poncho_core.fs import parse_size
from poncho_fetch import __version__
from poncho_fetch.api import env_lines, fetch
from poncho_fetch.http import RetryPolicy
from poncho_fetch.settings import CACHE_ENV, MAX_SIZE_ENV, default_cache_dir
from poncho_spec import PonchoError, Spec

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


_EPILOG = epilog(
    exit_status=[
        ("0", "every entry fetched"),
        ("1", "an entry could not be fetched (one error line each), or a bad spec"),
        ("75", "another process held the data cache's lock past its deadline (try again)"),
        ("2", "bad usage"),
        ("130", "interrupted (Ctrl-C)"),
    ],
    environment=[
        (CACHE_ENV, "the cache folder (default of --cache-dir)"),
        (MAX_SIZE_ENV, "the default of --max-size"),
        ("XDG_CACHE_HOME", "the cache is $XDG_CACHE_HOME/poncho/data without the two above"),
    ],
)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command-line parser (*prog* names the command in its usage)."""
    parser = ArgumentParser(
        prog=prog,
        description="Fetch the git and http data a Poncho spec names into the node-local "
        "cache, and print the environment variables that point at it.",
        epilog=_EPILOG,
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
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--shell", action="store_true", help="print `export VAR='path'` lines for sh"
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: spec, spec_hash, cache_dir, variables {VAR: path} and "
        "entries [{var, kind, source, path}] (schema: docs/schemas/fetch.schema.json)",
    )
    add_verbosity_options(parser)
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def main(
    argv: Sequence[str] | None = None,
    fetch: Callable[..., dict[str, str]] = fetch,
    *,
    prog: str = PROG,
) -> int:
    """Run the command; returns the exit status (1 for a fetch error, 130 on Ctrl-C).
    *prog* names the command in messages (``poncho fetch`` under the umbrella)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _setup_logging(resolve_verbosity(parser, args), prog)
    policy = RetryPolicy(
        timeout=args.timeout, deadline=args.deadline, min_rate=float(args.min_rate)
    )
    try:
        from poncho_spec import load_spec

        spec = load_spec(args.spec)
        for warning in spec.warnings:
            print(f"{prog}: warning: {warning}", file=sys.stderr)
        env = fetch(
            spec, args.cache_dir, max_bytes=args.max_size, policy=policy, max_ratio=args.max_ratio
        )
    except (PonchoError, KeyboardInterrupt) as exc:
        return report_error(prog, exc, json_output=args.json)  # 75: a lock not had in time
    if args.json:
        print(json.dumps(as_json(spec, env, args.cache_dir), indent=2))
        return 0
    for line in env_lines(env, shell=args.shell):
        print(line)
    return 0


def as_json(spec: Spec, env: dict[str, str], cache_dir: str | None) -> dict[str, object]:
    """What ``--json`` prints (docs/schemas/fetch.schema.json): the variables, and for each
    entry its kind, source (git remote or URL) and path."""
    entries: list[dict[str, str]] = []
    for var, git in spec.git.items():
        entries.append({"var": var, "kind": "git", "source": git.remote, "path": env[var]})
    for var, http in spec.http.items():
        entries.append({"var": var, "kind": "http", "source": http.url, "path": env[var]})
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return {
        "spec": spec.source or "-",
        "spec_hash": spec.hash(),
        "cache_dir": str(folder.resolve()),
        "variables": dict(env),
        "entries": entries,
    }


def _setup_logging(verbosity: int, prog: str) -> None:
    logger = logging.getLogger("poncho_fetch")
    logger.handlers[:] = [stderr_handler(prog)]
    logger.setLevel(log_level(verbosity))
    logger.propagate = False


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
