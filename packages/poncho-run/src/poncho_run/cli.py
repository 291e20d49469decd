"""``poncho_package_run``: run a command inside a packed environment.

The command line is split in two at the first argument that is not an option (or after
``--``): the options, parsed here, and COMMAND with its arguments, passed on untouched.

A warm run (``-d DIR`` already unpacked) is kept cheap: its options are read without
argparse, the state file without the ``json`` package, and the process is replaced by the
command; argparse, logging and the unpacking machinery are imported only when needed.
"""

# Paths are str here: on the warm path, where pathlib (which imports re) would cost more than
# the whole run.
# ruff: noqa: PTH112

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

__all__ = ["build_parser", "entrypoint", "main"]

PROG = "poncho_package_run"

_DESCRIPTION = """\
Run COMMAND inside the environment ENV: a tarball made by poncho_package_create or
conda-pack (tar.gz, tar.zst, tar.bz2, tar.xz or tar, recognised by content) or an unpacked
environment folder. The environment is activated as `conda activate` would (PATH,
CONDA_PREFIX, ..., its etc/conda/activate.d scripts), and the data its spec names
(poncho/spec.json: git and http entries) is fetched first and exposed as environment
variables. A COMMAND ending in .py that is not executable runs with the environment's python.
"""

_EPILOG_TEXT = """\
Without -d, ENV is unpacked into a temporary folder that is removed afterwards, also when
the command fails or SIGINT/SIGTERM/SIGHUP arrives (passed on to the command). With -d, DIR
is unpacked once (atomically: into a sibling folder, then renamed) and kept; simultaneous
runs share it through the lock file DIR.poncho.lock; a DIR that is not empty is used as it
is (ENV is then not read). The command then replaces poncho_package_run.
"""
_EXIT_STATUS = [
    ("N", "the command's own (128+N if signal N killed it)"),
    ("127", "command not found"),
    ("126", "command cannot be executed"),
    ("75", "timed out waiting for the lock on DIR"),
    ("65", "DIR was unpacked from another archive than ENV"),
    ("2", "bad usage"),
    (
        "1",
        "any other error (unreadable or unsafe archive, one that unpacks to more than "
        "--max-unpacked-size, ...)",
    ),
]
_ENVIRONMENT = [
    ("PONCHO_RUN_MAX_UNPACKED", "the default of --max-unpacked-size"),
    ("PONCHO_RUN_PYTHON", "the Python that runs the engine"),
    ("PONCHO_FETCH_CACHE", "the data cache (the default of --data-cache)"),
    ("PONCHO_FETCH_MAX_SIZE", "the data cache's size limit"),
]

# Options that take a value, by every spelling, and the attribute they set.
_VALUE_OPTIONS = {
    "-e": "environment",
    "--environment": "environment",
    "-u": "unpack_to",
    "--unpack-to": "unpack_to",
    "-w": "wait",
    "--wait-for-lock": "wait",
    "--data-cache": "data_cache",
    "--max-unpacked-size": "max_unpacked_size",
}
_FLAG_OPTIONS = {"--no-data": "no_data"}
# How much each spelling adds to the verbosity (-d alone is --debug, see _split).
_VERBOSITY_OPTIONS = {"-q": -1, "--quiet": -1, "-v": 1, "--verbose": 1, "--debug": 1, "-vv": 2}
VERBOSITY_ENV = "PONCHO_VERBOSITY"
_UNPACK_TO = ("-u", "--unpack-to")
_DEFAULT_WAIT = 300.0


class Options:
    """The parsed options (the same attributes as `build_parser`'s namespace)."""

    def __init__(self) -> None:
        self.environment: str | None = None
        self.unpack_to: str | None = None
        self.wait: float = _DEFAULT_WAIT
        self.data_cache: str | None = None
        self.max_unpacked_size: str | None = None
        self.no_data = False
        self.quiet = 0
        self.verbose = 0
        self.help_env_creation = False

    @property
    def verbosity(self) -> int:
        """-1 quiet .. 2 (-vv): `verbosity` below."""
        return verbosity(self.quiet, self.verbose)


