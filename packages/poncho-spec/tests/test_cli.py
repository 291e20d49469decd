from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from poncho_spec import __version__, load_spec, loads_spec
from poncho_spec.cli import build_parser, entrypoint, main

DATA = Path(__file__).parent / "data"
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
GOOD = json.dumps({"conda": {"packages": ["python=3.11"]}, "pip": ["dill"]})


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.json"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text('{"conda": {"chanels": [], "dependencies": ["numpy>>1"]}}')
    return path


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    path = tmp_path / "warned.json"
    path.write_text('{"git": {"D": {"remote": "https://x.org/r.git", "ref": "main"}}}')
    return path


def test_validate_ok(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(good)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{good}: OK\n"
    assert err == ""


def test_validate_prints_every_problem(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"poncho_spec: error: {bad}: conda.chanels: unknown key (did you mean 'channels'?)",
        f"poncho_spec: error: {bad}: conda.dependencies[0]: 'numpy>>1' is not a valid conda "
        "match spec: unable to parse version spec: >>1",
    ]


def test_validate_several_files(good: Path, bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(good), str(bad), str(good)]) == 1
    out, _ = capsys.readouterr()
    assert out == f"{good}: OK\n{good}: OK\n"


def test_warnings_go_to_stderr(warned: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(warned)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{warned}: OK\n"
    assert err == (
        f"poncho_spec: warning: {warned}: git.D.ref: 'main' looks like a branch or tag: its "
        "commit can change; give a commit sha for a reproducible environment\n"
    )


def test_validate_strict_fails_on_warnings(
    warned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--strict", str(warned)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == f"poncho_spec: error: {warned}: warnings, and --strict"


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.json"
    assert main(["validate", str(missing)]) == 1
    assert capsys.readouterr().err == f"poncho_spec: error: {missing}: spec file not found\n"


def test_validate_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD))
    assert main(["validate", "-"]) == 0
    assert capsys.readouterr().out == "<stdin>: OK\n"


def test_show_prints_modern_form(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "conda": {"channels": ["conda-forge"], "dependencies": ["python=3.11", {"pip": ["dill"]}]}
    }


