"""The lazy loggers: no :mod:`logging` import for records nobody would see."""

from __future__ import annotations

import subprocess
import sys

CODE = """\
import sys
from poncho_analyze import _log
_log.configure(level={level}, format="%(name)s: %(message)s")
log = _log.get_logger("poncho_analyze.test")
log.debug("a debug record")
log.info("an info record")
print("logging" in sys.modules)
"""


def _run(level: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CODE.format(level=level)],
        capture_output=True,
        text=True,
        check=True,
    )


def test_records_below_the_level_import_nothing() -> None:
    out = _run(30)
    assert out.stdout == "False\n"
    assert out.stderr == ""


def test_records_at_the_level_are_written() -> None:
    out = _run(20)
    assert out.stdout == "True\n"
    assert out.stderr == "poncho_analyze.test: an info record\n"
    out = _run(10)
    assert out.stderr.splitlines() == [
        "poncho_analyze.test: a debug record",
        "poncho_analyze.test: an info record",
    ]


def test_a_program_that_configured_logging_gets_the_records() -> None:
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s', stream=sys.stdout)\n"
        "from poncho_analyze import _log\n"
        "_log.get_logger('x').info('seen %s', 1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "seen 1\n"
