"""The `poncho` umbrella command: `poncho analyze|create|run|fetch|spec|inspect|diff ...`.

Each package sub-command is exactly the CLI of its package (`poncho create ...` is
`poncho_package_create ...`): the arguments after the sub-command are passed on untouched,
and the package's help and messages name it ``poncho create``. `inspect`, `diff`, `cache`
and `completion` are the umbrella's own.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Callable, Sequence

from poncho import __version__
from poncho_core.cli_common import ArgumentParser, epilog, usage_error

# sub-command -> (module holding main(argv) -> int, the package's own command name, summary)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "analyze": (
        "poncho_analyze.cli",
        "poncho_package_analyze",
        "find a script's imports and write a pinned environment spec",
    ),
    "create": (
        "poncho_create.cli",
        "poncho_package_create",
        "build and pack the environment a spec describes",
    ),
    "run": (
        "poncho_run.cli",
        "poncho_package_run",
        "run a command inside a packed environment",
    ),
    "fetch": ("poncho_fetch.cli", "poncho_fetch", "prefetch the data a spec names"),
    "spec": ("poncho_spec.cli", "poncho_spec", "validate, show or hash a spec"),
}

# The umbrella's own sub-commands: name -> (module, its main function, summary).
OWN_COMMANDS: dict[str, tuple[str, str, str]] = {
    "inspect": (
        "poncho.inspect_cli",
        "inspect_main",
        "show what a tarball, lock, spec or unpacked environment holds",
    ),
    "diff": ("poncho.inspect_cli", "diff_main", "show what differs between two of them"),
    "cache": ("poncho.cache_cli", "main", "list or prune the environment, data and package caches"),
    "completion": (
        "poncho.completion_cli",
        "main",
        "print the bash, zsh or fish completion script (see 'poncho completion -h')",
    ),
}
_OPTIONS = ("-h", "--help", "-V", "--version")
_PER_COMMAND = ("-q", "--quiet", "-v", "-vv", "--verbose")  # every command's, not poncho's
_USAGE = "poncho [-h] [-V] COMMAND [ARGS...]"


def build_parser() -> argparse.ArgumentParser:
    """The parser that formats the umbrella's help (its arguments are read by `main`, since
    a command's arguments must reach the command untouched)."""
    width = max(map(len, [*COMMANDS, *OWN_COMMANDS]))
    rows = [
        f"  {name:<{width}}  {summary} (same as {original})"
        for name, (_module, original, summary) in COMMANDS.items()
    ]
    rows += [f"  {name:<{width}}  {summary}" for name, (_m, _f, summary) in OWN_COMMANDS.items()]
    rows.append(f"  {'help':<{width}}  print this help, or with COMMAND the options of COMMAND")
    text = "\n".join(
        [
            "commands:",
            *rows,
            "",
            "Run 'poncho COMMAND -h' (or 'poncho help COMMAND') for the options of a command. "
            "Every command takes -q (quiet) and -v/-vv (verbose); without them, "
            "$PONCHO_VERBOSITY (-1, 0, 1, 2) decides.",
        ]
    )
    parser = ArgumentParser(
        prog="poncho",
        usage=_USAGE,
        description="Ship a Python program's exact environment to the machines that run it.",
        epilog=epilog(
            text,
            exit_status=[
                ("N", "the command's (see 'poncho COMMAND -h')"),
                ("2", "bad usage: no or an unknown command"),
            ],
        ),
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="print this help and exit")
    parser.add_argument(
        "-V", "--version", action="store_true", help="print the version of Poncho and exit"
    )
    return parser


def usage() -> str:
    """Return the umbrella command's help text, wrapped to the terminal."""
    return build_parser().format_help().rstrip("\n")


def load_command(name: str) -> Callable[..., int]:
    """Return the `main(argv, *, prog)` function of sub-command *name*."""
    if name in OWN_COMMANDS:
        module, function, _summary = OWN_COMMANDS[name]
    else:
        module, function = COMMANDS[name][0], "main"
    main: Callable[..., int] = getattr(importlib.import_module(module), function)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a sub-command; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["help"] and args[1:2] and args[1] != "help":
        args = [*args[1:], "--help"]  # 'poncho help cache prune': 'poncho cache prune --help'
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    if args[0] in {"-V", "--version"}:
        print(f"poncho {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS and name not in OWN_COMMANDS:
        known = [*COMMANDS, *OWN_COMMANDS]
        what = "option" if name.startswith("-") else "command"
        words = [*_OPTIONS, *_PER_COMMAND] if what == "option" else known
        close = difflib.get_close_matches(name, words, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (commands: {', '.join(known)})"
        if name in _PER_COMMAND or (close and close[0] in _PER_COMMAND):
            hint = f"; {name} goes after the command: poncho COMMAND {name} ..."
        sys.stderr.write(usage_error("poncho", f"unknown {what} {name!r}{hint}"))
        return 2
    return load_command(name)(rest, prog=f"poncho {name}")


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
