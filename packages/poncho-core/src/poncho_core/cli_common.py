"""What every Poncho command line shares: verbosity options, help layout, "did you mean",
how an error or Ctrl-C that ends a command is reported.

One copy of these conventions for every command: poncho_package_analyze,
poncho_package_create, poncho_package_run (its engine, in the copied script's zip too),
poncho_fetch, poncho_spec and the ``poncho`` umbrella. The verbosity rule itself is
`poncho_core.verbosity` (no argparse: the worker's quick path reads it).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import NoReturn

from poncho_core.verbosity import (
    VERBOSITY_ENV,
    VERBOSITY_ENV_HELP,
    log_format,
    log_level,
    resolve_verbosity,
    stderr_handler,
    tag_record,
)

__all__ = [
    "VERBOSITY_ENV",
    "ArgumentParser",
    "HelpFormatter",
    "add_verbosity_options",
    "epilog",
    "json_error",
    "log_format",
    "log_level",
    "report_error",
    "resolve_verbosity",
    "stderr_handler",
    "tag_record",
    "usage_error",
    "verbosity",
]


def add_verbosity_options(
    parser: argparse.ArgumentParser, verbose_aliases: Sequence[str] = ()
) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` (both counted, `verbose_aliases` spelling
    ``-v`` too) to *parser*."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="less output: only warnings and errors (no progress, no notices)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        *verbose_aliases,
        action="count",
        default=0,
        help="more output: -v says what is done, -vv also the commands run and their output",
    )


def verbosity(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The verbosity *args* ask for (`resolve_verbosity`); a bad ``$PONCHO_VERBOSITY`` is a
    usage error of *parser* (exit 2)."""
    try:
        return resolve_verbosity(getattr(args, "quiet", 0), getattr(args, "verbose", 0))
    except ValueError as exc:
        parser.error(str(exc))


def report_error(
    prog: str, exc: BaseException, *, json_output: bool = False, exit_status: int | None = None
) -> int:
    """Say on stderr what ended the command *prog* and return its exit status, as every
    Poncho command does: Ctrl-C (`KeyboardInterrupt`) is ``prog: interrupted``, 130; an
    error is one ``prog: error: LINE`` per line of its message (every line of stderr names
    the command), with *exit_status* if given, else the error's ``exit_status`` (1 for one
    without, e.g. an OSError). With *json_output* (the command's ``--json``), stdout also
    gets the error document (`json_error`), as conda's ``--json`` does."""
    if isinstance(exc, KeyboardInterrupt):
        sys.stderr.write(f"{prog}: interrupted\n")
        message, status = "interrupted", 130
    else:
        message = str(exc) or type(exc).__name__
        if type(exc).__module__ == "builtins" and isinstance(exc, OSError) and exc.strerror:
            # "afile: Not a directory", not "[Errno 20] Not a directory: 'afile'"
            message = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
        for line in message.splitlines():
            sys.stderr.write(f"{prog}: error: {line}\n")
        status = getattr(exc, "exit_status", 1) if exit_status is None else exit_status
        status = status if isinstance(status, int) else 1
    if json_output:
        sys.stdout.write(json_error(message, status))
    return status


def json_error(message: str, exit_status: int) -> str:
    """What ``--json`` prints on stdout when the command fails (the lines of stderr say
    the same): ``{"error": {"message": ..., "exit_status": N}}`` (docs/schemas/
    error.schema.json), so that a script reading stdout always gets one JSON document."""
    import json

    error = {"message": message, "exit_status": exit_status}
    return json.dumps({"error": error}, indent=2) + "\n"


def epilog(
    text: str = "",
    *,
    exit_status: Sequence[tuple[str, str]],
    environment: Sequence[tuple[str, str]] = (),
) -> str:
    """A help epilog: *text*, then the exit statuses, then the environment variables read
    (``PONCHO_VERBOSITY`` always last), so that every command's help ends the same way."""
    parts = [text.strip()] if text.strip() else []
    parts.append(_table("exit status:", exit_status))
    parts.append(
        _table("environment variables:", [*environment, (VERBOSITY_ENV, VERBOSITY_ENV_HELP)])
    )
    return "\n\n".join(parts) + "\n"


