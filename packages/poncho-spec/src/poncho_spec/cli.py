"""``poncho_spec validate|show|hash|schema``: a small CLI for people writing specs by hand.

Exit codes: 0 fine, 1 an invalid or missing spec, 2 bad usage, 130 interrupted. Problems and
warnings go to stderr (``poncho_spec: error: ...``, ``poncho_spec: warning: ...``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    report_error,
    resolve_verbosity,
)
from poncho_spec import __version__
from poncho_spec.errors import PonchoError
from poncho_spec.io import STDIO, dumps_spec, load_spec, write_text
from poncho_spec.model import Spec
from poncho_spec.schema import json_schema

__all__ = ["build_parser", "entrypoint", "main"]

PROG = "poncho_spec"


_EXIT_STATUS = [
    ("0", "done"),
    ("1", "an invalid or missing spec, or an output that cannot be written"),
    ("2", "bad usage"),
    ("130", "interrupted (Ctrl-C)"),
]


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser of the ``poncho_spec`` command (*prog* names it in its help)."""
    parser = ArgumentParser(
        prog=prog,
        description="Check, show and hash Poncho environment specs (JSON). "
        "FILE may be '-' for stdin.",
        epilog=epilog(exit_status=_EXIT_STATUS),
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = ArgumentParser(add_help=False)
    add_verbosity_options(common)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            parents=[common],
            epilog=epilog(exit_status=_EXIT_STATUS),
        )
        return sub

    validate = command(
        "validate", "check specs: print OK (not with -q), or every problem and exit 1"
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="spec file ('-': stdin)")
    validate.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")

    show = command("show", "print the spec in normalised (modern) form")
    show.add_argument("file", metavar="FILE", help="spec file ('-': stdin)")
    show.add_argument(
        "--canonical",
        action="store_true",
        help="print the canonical form instead (the hash is the sha256 of this line)",
    )
    show.add_argument(
        "-o", "--output", metavar="OUT", default="-", help="write to OUT instead of stdout"
    )

    hash_ = command("hash", "print the spec's content hash (sha256)")
    hash_.add_argument("file", metavar="FILE", help="spec file ('-': stdin)")

    command("schema", "print the JSON Schema of the spec format")

    import_ = command("import", "convert a requirements.txt or an environment.yml into a spec")
    import_.add_argument("file", metavar="FILE", help="requirements file or conda environment file")
    import_.add_argument(
        "-o", "--output", metavar="OUT", default="-", help="write to OUT instead of stdout"
    )
    import_.add_argument(
        "--python",
        metavar="X.Y",
        help="Python version a requirements file is for (default: this interpreter's)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the CLI with `argv` (default: ``sys.argv[1:]``); return the exit code. *prog*
    names the command in messages (``poncho spec`` under the umbrella)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        try:
            args.verbosity = resolve_verbosity(args.quiet, args.verbose)
        except ValueError as exc:
            parser.error(str(exc))
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 2
    args.prog = prog
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except PonchoError as exc:
        return report_error(prog, exc)


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _load(path: str, args: argparse.Namespace) -> Spec:
    spec = load_spec(path)
    prefix = f"{spec.source}: " if spec.source else ""
    for warning in spec.warnings:
        print(f"{args.prog}: warning: {prefix}{warning}", file=sys.stderr)
    if args.verbosity >= 1:
        entries = (
            f"{len(spec.conda.dependencies)} conda, {len(spec.pip)} pip and "
            f"{len(spec.git) + len(spec.http)} data entries"
        )
        print(f"{args.prog}: {prefix}{entries}, hash {spec.hash()}", file=sys.stderr)
    return spec


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            spec = _load(path, args)
        except PonchoError as exc:
            report_error(args.prog, exc)
            status = 1
            continue
        if args.strict and spec.warnings:
            print(f"{args.prog}: error: {spec.source}: warnings, and --strict", file=sys.stderr)
            status = 1
            continue
        if args.verbosity >= 0:
            print(f"{spec.source}: OK")
    return status


def _show(args: argparse.Namespace) -> int:
    spec = _load(args.file, args)
    text = spec.canonical_json() + "\n" if args.canonical else dumps_spec(spec)
    return _write(args, text)


def _write(args: argparse.Namespace, text: str) -> int:
    """Write `text` to ``-o`` (or stdout); a write that fails is one error line, status 1."""
    try:
        write_text(args.output, text)
    except OSError as exc:  # a missing or read-only folder, a full disk
        print(
            f"{args.prog}: error: cannot write {args.output}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def _hash(args: argparse.Namespace) -> int:
    print(_load(args.file, args).hash())
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def _import(args: argparse.Namespace) -> int:
    from poncho_spec.importers import import_file

    # Paths are written for where the spec is read from: OUT's folder (stdout: the cwd,
    # where `> spec.json` and `| poncho_package_create -` read it).
    folder = Path.cwd() if args.output == STDIO else Path(args.output).absolute().parent
    result = import_file(args.file, python_version=args.python, folder=folder)
    if args.verbosity >= 0:
        for note in result.notes:
            print(f"{args.prog}: note: {note}", file=sys.stderr)
    for warning in result.spec.warnings:
        print(f"{args.prog}: warning: {result.spec.source}: {warning}", file=sys.stderr)
    return _write(args, dumps_spec(result.spec))


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": _import,
    "validate": _validate,
    "show": _show,
    "hash": _hash,
    "schema": _schema,
}
