"""Every command's help, walked through every parser: the same options, the same ending, the
umbrella's names, wrapped to the terminal."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator

import pytest

from poncho.cli import COMMANDS, OWN_COMMANDS, main, usage

# Every parser factory: the package commands, then the umbrella's own.
FACTORIES = {
    "poncho_package_analyze": ("poncho_analyze.cli", "build_parser"),
    "poncho_package_create": ("poncho_create.cli", "build_parser"),
    "poncho_package_run": ("poncho_run.cli", "build_parser"),
    "poncho_fetch": ("poncho_fetch.cli", "build_parser"),
    "poncho_spec": ("poncho_spec.cli", "build_parser"),
    "poncho inspect": ("poncho.inspect_cli", "build_inspect_parser"),
    "poncho diff": ("poncho.inspect_cli", "build_diff_parser"),
    "poncho cache": ("poncho.cache_cli", "build_parser"),
    "poncho completion": ("poncho.completion_cli", "build_parser"),
}


def parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of every command and sub-command."""

    def walk(
        name: str, parser: argparse.ArgumentParser
    ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(f"{name} {sub_name}", sub)

    for name, (module, factory) in FACTORIES.items():
        yield from walk(name, getattr(importlib.import_module(module), factory)())


def _leaf(parser: argparse.ArgumentParser) -> bool:
    return not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def test_the_walk_sees_every_command() -> None:
    names = {name for name, _ in parsers()}
    assert {"poncho_spec validate", "poncho cache prune", "poncho_package_run"} <= names
    umbrella = {f"poncho {name}" for name in OWN_COMMANDS}
    assert umbrella <= names


@pytest.mark.parametrize("columns", [80, 40])
def test_every_help_ends_with_exit_statuses_then_variables(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    for name, parser in parsers():
        text = parser.format_help()
        assert "\nexit status:\n" in text, name
        statuses, _, variables = text.rpartition("\nexit status:\n")[2].partition(
            "\nenvironment variables:\n"
        )
        assert variables, f"{name}: no environment variables after its exit statuses"
        assert any(line.split()[:1] == ["2"] for line in statuses.splitlines()), name
        rows = [line for line in variables.splitlines() if line.strip()]
        assert all(line.startswith("  ") for line in rows), f"{name}: text after the variables"
        assert "PONCHO_VERBOSITY" in variables, name
        # Wrapped: descriptions, help texts and epilogs fit (argparse leaves 2 columns free;
        # an option's own spelling, "  --conda-exe PATH, --conda-executable PATH", cannot).
        prose = text.split("\n\n", 1)[1]
        too_long = [
            line
            for line in prose.splitlines()
            if len(line) > max(columns - 2, 20) and not line.startswith("  -")
        ]
        assert not too_long, (name, too_long)


def test_every_command_takes_quiet_and_verbose() -> None:
    for name, parser in parsers():
        if not _leaf(parser) or name == "poncho completion":
            continue
        options = {o for action in parser._actions for o in action.option_strings}
        assert {"-q", "--quiet", "-v", "--verbose"} <= options, name


@pytest.mark.parametrize("command", sorted([*COMMANDS, *OWN_COMMANDS]))
def test_a_sub_command_s_help_names_the_umbrella(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main([command, "-h"])
    except SystemExit as exc:
        status = exc.code
    assert status == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: poncho {command} "), out[:200]
    assert "poncho_package_" not in out.splitlines()[0]


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["create", "spec.json", "--verbsoe"], "did you mean '--verbose'?"),
        (["analyze", "x.py", "-", "--toplvel"], "did you mean '--toplevel'?"),
        (["fetch", "--jsn", "spec.json"], "did you mean '--json'?"),
        (["spec", "validate", "--stict", "x"], "did you mean '--strict'?"),
        (["cache", "list", "--envs-dri", "x"], "did you mean '--envs-dir'?"),
        (["run", "-e", "x", "--no-dta", "--", "true"], "did you mean '--no-data'?"),
        (["inspect", "--jsno", "x"], "did you mean '--json'?"),
        (["anlyze"], "did you mean 'analyze'?"),
        (["--verison"], "did you mean '--version'?"),
    ],
)
def test_did_you_mean(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith(hint), err
    assert f"poncho {argv[0]}: error:" in err or "poncho: error:" in err


@pytest.mark.parametrize("columns", [80, 60])
def test_the_umbrella_help_ends_the_same_way_and_fits(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = usage()
    assert "\nexit status:\n" in text
    variables = text.rpartition("\nenvironment variables:\n")[2].splitlines()
    assert variables[0].startswith("  PONCHO_VERBOSITY  ")
    assert all(line.startswith("  ") for line in variables)
    assert max(map(len, text.splitlines())) <= columns - 2
    for name in [*COMMANDS, *OWN_COMMANDS, "help"]:
        assert f"\n  {name} " in text


def test_help_and_version_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help"]) == 0
    assert capsys.readouterr().out == usage() + "\n"
    for argv in (["help", "inspect"], ["inspect", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith("usage: poncho inspect [-h]")
    with pytest.raises(SystemExit):
        main(["help", "cache", "prune"])
    assert capsys.readouterr().out.startswith("usage: poncho cache prune [-h]")
    assert main(["help", "bake"]) == 2
    assert "unknown command 'bake'" in capsys.readouterr().err
    assert main(["-V"]) == 0
    assert capsys.readouterr().out == "poncho 0.1.0\n"


def test_inspect_and_diff_describe_their_operands() -> None:
    from poncho.inspect_cli import build_diff_parser, build_inspect_parser

    for parser, names in ((build_inspect_parser(), ["PATH"]), (build_diff_parser(), ["A", "B"])):
        described = {a.metavar: a.help for a in parser._actions if not a.option_strings}
        assert list(described) == names and all(described.values())


@pytest.mark.parametrize("option", ["-v", "--verbos", "-q"])
def test_verbosity_before_the_command_says_where_it_goes(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([option, "create", "spec.json"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith(
        f"; {option} goes after the command: poncho COMMAND {option} ..."
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_dash_capital_v(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """-V, as conda, pixi and uv spell it, on each command as on `poncho`."""
    try:
        status = main([name, "-V"])
    except SystemExit as exc:
        status = exc.code
    assert status == 0
    assert capsys.readouterr().out.startswith(f"{COMMANDS[name][1]} ")
