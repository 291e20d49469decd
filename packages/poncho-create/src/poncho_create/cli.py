"""``poncho_package_create [options] SPEC [OUTPUT]``: compatible with CCTools' command.

Builds the conda environment of a Poncho spec and packs it into a tarball; a thin layer over
:func:`poncho_create.create` (``main`` takes the library callable so tests can swap it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from poncho_create import __version__
from poncho_create._render import LineRenderer, TerminalRenderer
from poncho_create.api import create as _create
from poncho_create.options import FORMATS
from poncho_spec import PonchoError

__all__ = ["build_parser", "entrypoint", "legacy_entrypoint", "main"]

PROG = "poncho_package_create"

_EPILOG = """\
environment variables:
  PONCHO_ENVS_DIR       environment cache when no OUTPUT is given (default ./envs)
  PONCHO_PKGS_DIR       conda package download cache (default ~/.cache/poncho/pkgs)
  PONCHO_CREATE_TMPDIR  parent of the temporary build folders (default: system temp)
  CONDA_OVERRIDE_GLIBC, CONDA_OVERRIDE_OSX, CONDA_OVERRIDE_CUDA
                        virtual package versions to solve with

The cache name is <spec hash>-<platform>[-<options digest>].tar.gz: the digest covers
channel changes, pip index options and --from-lock. Exit status: 0 success, 1 error,
2 bad usage, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``-h`` documents every option)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build the conda environment described by a Poncho spec and pack it "
        "into a relocatable tarball (conda-pack), with bin/run_in_env, the spec and a lock "
        "inside. Prints the tarball's path.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "spec",
        metavar="SPEC",
        help="spec file (JSON), - to read stdin, a requirements.txt or environment.yml "
        "(converted as poncho_spec import does), or an existing conda environment (its "
        "folder, or its name as conda resolves names) to pack as it is",
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        nargs="?",
        help="tarball to write; its ending picks the format ("
        + ", ".join(FORMATS)
        + "). Default: the environment cache, named by the spec's hash",
    )
    conda = parser.add_argument_group("conda")
    conda.add_argument(
        "-c",
        "--channel",
        dest="channels",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="channel to use before the spec's channels (repeatable; name or URL)",
    )
    conda.add_argument(
        "--override-channels",
        action="store_true",
        help="use only the --channel channels, not the spec's",
    )
    conda.add_argument(
        "--platform",
        metavar="PLATFORM",
        help="conda platform to build for, e.g. linux-64, osx-arm64 (default: this machine's);"
        " pip entries need this machine's platform",
    )
    conda.add_argument(
        "--pkgs-dir",
        metavar="DIR",
        help="package download cache (default $PONCHO_PKGS_DIR or ~/.cache/poncho/pkgs)",
    )
    conda.add_argument(
        "--conda-exe",
        "--conda-executable",
        dest="conda_exe",
        metavar="PATH",
        help="build the conda part with this conda, mamba or micromamba instead of the "
        "embedded engine (py-rattler); --conda-executable is CCTools' name for it",
    )
    conda.add_argument(
        "--no-micromamba",
        action="store_true",
        help="accepted for CCTools compatibility; micromamba is never downloaded",
    )
    conda.add_argument(
        "--ignore-editable-packages",
        action="store_true",
        help="when packing an existing environment, leave its editable pip installs out "
        "instead of refusing to pack it",
    )
    pip = parser.add_argument_group("pip")
    pip.add_argument("--pip-index-url", metavar="URL", help="pip index URL (pip's --index-url)")
    pip.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="also look for pip packages here (repeatable)",
    )
    pip.add_argument(
        "--no-index",
        action="store_true",
        help="do not use a pip index (air-gapped sites; with --find-links)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="environment cache when no OUTPUT is given (default $PONCHO_ENVS_DIR or ./envs)",
    )
    out.add_argument(
        "-j",
        "--threads",
        type=int,
        metavar="N",
        help="threads for compression (default: all cores)",
    )
    out.add_argument(
        "--compression-level",
        type=int,
        metavar="N",
        help="compression level (gz, bz2: up to 9; zst: up to 22; default 4, 9, 3)",
    )
    out.add_argument(
        "--keep-prefix",
        metavar="DIR",
        help="build the environment in DIR (new or empty) and keep it for inspection",
    )
    out.add_argument("--tmp-dir", metavar="DIR", help="parent of the temporary build folder")
    lock = parser.add_argument_group("lock")
    lock.add_argument("--lock-out", metavar="FILE", help="also write the lock to FILE")
    lock.add_argument(
        "--from-lock",
        metavar="LOCK",
        help="install exactly the packages of LOCK (a lock.json) instead of solving",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(
    argv: Sequence[str] | None = None,
    create: Callable[..., Path] = _create,
    *,
    prog: str = PROG,
) -> int:
    """Run the command; returns the exit status. `prog` names the command in messages
    (``python_package_create`` when run by CCTools' old name)."""
    parser = build_parser()
    parser.prog = prog
    args = parser.parse_args(argv)
    with _logging(args.quiet, args.verbose, prog):
        return _run(args, create, prog)


def _run(args: argparse.Namespace, create: Callable[..., Path], prog: str) -> int:
    renderer: Any = None
    if not args.quiet:
        renderer = (
            TerminalRenderer(sys.stderr) if sys.stderr.isatty() else LineRenderer(sys.stderr, prog)
        )
    try:
        path = create(
            args.spec,
            args.output,
            cache_dir=args.cache_dir,
            channels=args.channels,
            override_channels=args.override_channels,
            platform=args.platform,
            pip_index_url=args.pip_index_url,
            find_links=args.find_links,
            no_index=args.no_index,
            threads=args.threads,
            compression_level=args.compression_level,
            keep_prefix=args.keep_prefix,
            conda_exe=args.conda_exe,
            from_lock=args.from_lock,
            lock_out=args.lock_out,
            progress=renderer,
            pkgs_dir=args.pkgs_dir,
            tmp_dir=args.tmp_dir,
            ignore_editable_packages=args.ignore_editable_packages,
        )
    except PonchoError as exc:
        _close(renderer)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _close(renderer)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    _close(renderer)
    print(path)
    return 0


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


def legacy_entrypoint() -> None:
    """``python_package_create``: CCTools' old name of the command (Parsl's Work Queue
    executor looks it up with ``shutil.which``); the same command."""
    sys.exit(main(prog="python_package_create"))


def _close(renderer: Any) -> None:
    if isinstance(renderer, TerminalRenderer):
        renderer.close()


@contextlib.contextmanager
def _logging(quiet: bool, verbose: bool, prog: str = PROG) -> Iterator[None]:
    """Send the library's log records to stderr while the command runs, then restore."""
    logger = logging.getLogger("poncho_create")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
