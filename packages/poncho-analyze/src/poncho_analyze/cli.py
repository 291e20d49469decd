"""``poncho_package_analyze [options] SCRIPT... OUTPUT`` (compatible with CCTools')."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from poncho_analyze import __version__, _log
from poncho_analyze.api import Analysis, analyze
from poncho_analyze.environments import choose_environment
from poncho_analyze.errors import AnalyzeError
from poncho_analyze.specgen import Decision
from poncho_spec import PonchoError, dump_spec

__all__ = ["build_parser", "entrypoint", "main"]

PROG = "poncho_package_analyze"
DESCRIPTION = """\
Find the third-party packages that Python scripts import and write a Poncho spec that
pins them as installed in the current environment. Modules are matched to packages from
installed metadata only (conda-meta records, dist-info RECORD files); no code is imported.
The scripts' own code (relative imports, modules and folders beside a script or in its
project) is left out of the spec with a notice; imports that nothing installed provides
are left out with a warning (errors with --strict)."""


def _mapping(text: str) -> tuple[str, str]:
    module, sep, name = text.partition("=")
    if not sep or not module.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected IMPORT=NAME, got {text!r}")
    return module.strip(), name.strip()


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` tells it ($COLUMNS, the
    terminal of stdout, else 80), without importing :mod:`shutil` (and its compression
    modules): argparse does, for each formatter it makes, on every run."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)  # the 2 argparse takes off itself


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, formatter_class=_Formatter)
    parser.add_argument(
        "source",
        nargs="+",
        metavar="SCRIPT",
        help="Python file, Jupyter notebook (.ipynb), or - for stdin",
    )
    parser.add_argument("output", metavar="OUTPUT", help="spec file to write, or - for stdout")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--toplevel",
        action="store_true",
        help="only imports at module level (not inside functions or classes)",
    )
    scope.add_argument(
        "--function", metavar="NAME", help="only imports inside function NAME (or Class.method)"
    )
    parser.add_argument(
        "--pkg-mapping",
        action="append",
        type=_mapping,
        default=[],
        metavar="IMPORT=NAME",
        help="the module imported as IMPORT comes from package NAME "
        "(conda:SPEC or pip:SPEC to force the kind); repeatable",
    )
    parser.add_argument(
        "--extra-pkg",
        action="append",
        default=[],
        metavar="PKG",
        help="also include package PKG (NAME, conda:SPEC or pip:SPEC); repeatable",
    )
    parser.add_argument(
        "--python",
        metavar="X.Y[.Z]",
        help="target Python version (default: the inspected interpreter's)",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="conda channel to list first in the spec; repeatable",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop with an error on the scripts' own code and on imports that nothing "
        "installed provides, instead of leaving them out with a notice or warning",
    )
    parser.add_argument(
        "--allow-local",
        action="store_true",
        help="with --strict, leave the scripts' own code out of the spec instead of stopping",
    )
    parser.add_argument(
        "--build-strings",
        action="store_true",
        help="pin conda packages with their build string (ties the spec to one platform)",
    )
    parser.add_argument(
        "--interpreter",
        metavar="PYTHON",
        help="inspect the environment of this Python executable (default: the activated "
        "environment, $VIRTUAL_ENV or $CONDA_PREFIX, else the one running poncho)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print on stderr which import became which package, and why",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="do not say which environment is inspected, nor what was left out as the "
        "scripts' own code (warnings still show)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, analyze: Callable[..., Analysis] = analyze) -> int:
    """Run the command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _log.configure(level=20 if args.verbose else 30, format=f"{PROG}: %(message)s")  # INFO, WARNING
    try:
        inspected = choose_environment(args.interpreter)
        if not args.quiet:
            print(f"{PROG}: {inspected.line()}", file=sys.stderr)
        result = analyze(
            args.source,
            toplevel=args.toplevel,
            function=args.function,
            pkg_mapping=dict(args.pkg_mapping),
            extra_pkgs=tuple(args.extra_pkg),
            python_version=args.python,
            channels=tuple(args.channel) or None,
            allow_local=args.allow_local,
            build_strings=args.build_strings,
            strict=args.strict,
            environment=inspected.environment,
            spec_path=args.output,
        )
        if args.explain:
            _explain(result.decisions)
        if not args.quiet:
            for notice in result.notices:
                print(f"{PROG}: notice: {notice}", file=sys.stderr)
        for warning in result.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        _write(result, args.output)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except AnalyzeError as exc:
        if args.explain:
            _explain(exc.decisions)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except PonchoError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _explain(decisions: Sequence[Decision]) -> None:
    for decision in decisions:
        print(decision.line(), file=sys.stderr)


def _write(result: Analysis, output: str) -> None:
    """Write the spec; an OSError names OUTPUT, not the temporary file beside it."""
    target = Path(output)
    if output != "-" and target.exists() and not (target.is_file() or target.is_dir()):
        # /dev/null, /dev/stdout, a named pipe: written in place.  The atomic write
        # (a temporary file, then a rename) would replace the device itself.
        from poncho_spec import dumps_spec

        try:
            with target.open("w", encoding="utf-8") as out:
                out.write(dumps_spec(result.spec))
        except OSError as exc:
            raise AnalyzeError(f"cannot write {output}: {exc.strerror or exc}") from exc
        return
    try:
        dump_spec(result.spec, output)
    except OSError as exc:
        folder = Path(output).parent
        if output != "-" and not folder.is_dir():
            problem = f"the folder {folder} does not exist"
        else:
            problem = exc.strerror or str(exc)
        raise AnalyzeError(f"cannot write {output}: {problem}") from exc


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