def verbosity(quiet: int, verbose: int, environ: dict[str, str] | None = None) -> int:
    """-1 quiet .. 2 (-vv): poncho-core's rule (`poncho_core.verbosity`), which imports no
    argparse; raises ValueError for a ``$PONCHO_VERBOSITY`` that is not an integer."""
    from poncho_core.verbosity import resolve_verbosity

    return resolve_verbosity(quiet, verbose, environ)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser of the options (everything before COMMAND); *prog* names the command."""
    from poncho_core.cli_common import ArgumentParser, add_verbosity_options, epilog
    from poncho_run import __version__

    parser = ArgumentParser(
        prog=prog,
        usage=f"{prog} [-e ENV] [-u DIR] [-w SECS] [options] [--] [COMMAND [ARGS...]]",
        description=_DESCRIPTION,
        epilog=epilog(_EPILOG_TEXT, exit_status=_EXIT_STATUS, environment=_ENVIRONMENT),
        allow_abbrev=False,
    )
    parser.add_argument(
        "-e", "--environment", metavar="ENV", help="environment tarball or unpacked folder"
    )
    parser.add_argument(
        "-d",  # never reaches argparse: _split spells it --unpack-to or --debug
        "-u",
        "--unpack-to",
        metavar="DIR",
        help="unpack into DIR (created if missing), keep it, share it with simultaneous runs;"
        " also -d DIR (CCTools 7.3); -d alone, before an option or with -u, is --debug",
    )
    parser.add_argument(
        "-w",
        "--wait-for-lock",
        dest="wait",
        metavar="SECS",
        type=seconds,
        default=_DEFAULT_WAIT,
        help="wait at most SECS for another run unpacking DIR (default: %(default)g)",
    )
    parser.add_argument(
        "--data-cache",
        metavar="DIR",
        help="cache for the spec's data (default: $PONCHO_FETCH_CACHE or ~/.cache/poncho/data)",
    )
    parser.add_argument(
        "--no-data", action="store_true", help="do not fetch the data the spec names"
    )
    parser.add_argument(
        "--max-unpacked-size",
        metavar="SIZE",
        help="refuse an archive that unpacks to more than SIZE (e.g. 50G; 0: no limit; "
        "default $PONCHO_RUN_MAX_UNPACKED, else the free space less a reserve)",
    )
    add_verbosity_options(parser, verbose_aliases=("--debug",))  # --debug: CCTools' spelling
    parser.add_argument(
        "--help-env-creation",
        action="store_true",
        help="say how to make an environment tarball, and exit",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit status.

    With an unpack folder, success does not return: the process becomes the command.
    Without COMMAND, the environment is only prepared (DIR unpacked, or the tarball checked).
    *prog* names the command in messages (``poncho run`` under the umbrella).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if "PONCHO_RUN_LOCK_FD" in os.environ:
        from poncho_run.lock import adopt_held_lock

        adopt_held_lock()
    if args[:1] == [_FINALIZE]:
        return _guarded(lambda: _finalize_extracted(args[1:]))
    options, command = _split(args)
    parsed = _quick_parse(options)
    if parsed is None or (parsed.environment is None and parsed.unpack_to is None):
        full = _full_parse(options, command, prog)
        if isinstance(full, int):
            return full
        parsed = full
    try:
        level = parsed.verbosity
    except ValueError as exc:
        print(f"usage: {prog} [-e ENV] [-u DIR] [-w SECS] [options] [--] [COMMAND [ARGS...]]",
              file=sys.stderr)  # fmt: skip
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return _guarded(lambda: _run(parsed, command, level, prog), prog)


def _guarded(action: Callable[[], int], prog: str = PROG) -> int:
    try:
        return action()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from poncho_run.errors import PonchoError

        if not isinstance(exc, PonchoError):
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 1))


# The shell front end, on a worker with no python3, extracts the archive with tar (under
# the lock, into the sibling folder, reached through the link DIR) and then runs this with
# the environment's own python: check what tar wrote, relocate, compute the activation,
# write the state (pending: the front end renames and publishes, as unpack does).
_FINALIZE = "--poncho-finalize-extracted"


def _finalize_extracted(args: list[str]) -> int:
    from poncho_run.errors import RunError
    from poncho_run.identity import ArchiveHasher
    from poncho_run.unpack import check_extracted, finalize

    verbose = args[-1:] == ["-v"]
    if verbose:
        args = args[:-1]
    if len(args) != 2:
        raise RunError(f"usage: {_FINALIZE} DIR ARCHIVE [-v] (internal)")
    _configure_logging(1 if verbose else 0)
    hasher = ArchiveHasher(args[1]).start()
    check_extracted(args[0])
    finalize(args[0], pending=True, archive=hasher.result())
    return 0


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _run(args: Options, command: list[str], level: int, prog: str = PROG) -> int:
    from poncho_run.api import open_ready

    if args.help_env_creation:
        print(_ENV_CREATION)
        return 0
    environment_is_folder = args.environment is not None and os.path.isdir(args.environment)
    # The warm path: a ready folder; no lock, no tarball, nothing else imported.
    folder = args.environment if environment_is_folder else args.unpack_to
    if command and folder is not None and not (environment_is_folder and args.unpack_to):
        ready = open_ready(folder)
        if ready is not None and (args.no_data or not ready.has_data):
            if args.environment is not None and not environment_is_folder:
                from poncho_run.unpack import check_archive

                check_archive(folder, args.environment, ready.state)
            ready.exec(command, data=False)
    _configure_logging(level, prog)
    from poncho_run.api import prepare, run

    if args.max_unpacked_size is not None:  # read where the archive is extracted
        from poncho_run.archive import MAX_UNPACKED_ENV

        os.environ[MAX_UNPACKED_ENV] = args.max_unpacked_size

    if args.unpack_to is not None or environment_is_folder:
        prepared = prepare(args.environment, args.unpack_to, args.wait)
        if not command:
            return 0
        prepared.exec(command, data=not args.no_data, data_cache=args.data_cache)
    if not command:
        with prepare(args.environment, None, args.wait):
            return 0
    return run(
        args.environment,
        command,
        wait=args.wait,
        data=not args.no_data,
        data_cache=args.data_cache,
    )


_ENV_CREATION = """\
An environment tarball is made on the submit side, where the program runs:

  poncho_package_analyze my_script.py spec.json   # the imports of the script -> a spec
  poncho_package_create spec.json env.tar.gz       # the spec -> a relocatable tarball

