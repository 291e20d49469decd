"""The verbosity every Poncho command shares, without argparse (the worker's quick path
reads it too).

Verbosity is one integer: -1 quiet (only warnings and errors), 0 the default (progress and
notices too), 1 says what is done (``-v``), 2 also the commands run and their output
(``-vv``). ``-v`` and ``-q`` count (``-vv``; ``-v -q`` is 0, as pip counts them) and the
result is kept within -1..2. Without either, ``$PONCHO_VERBOSITY`` decides; the command
line always wins. The sh front end of ``poncho_package_run`` applies the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = [
    "DEBUG",
    "DEFAULT",
    "NOTE",
    "QUIET",
    "VERBOSE",
    "VERBOSITY_ENV",
    "VERBOSITY_ENV_HELP",
    "log_format",
    "log_level",
    "resolve_verbosity",
    "stderr_handler",
    "tag_record",
]

VERBOSITY_ENV = "PONCHO_VERBOSITY"
QUIET, DEFAULT, VERBOSE, DEBUG = -1, 0, 1, 2
VERBOSITY_ENV_HELP = "-1 as -q, 0 the default, 1 as -v, 2 as -vv (-q and -v win over it)"


def resolve_verbosity(
    quiet: int = 0, verbose: int = 0, environ: Mapping[str, str] | None = None
) -> int:
    """The verbosity from the counts of ``-q`` and ``-v``, else from ``$PONCHO_VERBOSITY``.

    Raises ValueError (naming the variable) when the variable is not an integer.
    """
    if quiet or verbose:
        return max(QUIET, min(DEBUG, verbose - quiet))
    text = (os.environ if environ is None else environ).get(VERBOSITY_ENV, "")
    if not text:
        return DEFAULT
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):  # as strict as the sh front end
        raise ValueError(f"{VERBOSITY_ENV}={text!r}: expected an integer ({VERBOSITY_ENV_HELP})")
    return max(QUIET, min(DEBUG, int(text)))


NOTE = 25
"""The logging level of a notice (between INFO and WARNING): shown as ``prog: note: ...``
by default, hidden by ``-q``."""


def log_level(verbosity: int) -> int:
    """The logging level of a verbosity: WARNING at -1, NOTE at 0, INFO at 1, DEBUG at 2."""
    # The numbers of logging.DEBUG, INFO and WARNING: the commands that care about their
    # start-up time import logging only when a record is written.
    if verbosity >= DEBUG:
        return 10
    return 20 if verbosity == VERBOSE else NOTE if verbosity == DEFAULT else 30


def log_format(prog: str) -> str:
    """The one format of log lines on stderr: ``prog: warning: ...``, ``prog: error: ...``
    (as the commands' own warnings and errors), ``prog: ...`` for what -v and -vv add."""
    return f"{prog}: %(poncho_level)s%(message)s"


def tag_record(record: object) -> bool:
    """A `logging.Filter` function giving *record* the ``poncho_level`` `log_format` shows:
    ``"note: "``, ``"warning: "`` or ``"error: "``, nothing below NOTE."""
    level = getattr(record, "levelno", 0)
    record.poncho_level = (  # type: ignore[attr-defined]
        "error: "
        if level >= 40
        else "warning: "
        if level >= 30
        else "note: "
        if level >= NOTE
        else ""
    )
    return True


def stderr_handler(prog: str) -> logging.Handler:
    """The one handler of a command's log records: lines on stderr in `log_format`, tagged
    by `tag_record` (``logging`` is imported here, when a command first logs)."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(log_format(prog)))
    handler.addFilter(tag_record)
    return handler
