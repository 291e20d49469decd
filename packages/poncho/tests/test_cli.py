"""The umbrella command dispatches to exactly the per-package CLIs."""

from __future__ import annotations

import importlib
import json
import shutil
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from poncho import cli

SPEC = {"conda": {"channels": ["conda-forge"], "dependencies": ["python=3.11", "numpy=1.26"]}}


def test_no_arguments_prints_usage_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert f"\n  {name} " in out


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "poncho_package_create" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "poncho 0.1.0"


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bake"]) == 2
    err = capsys.readouterr().err
    assert "poncho: error: unknown command 'bake' (commands: analyze, create," in err
    assert err.splitlines()[1] == "poncho: see 'poncho -h' for the usage and options"
    assert len(err.splitlines()) == 2  # the error and where the usage is, not the whole help


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["anlyze", "x.py"]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first == "poncho: error: unknown command 'anlyze'; did you mean 'analyze'?"
    assert cli.main(["inspekt"]) == 2
    assert "did you mean 'inspect'?" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_each_command_is_the_package_cli(name: str) -> None:
    module, original, _ = cli.COMMANDS[name]
    assert cli.load_command(name) is importlib.import_module(module).main
    # ... and the package's own command runs the same function: a console script pointing
    # at it, or (poncho_package_run) a script of its own that runs poncho_run.cli.main.
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    if original in scripts:
        assert scripts[original].split(":")[0] == module
    else:
        script = shutil.which(original, path=sysconfig.get_path("scripts"))
        assert script is not None, f"{original} is not installed"
        assert b"poncho_run/cli.py" in Path(script).read_bytes()  # the engine it carries


def test_spec_subcommand_gives_the_same_output_as_poncho_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    from poncho_spec import cli as spec_cli

    assert spec_cli.main(["hash", str(spec)]) == 0
    direct = capsys.readouterr()
    assert cli.main(["spec", "hash", str(spec)]) == 0
    via_umbrella = capsys.readouterr()
    assert via_umbrella == direct
    assert len(direct.out.strip()) == 64


def test_errors_of_a_subcommand_keep_its_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["spec", "validate", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
