"""The command line of ``poncho_package_run``: its options, read quickly or by argparse.

The command line is split in two at the first argument that is not an option (or after
``--``): the options, parsed here, and COMMAND with its arguments, passed on untouched.
The common spellings are read without argparse (`quick_parse`: a warm run must not pay for
it); anything else (help, errors, unusual spellings) goes to `build_parser`'s argparse
parser (`full_parse`). What the options then do is `poncho_run.cli`'s.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

__all__ = ["PROG", "Options", "build_parser", "full_parse", "quick_parse", "seconds", "split"]

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
Without -u, ENV is unpacked into a temporary folder that is removed afterwards, also when
the command fails or SIGINT/SIGTERM/SIGHUP arrives (passed on to the command). With -u, DIR
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
    ("PONCHO_RUN_STORE", "the node store's folder, or off (default: .poncho-store-UID beside DIR)"),
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
_FLAG_OPTIONS = {"--no-data": "no_data", "--no-store": "no_store"}
# How much each spelling adds to the verbosity (-d alone is --debug, see split).
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
        self.no_store = False
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


def usage(prog: str = PROG) -> str:
    """The usage line's text, after ``usage: ``."""
    return f"{prog} [-e ENV] [-u DIR] [-w SECS] [options] [--] [COMMAND [ARGS...]]"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser of the options (everything before COMMAND); *prog* names the command."""
    from poncho_core.cli_common import ArgumentParser, add_verbosity_options, epilog
    from poncho_run import __version__

    parser = ArgumentParser(
        prog=prog,
        usage=usage(prog),
        description=_DESCRIPTION,
        epilog=epilog(_EPILOG_TEXT, exit_status=_EXIT_STATUS, environment=_ENVIRONMENT),
        allow_abbrev=False,
    )
    parser.add_argument(
        "-e", "--environment", metavar="ENV", help="environment tarball or unpacked folder"
    )
    parser.add_argument(
        "-u",
        "-d",  # never reaches argparse: split spells it --unpack-to or --debug
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
        "--no-store",
        action="store_true",
        help="unpack DIR with files of its own, not hard links into the node store "
        "($PONCHO_RUN_STORE=off does the same)",
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
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def split(argv: list[str]) -> tuple[list[str], list[str]]:
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


def quick_parse(options: list[str]) -> Options | None:
    """Parse the common spellings of the options without argparse; None for anything else
    (help, errors, unknown options), which `full_parse` then handles."""
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


def full_parse(options: list[str], command: list[str], prog: str = PROG) -> Options | int:
    """Parse `options` with argparse: the `Options`, or the exit status of help, version or
    a usage error (argparse has printed them)."""
    parser = build_parser(prog)
    try:
        namespace = parser.parse_args(options)
        if namespace.help_env_creation:
            parsed = Options()
            parsed.help_env_creation = True
            return parsed
        if namespace.environment is None and namespace.unpack_to is None:
            parser.error("give an environment (-e ENV), an unpack folder (-u DIR), or both")
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
