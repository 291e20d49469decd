from __future__ import annotations

import argparse
import json
import logging

import pytest

from poncho_core.cli_common import (
    ArgumentParser,
    HelpFormatter,
    add_verbosity_options,
    epilog,
    log_format,
    log_level,
    report_error,
    resolve_verbosity,
    stderr_handler,
    suggestion,
    tag_record,
    verbosity,
)
from poncho_core.errors import LockTimeout, PonchoError
from poncho_core.verbosity import NOTE

# (-q count, -v count, $PONCHO_VERBOSITY or None) -> verbosity.  The same table checks
# poncho_package_run's copy of the rule (packages/poncho-run/tests/test_cli.py).
VERBOSITY_TABLE = [
    (0, 0, None, 0),
    (0, 0, "", 0),
    (1, 0, None, -1),
    (2, 0, None, -1),  # kept within -1..2
    (0, 1, None, 1),
    (0, 2, None, 2),
    (0, 5, None, 2),
    (1, 1, None, 0),  # counted against each other, as pip does
    (0, 0, "-1", -1),
    (0, 0, "1", 1),
    (0, 0, "2", 2),
    (0, 0, "7", 2),
    (0, 0, "-9", -1),
    (0, 0, "007", 2),
    (0, 1, "-1", 1),  # the command line wins
    (1, 0, "2", -1),
    (1, 1, "2", 0),
]
BAD_VALUES = ["x", "1.5", " 1", "--1", "-", "+1", "\u0661"]


@pytest.mark.parametrize(("quiet", "verbose", "env", "expected"), VERBOSITY_TABLE)
def test_verbosity_rule(quiet: int, verbose: int, env: str | None, expected: int) -> None:
    environ = {} if env is None else {"PONCHO_VERBOSITY": env}
    assert resolve_verbosity(quiet, verbose, environ) == expected


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_bad_variable_is_named(value: str) -> None:
    with pytest.raises(ValueError, match=r"PONCHO_VERBOSITY=.*expected an integer"):
        resolve_verbosity(0, 0, {"PONCHO_VERBOSITY": value})
    assert resolve_verbosity(0, 1, {"PONCHO_VERBOSITY": value}) == 1  # not read: -v given


def test_parsed_options_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = ArgumentParser(prog="demo")
    add_verbosity_options(parser)
    monkeypatch.setenv("PONCHO_VERBOSITY", "1")
    assert verbosity(parser, parser.parse_args([])) == 1
    assert verbosity(parser, parser.parse_args(["-vv"])) == 2
    assert verbosity(parser, parser.parse_args(["--quiet"])) == -1
    monkeypatch.setenv("PONCHO_VERBOSITY", "loud")
    with pytest.raises(SystemExit) as exit_info:
        verbosity(parser, parser.parse_args([]))
    assert exit_info.value.code == 2
    assert "demo: error: PONCHO_VERBOSITY='loud': expected an integer" in capsys.readouterr().err


def test_log_levels_and_lines() -> None:
    assert [log_level(v) for v in (-1, 0, 1, 2)] == [
        logging.WARNING,
        NOTE,  # notices: shown by default, not with -q
        logging.INFO,
        logging.DEBUG,
    ]
    formatter = logging.Formatter(log_format("demo"))
    lines = []
    for level in (logging.DEBUG, logging.INFO, NOTE, logging.WARNING, logging.ERROR):
        record = logging.LogRecord("x", level, __file__, 1, "said %s", ("it",), None)
        assert tag_record(record)
        lines.append(formatter.format(record))
    assert lines == [
        "demo: said it",
        "demo: said it",
        "demo: note: said it",
        "demo: warning: said it",
        "demo: error: said it",
    ]


def test_the_one_handler_writes_tagged_lines_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("poncho-core-test-handler")
    logger.propagate = False
    logger.handlers[:] = [stderr_handler("demo")]
    try:
        logger.warning("careful %s", "here")
        logger.error("broken")
    finally:
        logger.handlers[:] = []
    assert capsys.readouterr().err == "demo: warning: careful here\ndemo: error: broken\n"


