from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from poncho_analyze import __version__
from poncho_analyze.cli import build_parser, main

LIBCST = f"libcst=={version('libcst')}"


def _job(tmp_path: Path, text: str = "import json\nimport libcst\n") -> Path:
    path = tmp_path / "job.py"
    path.write_text(text)
    return path


def test_writes_the_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "spec.json"
    assert main([str(_job(tmp_path)), str(out), "--explain"]) == 0
    spec = json.loads(out.read_text())
    assert spec["conda"]["dependencies"][-1] == {"pip": [LIBCST]}
    err = capsys.readouterr().err
    assert "json -> standard library" in err and f"libcst -> pip {LIBCST}" in err
    assert not list(tmp_path.glob(".spec.json.*"))  # no temp file left


def test_options_may_stand_between_the_scripts(tmp_path: Path) -> None:
    first = _job(tmp_path)
    second = tmp_path / "other.py"
    second.write_text("import os\n")
    out = tmp_path / "spec.json"
    assert main([str(first), "--python", "3.11", str(second), str(out)]) == 0
    spec = json.loads(out.read_text())
    assert spec["conda"]["dependencies"][0] == "python=3.11"
    assert spec["conda"]["dependencies"][-1] == {"pip": [LIBCST]}  # from the first script
    assert second.read_text() == "import os\n"


def test_stdin_to_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("import libcst\n"))
    assert main(["-", "-", "--python", "3.12", "--channel", "mine"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["conda"]["channels"] == ["mine"]
    assert spec["conda"]["dependencies"][0] == "python=3.12"


def test_the_module_runs_as_a_program(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "poncho_analyze", "-", "-"],
        input="import libcst\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert LIBCST in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.py", "-"], "missing.py: no such file"),
        (["bad.py", "-", "--strict"], "bad.py:2:5: invalid syntax for Python 3."),
        (["local.py", "-", "--strict"], "modules beside the scripts are not packages"),
        (["unknown.py", "-", "--strict"], "no installed package provides these imports:"),
        (["job.py", "-", "--function", "nope"], "function 'nope' is not defined"),
        (["job.py", "-", "--extra-pkg", "x=1"], "write conda:SPEC for a conda match spec"),
        (["job.py", "-", "--interpreter", "/nonexistent/python"], "cannot inspect the interpreter"),
        (["job.py", "-", "--python", "3.7"], "--python: Python 3.7 is not supported"),
        (["job.py", "-", "--extra-pkg", "conda:bad>>>1"], "conda.dependencies"),
    ],
)
def test_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    (tmp_path / "bad.py").write_text('import json\nx = """never closed\n')
    (tmp_path / "local.py").write_text("import job\n")
    (tmp_path / "unknown.py").write_text("import surely_not_installed_anywhere\n")
    assert main([*argv, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("poncho_package_analyze: error: ")
    assert message in err
    assert "Traceback" not in err


def test_left_out_code_is_said_once_and_the_spec_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    (tmp_path / "task.py").write_text(
        "import job\nimport surely_not_installed_anywhere\nimport libcst\n"
    )
    assert main(["task.py", "spec.json"]) == 0
    assert json.loads((tmp_path / "spec.json").read_text())["conda"]["dependencies"][-1] == {
        "pip": [LIBCST]
    }
    err = capsys.readouterr().err
    assert err.count("poncho_package_analyze: notice: ") == 1
    assert "  job (local module job.py, imported at task.py:1)" in err
    assert err.count("poncho_package_analyze: warning: ") == 1
    assert "  surely_not_installed_anywhere (imported at task.py:2): not found" in err
    assert "--pkg-mapping IMPORT=NAME" in err and "--extra-pkg NAME" in err
    assert main(["task.py", "spec.json", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "notice" not in err and "warning: " in err


def test_explain_explains_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path, "import json\nimport libcst\nimport surely_not_installed_anywhere\n")
    assert main(["job.py", "spec.json", "--strict", "--explain", "-q"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        f"json -> standard library (Python {sys.version_info[0]}.{sys.version_info[1]})",
        f"libcst -> pip {LIBCST} (RECORD of libcst-{version('libcst')}.dist-info)",
        "surely_not_installed_anywhere -> NOT FOUND (not found on the module search path)",
    ]
    assert lines[3].startswith("poncho_package_analyze: error: no installed package provides")
    assert not (tmp_path / "spec.json").exists()


def test_unwritable_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["job.py", "no/such/spec.json", "-q"]) == 1
    assert capsys.readouterr().err == (
        "poncho_package_analyze: error: cannot write no/such/spec.json: "
        "the folder no/such does not exist\n"
    )
    (tmp_path / "adir").mkdir()
    assert main(["job.py", "adir", "-q"]) == 1
    assert capsys.readouterr().err.startswith("poncho_package_analyze: error: cannot write adir: ")
    assert sorted(tmp_path.rglob("*")) == sorted([*before, tmp_path / "adir"])


def test_missing_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    assert main(["job.py", "nope.py", "spec.json", "-q"]) == 1
    assert capsys.readouterr().err == "poncho_package_analyze: error: nope.py: no such file\n"
    assert not (tmp_path / "spec.json").exists()


# A runner may ignore SIGINT (``trap '' INT``, nohup, some CI agents); an ignored signal
# stays ignored across exec and Python then installs no KeyboardInterrupt handler, so the
# child would sleep through the Ctrl-C.  The child resets the disposition to the default
# before it execs the command, as a terminal's shell would.
_DEFAULT_SIGINT_THEN_RUN = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'poncho_analyze', *sys.argv[1:]])"
)


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path: Path) -> None:
    # The interpreter to inspect says when it runs, then waits for the interruption.
    started = tmp_path / "started"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\n: > '{started}'\nexec sleep 60\n")
    fake.chmod(0o755)
    _job(tmp_path)
    argv = [sys.executable, "-c", _DEFAULT_SIGINT_THEN_RUN,
            "--interpreter", "./python", "job.py", "out"]  # fmt: skip
    # start_new_session: its own process group, which a terminal's Ctrl-C reaches whole
    with subprocess.Popen(
        argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        while not started.exists() and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert started.exists(), err
    assert proc.returncode == 130, err
    assert err == "poncho_package_analyze: interrupted\n"
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"poncho_package_analyze {__version__}\n"


def test_explain_with_pkg_mapping_says_each_import_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path, "import json\nimport surely_not_installed_anywhere\nimport libcst\n")
    argv = [
        "job.py",
        "-",
        "-q",
        "--explain",
        "--pkg-mapping",
        "surely_not_installed_anywhere=a-dist",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert sorted(line.split(" -> ")[0] for line in lines) == [
        "json",
        "libcst",
        "surely_not_installed_anywhere",
    ]
    assert "surely_not_installed_anywhere -> pip a-dist (--pkg-mapping " in "\n".join(lines)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["only_one"],
        ["a.py", "-", "--pkg-mapping", "noequals"],
        ["a.py", "-", "--toplevel", "--function", "f"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_options_reach_the_library(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake(sources: list[str], **kwargs: Any) -> Any:
        seen.update(kwargs, sources=sources)
        raise KeyboardInterrupt

    argv = [
        "a.py",
        "b.ipynb",
        "out.json",
        "--toplevel",
        "--pkg-mapping",
        "yaml=PyYAML",
        "--pkg-mapping",
        "cv2 = opencv-python",
        "--extra-pkg",
        "dill",
        "--allow-local",
        "--strict",
        "--build-strings",
        "--channel",
        "c1",
        "--channel",
        "c2",
        "-v",
    ]
    assert main(argv, analyze=fake) == 130
    assert seen["sources"] == ["a.py", "b.ipynb"]
    assert seen["pkg_mapping"] == {"yaml": "PyYAML", "cv2": "opencv-python"}
    assert seen["extra_pkgs"] == ("dill",)
    assert seen["channels"] == ("c1", "c2")
    assert seen["toplevel"] and seen["allow_local"] and seen["build_strings"] and seen["strict"]
    assert seen["function"] is None and seen["python_version"] is None


def test_interpreter_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_job(tmp_path)), "-", "--interpreter", sys.executable]) == 0
    assert LIBCST in capsys.readouterr().out