def test_show_to_a_file(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "modern.json"
    assert main(["show", str(good), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert load_spec(out) == load_spec(good)


def test_show_writes_through_links_and_into_devices(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o /dev/null must not turn the device into a file (as root it could)."""
    import os
    import stat

    before = os.stat("/dev/null")
    assert main(["show", str(good), "-o", "/dev/null"]) == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    (tmp_path / "specs").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "specs" / "real.json")
    assert main(["show", str(good), "-o", str(tmp_path / "link.json")]) == 0
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "specs" / "real.json").read_text())["conda"]


def test_show_canonical_is_what_the_hash_is_made_of(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--canonical", str(good)]) == 0
    text = capsys.readouterr().out
    spec = load_spec(good)
    assert text == spec.canonical_json() + "\n"
    assert main(["hash", str(good)]) == 0
    assert capsys.readouterr().out == spec.hash() + "\n"


def test_hash_of_legacy_and_modern_forms_agree(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modern = good.with_name("modern.json")
    assert main(["show", str(good), "-o", str(modern)]) == 0
    assert main(["hash", str(good)]) == 0
    assert main(["hash", str(modern)]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first == second == loads_spec(GOOD).hash()


def test_show_invalid(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(bad)]) == 1
    assert capsys.readouterr().err.startswith(f"poncho_spec: error: {bad}: conda.chanels:")


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from poncho_spec import json_schema

    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["hash"], ["show", "a", "b"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    error, see = capsys.readouterr().err.splitlines()  # one line and where the usage is
    prog = error.partition(": error: ")[0]
    assert prog.startswith("poncho_spec") and error != prog
    assert see == f"{prog}: see '{prog} -h' for the usage and options"


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"poncho_spec {__version__}\n"


def test_keyboard_interrupt_exits_130(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt(path: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("poncho_spec.cli.load_spec", interrupt)
    assert main(["hash", str(good)]) == 130


def test_entrypoint_exits_with_mains_code(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["poncho_spec", "validate", str(good)])
    with pytest.raises(SystemExit) as info:
        entrypoint()
    assert info.value.code == 0


def test_parser_prog() -> None:
    assert build_parser().prog == "poncho_spec"


def test_python_dash_m(good: Path) -> None:
    """The real command in a real process: `python -m poncho_spec`."""
    done = subprocess.run(
        [sys.executable, "-m", "poncho_spec", "hash", "-"],
        input=good.read_text(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == loads_spec(GOOD).hash() + "\n"


def test_python_dash_m_invalid_has_no_traceback(bad: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "poncho_spec", "validate", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("poncho_spec: error:")


def test_main_module_in_process(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    monkeypatch.setattr("sys.argv", ["poncho_spec", "validate", str(good)])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("poncho_spec", run_name="__main__")
    assert info.value.code == 0


def test_show_into_a_missing_folder_is_one_error_line(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "out.json"
    assert main(["show", str(good), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"poncho_spec: error: cannot write {out}: No such file or directory\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.json"]


@pytest.mark.parametrize("command", ["validate", "hash", "show"])
def test_a_lone_surrogate_is_an_error_for_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 13 item 5: validate said OK (rc 0), then hash and show crashed.
    path = tmp_path / "s.json"
    path.write_text('{"pip": ["./\\ud800"]}')
    assert main([command, str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"poncho_spec: error: {path}: pip[0]: contains a lone surrogate")
    assert captured.err.count("\n") == 1


def test_import_writes_the_spec_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("--index-url https://x.org/simple\nattrs==23.1.0\n")
    out = tmp_path / "spec.json"
    assert (
        main(["import", str(tmp_path / "requirements.txt"), "--python", "3.11", "-o", str(out)])
        == 0
    )
    assert json.loads(out.read_text())["conda"]["dependencies"] == [
        "python=3.11",
        "pip",
        {"pip": ["attrs==23.1.0"]},
    ]
    err = capsys.readouterr().err
    assert "poncho_spec: note: requirements.txt: line 1: --index-url" in err
    assert main(["import", str(tmp_path / "nothing.txt")]) == 1
    assert "nothing.txt" in capsys.readouterr().err


def test_quiet_and_verbose(
    good: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_hash = load_spec(str(good)).hash()
    assert main(["validate", "-q", str(good)]) == 0
    assert capsys.readouterr() == ("", "")  # the exit status says it
    assert main(["validate", "-v", str(good)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{good}: OK\n"
    assert err == f"poncho_spec: {good}: 1 conda, 1 pip and 0 data entries, hash {spec_hash}\n"
    monkeypatch.setenv("PONCHO_VERBOSITY", "-1")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["validate", "-v", str(good)]) == 0  # the command line wins
    assert capsys.readouterr().out == f"{good}: OK\n"
    monkeypatch.setenv("PONCHO_VERBOSITY", "1")
    assert main(["hash", str(good)]) == 0
    assert capsys.readouterr().err.startswith(f"poncho_spec: {good}: 1 conda")
    monkeypatch.setenv("PONCHO_VERBOSITY", "much")
    assert main(["hash", str(good)]) == 2
    assert "error: PONCHO_VERBOSITY='much': expected an integer" in capsys.readouterr().err


def test_import_notes_are_hidden_by_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--index-url https://example.org/simple\ndill\n")
    assert main(["import", str(requirements), "--python", "3.11"]) == 0
    assert "poncho_spec: note: " in capsys.readouterr().err
    assert main(["import", "-q", str(requirements), "--python", "3.11"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_help_of_each_command_ends_with_statuses_and_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["-h"], ["validate", "-h"], ["import", "-h"]):
        assert main(argv) == 0
        help_text = capsys.readouterr().out
        statuses, variables = help_text.split("\nexit status:\n")[1].split(
            "\nenvironment variables:\n"
        )
        assert "  2    bad usage" in statuses.splitlines()
        assert variables.lstrip().startswith("PONCHO_VERBOSITY")


def test_the_umbrella_name_is_used_in_usage_and_errors(
    capsys: pytest.CaptureFixture[str], bad: Path
) -> None:
    assert main(["validate", "-h"], prog="poncho spec") == 0
    assert capsys.readouterr().out.startswith("usage: poncho spec validate ")
    assert main(["validate", str(bad)], prog="poncho spec") == 1
    assert capsys.readouterr().err.startswith("poncho spec: error: ")


@pytest.mark.parametrize("name", ["requirements.txt", "environment.yml"])
def test_import_writes_local_paths_for_where_the_spec_is_read(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """-o OUT in another folder: paths relative to OUT's folder (create reads them so); to
    stdout: relative to the cwd (`> spec.json`, `| poncho_package_create -`)."""
    proj = tmp_path / "proj"
    (proj / "lib").mkdir(parents=True)
    if name == "requirements.txt":
        (proj / name).write_text("-e ./lib\n../proj/lib\n")
    else:
        (proj / name).write_text("dependencies:\n  - python\n  - pip:\n    - ./lib\n")
    out = tmp_path / "specs" / "spec.json"
    out.parent.mkdir()
    assert main(["import", "-q", "-o", str(out), str(proj / name)]) == 0
    pip = json.loads(out.read_text())["conda"]["dependencies"][-1]["pip"]
    assert set(pip) == {"../proj/lib"}
    assert all((out.parent / p).resolve() == proj / "lib" for p in pip)
    monkeypatch.chdir(tmp_path)
    assert main(["import", "-q", str(proj / name)]) == 0
    assert set(json.loads(capsys.readouterr().out)["conda"]["dependencies"][-1]["pip"]) == {
        "./proj/lib"
    }
    assert main(["import", "-q", "-o", str(proj / "spec.json"), str(proj / name)]) == 0
    assert set(
        json.loads((proj / "spec.json").read_text())["conda"]["dependencies"][-1]["pip"]
    ) == {"./lib"}


def test_import_into_a_missing_folder_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("attrs\n")
    out = tmp_path / "no" / "spec.json"
    assert main(["import", "-q", "-o", str(out), str(tmp_path / "requirements.txt")]) == 1
    assert capsys.readouterr().err == (
        f"poncho_spec: error: cannot write {out}: No such file or directory\n"
    )