or from an existing conda environment (a folder or a name):

  poncho_package_create /path/to/conda/env env.tar.gz

A plain `conda pack -o env.tar.gz` tarball works too. Ship env.tar.gz and this script with
each task, then run: poncho_package_run -e env.tar.gz -u DIR -- COMMAND ARGS..."""


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split `argv` into the options and COMMAND ARGS... (from the first non-option, or
    after ``--``), and spell CCTools' ``-d`` as what it means: ``-d DIR`` (the 7.3.2 manual)
    is ``--unpack-to DIR``; ``-d`` alone (today's runner), before another option, or beside
    ``-u/--unpack-to``, is ``--debug``."""
    with_unpack_to = False
    index = 0
    while index < len(argv):  # first pass, -d taken as a flag: is -u given?
        arg = argv[index]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        if arg in _UNPACK_TO or arg.startswith(("--unpack-to=", "-u")):
            with_unpack_to = True
        index += 2 if arg in _VALUE_OPTIONS else 1
    options: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            return options, argv[index + 1 :]
        if not arg.startswith("-") or arg == "-":
            break
        if arg == "-d":
            value = argv[index + 1] if index + 1 < len(argv) else "-"
            if with_unpack_to or value.startswith("-"):
                options.append("--debug")
                index += 1
            else:
                options += ["--unpack-to", value]
                index += 2
            continue
        width = 2 if arg in _VALUE_OPTIONS else 1
        options += argv[index : index + width]
        index += width
    return options, argv[index:]


def _quick_parse(options: list[str]) -> Options | None:
    """Parse the common spellings of the options without argparse; None for anything else
    (help, errors, unknown options), which `_full_parse` then handles."""
    parsed = Options()
    index = 0
    while index < len(options):
        arg = options[index]
        name, value = arg, None
        if arg in _VALUE_OPTIONS:
            if index + 1 >= len(options):
                return None
            value = options[index + 1]
            index += 2
        elif arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            index += 1
        elif len(arg) > 2 and arg[:2] in _VALUE_OPTIONS and not arg.startswith("--"):
            name, value = arg[:2], arg[2:]
            index += 1
        elif arg in _FLAG_OPTIONS:
            setattr(parsed, _FLAG_OPTIONS[arg], True)
            index += 1
            continue
        elif arg in _VERBOSITY_OPTIONS:
            step = _VERBOSITY_OPTIONS[arg]
            if step < 0:
                parsed.quiet -= step
            else:
                parsed.verbose += step
            index += 1
            continue
        else:
            return None
        attribute = _VALUE_OPTIONS.get(name)
        if attribute is None or value.startswith("-"):
            return None
        if attribute == "wait":
            try:
                parsed.wait = seconds(value)
            except ValueError:
                return None
        else:
            setattr(parsed, attribute, value)
    return parsed


def _full_parse(options: list[str], command: list[str], prog: str = PROG) -> Options | int:
    parser = build_parser(prog)
    try:
        namespace = parser.parse_args(options)
        if namespace.help_env_creation:
            parsed = Options()
            parsed.help_env_creation = True
            return parsed
        if namespace.environment is None and namespace.unpack_to is None:
            parser.error("give an environment (-e ENV), an unpack folder (-d DIR), or both")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    parsed = Options()
    for name in vars(parsed):
        setattr(parsed, name, getattr(namespace, name))
    return parsed


def seconds(text: str) -> float:
    """A number of seconds, >= 0 and finite (raises ValueError otherwise)."""
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not a number of seconds: {text!r}")
    return value


def _configure_logging(level: int, prog: str = PROG) -> None:
    import logging

    def tagged(record: logging.LogRecord) -> bool:  # poncho_core.cli_common.tag_record
        level = record.levelno
        tag = "error: " if level >= 40 else "warning: " if level >= 30 else ""
        record.poncho_level = tag
        return True

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(tagged)
    handler.setFormatter(logging.Formatter(f"{prog}: %(poncho_level)s%(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if level >= 2 else logging.INFO if level == 1 else logging.WARNING,
        handlers=[handler],
    )