def test_interpreter_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = Path(sys.executable)
    (tmp_path / "userenv").symlink_to(exe.parent.parent, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    relative = f"userenv/{exe.parent.name}/{exe.name}"
    assert main(["job.py", "-", "--interpreter", relative]) == 0
    assert LIBCST in capsys.readouterr().out
    (tmp_path / "otherenv" / "bin").mkdir(parents=True)
    assert main(["job.py", "-", "--interpreter", "otherenv/bin/python", "-q"]) == 1
    assert capsys.readouterr().err == (
        "poncho_package_analyze: error: cannot inspect the interpreter otherenv/bin/python: "
        "no such file\n"
    )


def test_parser_describes_every_option() -> None:
    text = build_parser().format_help()
    for option in (
        "--toplevel",
        "--function",
        "--pkg-mapping",
        "--extra-pkg",
        "--python",
        "--channel",
        "--allow-local",
        "--strict",
        "--build-strings",
        "--interpreter",
        "--explain",
    ):
        assert option in text


# Shaped after Parsl's TaskVine executor: it runs
# ``poncho_package_analyze exec_parsl_function.py - tmp.yaml --extra-pkg P`` with the
# app's source on stdin; its Work Queue executor looks up ``python_package_analyze``.
PARSL_RUNNER = """\
import pickle
import sys
import traceback

from parsl.executors.taskvine.utils import load_function, run_function


def main():
    map_file, function_file, result_file = sys.argv[1:4]
    try:
        run_function(*load_function(map_file, function_file), result_file)
    except Exception:
        traceback.print_exc()
        with open(result_file, "wb") as out:
            pickle.dump(sys.exc_info()[1], out)


if __name__ == "__main__":
    main()
"""

PARSL_APP = """\
@python_app
def newest(versions):
    from packaging.version import Version

    return max(versions, key=Version)
"""


@pytest.mark.parametrize("command", ["poncho_package_analyze", "python_package_analyze"])
def test_parsl_taskvine_call(tmp_path: Path, command: str) -> None:
    script = Path(sys.executable).parent / command
    assert script.is_file(), f"{command} is not installed beside {sys.executable}"
    (tmp_path / "exec_parsl_function.py").write_text(PARSL_RUNNER)
    argv = [str(script), "exec_parsl_function.py", "-", "tmp.yaml", "--extra-pkg", "libcst"]
    done = subprocess.run(
        argv, input=PARSL_APP, capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    spec = json.loads((tmp_path / "tmp.yaml").read_text())  # JSON is YAML
    assert spec["conda"]["dependencies"][-1] == {
        "pip": [LIBCST, f"packaging=={version('packaging')}"]
    }
    # parsl is not installed in this test environment: said, not fatal
    assert "  parsl.executors.taskvine.utils (imported at exec_parsl_function.py:5)" in done.stderr


def test_a_device_or_pipe_output_is_written_in_place(tmp_path: Path) -> None:
    # /dev/null, /dev/stdout or a named pipe: a rename onto it would replace the device.
    # (A pipe stands in for /dev/null: a failing test must not break the machine.)
    import threading

    pipe = tmp_path / "spec.pipe"
    os.mkfifo(pipe)
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(pipe.read_text()), daemon=True)
    reader.start()
    assert main([str(_job(tmp_path)), str(pipe), "-q"]) == 0
    reader.join(timeout=10)
    assert pipe.is_fifo()
    assert LIBCST in read[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.py", "spec.pipe"]


def test_poncho_verbosity_is_read_and_the_command_line_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _job(tmp_path)
    (tmp_path / "task.py").write_text("import job\nimport surely_not_installed_anywhere\n")
    monkeypatch.setenv("PONCHO_VERBOSITY", "-1")
    assert main(["task.py", "spec.json"]) == 0
    err = capsys.readouterr().err
    assert "notice" not in err and "inspecting" not in err and "warning: " in err
    assert main(["task.py", "spec.json", "-v"]) == 0
    assert "poncho_package_analyze: notice: " in capsys.readouterr().err
    monkeypatch.setenv("PONCHO_VERBOSITY", "lots")
    with pytest.raises(SystemExit) as exit_info:
        main(["task.py", "spec.json"])
    assert exit_info.value.code == 2
    assert "PONCHO_VERBOSITY='lots': expected an integer" in capsys.readouterr().err


@pytest.mark.parametrize(("options", "variable", "info"), [
    ([], None, False), (["-v"], None, True), ([], "1", True), (["-q"], "2", False),
])  # fmt: skip
def test_verbose_logs_what_is_done(
    options: list[str], variable: str | None, info: bool, tmp_path: Path
) -> None:
    env = {**os.environ, "PONCHO_ANALYZE_CACHE": str(tmp_path / "cache")}
    env.pop("PONCHO_VERBOSITY", None)
    argv = [sys.executable, "-m", "poncho_analyze", str(_job(tmp_path)), "-"]
    subprocess.run(argv, env=env, capture_output=True, check=True)  # fills the cache
    if variable is not None:
        env["PONCHO_VERBOSITY"] = variable
    proc = subprocess.run([*argv, *options], env=env, capture_output=True, text=True, check=True)
    assert ("poncho_package_analyze: using the cached map of " in proc.stderr) == info, proc.stderr


def test_the_umbrella_name_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["-h"], prog="poncho analyze")
    assert capsys.readouterr().out.startswith("usage: poncho analyze [-h]")
    assert main([str(tmp_path / "missing.py"), "-", "-q"], prog="poncho analyze") == 1
    assert capsys.readouterr().err.startswith("poncho analyze: error: ")


def test_help_is_as_wide_as_argparse_makes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The width found without shutil (poncho_core.cli_common) is the one argparse finds
    with it."""
    from poncho_core.cli_common import HelpFormatter

    helps = []
    for columns in ("60", "200", "", "x"):
        monkeypatch.setenv("COLUMNS", columns)
        assert HelpFormatter("x")._width == argparse.HelpFormatter("x")._width, columns
        helps.append(build_parser().format_help())
    assert helps[0] != helps[1]  # the width is used at all


def test_a_warm_run_stays_lazy(tmp_path: Path) -> None:
    """What a run on a plain script does not need is not imported: logging (nothing is
    logged at the default level), shutil (argparse's terminal width), libcst (the
    running parser reads the script), packaging (no PEP 723 metadata)."""
    job = _job(tmp_path, "import json\nimport os.path\nfrom collections import abc\n")
    code = (
        "import sys; from poncho_analyze.cli import main; "
        f"code = main([{str(job)!r}, '-', '-q']); "
        "print(sorted(m for m in ('logging', 'shutil', 'libcst', 'packaging') "
        "if m in sys.modules)); sys.exit(code)"
    )
    env = {**os.environ, "PONCHO_ANALYZE_CACHE": str(tmp_path / "cache")}
    for _ in range(2):  # the first run fills the cache
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