@pytest.mark.parametrize(
    ("exc", "status", "err"),
    [
        (KeyboardInterrupt(), 130, "demo: interrupted\n"),
        (PonchoError("one line"), 1, "demo: error: one line\n"),
        (PonchoError("two\nlines"), 1, "demo: error: two\ndemo: error: lines\n"),
        (PonchoError(""), 1, "demo: error: PonchoError\n"),
        (OSError(2, "No such file or directory", "x.json"), 1, "demo: error: x.json: No such"),
        (OSError(20, "Not a directory"), 1, "demo: error: Not a directory\n"),
    ],
)
def test_what_ends_a_command_is_reported_with_its_status(
    exc: BaseException, status: int, err: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_error("demo", exc) == status
    assert capsys.readouterr().err.startswith(err)


def test_an_error_keeps_its_own_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    exc = LockTimeout("/envs/.locks/a.lock", 5.0)
    assert report_error("demo", exc) == 75
    assert capsys.readouterr().err.startswith("demo: error: ")


def test_under_json_a_failure_is_also_a_document_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report_error("demo", PonchoError("two\nlines"), json_output=True, exit_status=2) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": {"message": "two\nlines", "exit_status": 2}}
    assert err == "demo: error: two\ndemo: error: lines\n"
    assert report_error("demo", KeyboardInterrupt(), json_output=True) == 130
    assert json.loads(capsys.readouterr().out)["error"] == {
        "message": "interrupted",
        "exit_status": 130,
    }
    assert report_error("demo", PonchoError("x")) == 1
    assert capsys.readouterr().out == ""  # without --json: nothing on stdout


def test_epilog_ends_with_exit_statuses_then_variables() -> None:
    text = epilog(
        "Some words.",
        exit_status=[("0", "fine"), ("1", "not")],
        environment=[("A_VERY_LONG_VARIABLE_NAME_INDEED", "long"), ("SHORT", "short")],
    )
    assert text == (
        "Some words.\n\n"
        "exit status:\n  0  fine\n  1  not\n\n"
        "environment variables:\n"
        "  A_VERY_LONG_VARIABLE_NAME_INDEED\n"
        "                    long\n"
        "  SHORT             short\n"
        "  PONCHO_VERBOSITY  -1 as -q, 0 the default, 1 as -v, 2 as -vv (-q and -v win over it)\n"
    )


@pytest.mark.parametrize("columns", [40, 60, 100])
def test_help_is_wrapped_to_the_terminal(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    parser = ArgumentParser(
        prog="demo",
        description="A long description " * 12,
        epilog=epilog(
            "Another long paragraph " * 6,
            exit_status=[("0", "all went well, and this explanation is rather long " * 2)],
        ),
    )
    text = parser.format_help()
    width = columns - 2  # argparse's width
    assert all(len(line) <= width for line in text.splitlines()), text
    assert "A long description A long" in text.replace("\n", " ")
    # A table row wraps under its text column, not at the left margin.
    rows = text.split("exit status:\n")[1].splitlines()
    assert rows[0].startswith("  0  all went well")
    assert rows[1].startswith("     ") and rows[1].strip()


def test_plain_argparse_would_not_wrap_to_the_width() -> None:
    # What the formatter is for: RawDescriptionHelpFormatter keeps a long line whole.
    raw = argparse.RawDescriptionHelpFormatter("demo", width=40)
    mine = HelpFormatter("demo", width=40)
    text = "word " * 30
    assert max(map(len, raw._fill_text(text, 40, "").splitlines())) > 40
    assert max(map(len, mine._fill_text(text, 40, "").splitlines())) <= 40


def test_did_you_mean_for_options_and_sub_commands(capsys: pytest.CaptureFixture[str]) -> None:
    parser = ArgumentParser(prog="demo")
    add_verbosity_options(parser)
    parser.add_argument("--json", action="store_true")
    sub = parser.add_subparsers(dest="command")
    validate = sub.add_parser("validate")
    validate.add_argument("--strict", action="store_true")
    for argv, hint in (
        (["--verbsoe"], "did you mean '--verbose'?"),
        (["--jsno=1"], "did you mean '--json'?"),
        (["validate", "--stirct"], "did you mean '--strict'?"),
        (["valdate"], "did you mean 'validate'?"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 2
        first = capsys.readouterr().err.splitlines()[0]
        assert first.endswith(hint), argv
    with pytest.raises(SystemExit):
        parser.parse_args(["--zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err
    assert suggestion(parser, "the following arguments are required: X") == ""


def test_a_usage_error_is_one_line_and_where_the_usage_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = ArgumentParser(prog="demo")
    add_verbosity_options(parser)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("SPEC")
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["s.json", "--jsonn"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "demo: error: unrecognized arguments: --jsonn; did you mean '--json'?\n"
        "demo: see 'demo -h' for the usage and options\n"
    )
    with pytest.raises(SystemExit):
        parser.parse_args([])
    err = capsys.readouterr().err
    assert "usage:" not in err and err.count("\n") == 2
