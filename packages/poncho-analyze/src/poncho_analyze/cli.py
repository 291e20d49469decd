"""``poncho_package_analyze [options] SCRIPT... OUTPUT`` (compatible with CCTools')."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from poncho_analyze import __version__, _log
from poncho_analyze._output import output_problem, script_problem
from poncho_analyze.api import Analysis, analyze
from poncho_analyze.environments import choose_environment
from poncho_analyze.errors import AnalyzeError
from poncho_analyze.specgen import Decision
from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    log_level,
    report_error,
    verbosity,
)
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

_EPILOG = epilog(
    exit_status=[
        ("0", "the spec was written"),
        (
            "1",
            "an error (a script or the output cannot be read or written; with --strict, "
            "an import nothing installed provides or a script that does not parse)",
        ),
        (
            "2",
            "bad usage (also: a SCRIPT ending in .json; an OUTPUT that is a Python file "
            "or notebook, or an existing file that is not a spec, without --force)",
        ),
        ("130", "interrupted (Ctrl-C)"),
    ],
    environment=[
        ("VIRTUAL_ENV", "the activated environment, inspected without --interpreter"),
        ("CONDA_PREFIX", "the activated conda environment, when VIRTUAL_ENV is not set"),
        (
            "PONCHO_ANALYZE_CACHE",
            "the cache of each environment's import map (off: none; "
            "default $XDG_CACHE_HOME/poncho/analyze, else ~/.cache/poncho/analyze)",
        ),
    ],
)


def _mapping(text: str) -> tuple[str, str]:
    module, sep, name = text.partition("=")
    if not sep or not module.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected IMPORT=NAME, got {text!r}")
    return module.strip(), name.strip()


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command-line parser (*prog* names the command in its usage)."""
    parser = ArgumentParser(prog=prog, description=DESCRIPTION, epilog=_EPILOG)
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
        help="stop with an error on the scripts' own code, on imports that nothing "
        "installed provides and on a script that does not parse for the target Python, "
        "instead of leaving them out with a notice or warning (or reading that script's "
        "imports as well as can be)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write OUTPUT even if it is a Python file or notebook, or an existing file that "
        "is not a spec (an existing spec or empty file is rewritten without it)",
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
    add_verbosity_options(parser)  # -q: not which environment, nor the scripts' own code
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def main(
    argv: Sequence[str] | None = None,
    analyze: Callable[..., Analysis] = analyze,
    *,
    prog: str = PROG,
) -> int:
    """Run the command; returns the exit code. *prog* names the command in messages
    (``poncho analyze`` under the umbrella)."""
    parser = build_parser(prog)
    args = parser.parse_intermixed_args(argv)  # options may stand between the scripts
    level = verbosity(parser, args)
    # Before any work: a swapped or forgotten OUTPUT must never cost the user a script.
    problem = script_problem(args.source) or output_problem(args.output, force=args.force)
    if problem:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return 2
    _log.configure(level=log_level(level), format=f"{prog}: %(message)s")
    try:
        inspected = choose_environment(args.interpreter)
        if level >= 0:
            print(f"{prog}: {inspected.line()}", file=sys.stderr)
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
        if level >= 0:
            for notice in result.notices:
                print(f"{prog}: notice: {notice}", file=sys.stderr)
        for warning in result.warnings:
            print(f"{prog}: warning: {warning}", file=sys.stderr)
        _write(result, args.output)
    except AnalyzeError as exc:
        if args.explain:
            _explain(exc.decisions)
        return report_error(prog, exc)
    except (PonchoError, OSError, KeyboardInterrupt) as exc:
        return report_error(prog, exc)
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