def _table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """*title*, then one row per pair; a long key gets a line of its own."""
    width = max((len(key) for key, _ in rows if len(key) <= _KEY_WIDTH), default=_KEY_WIDTH)
    lines = [title]
    for key, value in rows:
        if len(key) > width:
            lines += [f"  {key}", f"  {'':<{width}}  {value}"]
        else:
            lines.append(f"  {key:<{width}}  {value}")
    return "\n".join(lines)


_KEY_WIDTH = 22


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions and epilogs to the terminal, paragraph by paragraph, and keeps
    tables: a line indented by spaces is a row whose text wraps under its second column.
    The terminal's width is found without importing :mod:`shutil` (argparse does, for each
    formatter, on every run: it costs the commands' start-up its compression modules)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _columns() - 2  # the 2 argparse takes off itself
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(_fill(text, max(width, 20), indent))


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` tells it ($COLUMNS, the
    terminal of stdout, else 80)."""
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


def _fill(text: str, width: int, indent: str) -> Iterator[str]:
    import textwrap

    paragraphs = re.split(r"\n\s*\n", textwrap.dedent(text).strip("\n"))
    for number, paragraph in enumerate(paragraphs):
        if number:
            yield ""
        lines = paragraph.splitlines()
        if not any(line[:1].isspace() for line in lines[1:]) and not lines[0][:1].isspace():
            if lines[0].endswith(":") and len(lines) > 1:  # a heading over its rows
                yield indent + lines[0]
                lines = lines[1:]
            else:
                yield from textwrap.wrap(
                    " ".join(line.strip() for line in lines),
                    width,
                    initial_indent=indent,
                    subsequent_indent=indent,
                    break_on_hyphens=False,
                )
                continue
        for line in _rows(lines):
            yield from _row(line, width, indent)


def _rows(lines: list[str]) -> list[str]:
    """The rows of a table: a line indented deeper than a row with a text column (two
    spaces after its first words) continues that row's text."""
    rows: list[str] = []
    for line in lines:
        if rows and _indent(line) > _indent(rows[-1]) and _COLUMN.match(rows[-1]):
            rows[-1] += " " + line.strip()
        else:
            rows.append(line)
    return rows


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


_COLUMN = re.compile(r"^(\s*\S+(?: \S+)*?\s{2,})\S")


def _row(line: str, width: int, indent: str) -> Iterator[str]:
    """One table row; its text wraps under the column where it starts."""
    import textwrap

    lead = line[: _indent(line)]
    match = _COLUMN.match(line)
    hang = " " * len(match.group(1)) if match else lead
    if len(indent + line) <= width:
        yield indent + line
        return
    wrapped = textwrap.wrap(
        line.strip(),
        width,
        initial_indent=indent + lead,
        subsequent_indent=indent + hang,
        break_on_hyphens=False,
    )
    yield from wrapped or [indent + line]


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` with the layout of `HelpFormatter` and "did you mean"
    for a mistyped option or sub-command."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Print *message* on one line, with a suggestion for a mistyped word, and where the
        usage is (not the whole usage block, as plain argparse does); exit 2."""
        self.exit(2, usage_error(self.prog, message + suggestion(self, message)))


def usage_error(prog: str, message: str) -> str:
    """The two lines of a usage error of *prog*: ``prog: error: MESSAGE``, then where to
    read the usage (``prog: see 'prog -h'``); every command's bad usage looks the same."""
    return f"{prog}: error: {message}\n{prog}: see '{prog} -h' for the usage and options\n"


def suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """``"; did you mean '--verbose'?"`` for an error *message* of *parser* about an
    unknown option or an invalid choice, when a known one is close; else ``""``."""
    import difflib

    unknown = re.match(r"unrecognized arguments: (.*)$", message)
    if unknown:
        options = sorted(_option_strings(parser))
        for word in unknown.group(1).split():
            if word.startswith("-"):
                close = difflib.get_close_matches(word.partition("=")[0], options, n=1)
                if close:
                    return f"; did you mean {close[0]!r}?"
        return ""
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        choices = re.findall(r"'([^']*)'", choice.group(2)) or choice.group(2).split(", ")
        close = difflib.get_close_matches(choice.group(1), choices, n=1)
        if close:
            return f"; did you mean {close[0]!r}?"
    return ""


def _option_strings(parser: argparse.ArgumentParser) -> Iterable[str]:
    """Every option string of *parser* and of its sub-commands."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _option_strings(sub)
