from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from poncho_run import _args, cli
from poncho_run_helpers import hand_env_members, make_tar, member, script

TERMINATING = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT, "SIGHUP": signal.SIGHUP}


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder temporary environments go to (in this process and in children)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


@pytest.fixture
def env_tarball(tmp_path: Path) -> Path:
    members = [
        *hand_env_members(),
        member("bin/noexec", script("echo never"), mode=0o644),
        member("bin/badinterp", b"#!/nonexistent/interpreter\n", mode=0o755),
        member("bin/wait", script('echo "started $CONDA_PREFIX"; exec sleep 60'), mode=0o755),
    ]
    return make_tar(tmp_path / "env.tar.gz", members)


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poncho_run", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


# -- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--", "true"], "give an environment (-e ENV), an unpack folder (-u DIR), or both"),
        (["true"], "give an environment"),
        (["-e", "x", "--bogus", "true"], "unrecognized arguments: --bogus"),
        (["-e", "x", "-w", "soon", "true"], "-w/--wait-for-lock"),
        (["-e", "x", "-w", "-1", "true"], "-w/--wait-for-lock"),
        (["-e"], "expected one argument"),
        (["--env", "x", "true"], "unrecognized arguments"),  # no abbreviations
    ],
)
def test_bad_usage_exits_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    first, see = err.splitlines()
    assert message in first and first.startswith("poncho_package_run: error: ")
    assert see == "poncho_package_run: see 'poncho_package_run -h' for the usage and options"


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-h"]) == 0
    out = capsys.readouterr().out
    for text in ("127  command not found", "75   timed out waiting for the lock", "--unpack-to"):
        assert text in out
    # The unpack folder is spelled -u DIR everywhere (-d is also --debug in CCTools).
    # argparse before 3.13 repeats the metavar: "-u DIR, -d DIR, --unpack-to DIR"
    assert re.search(r"-u( DIR)?, -d( DIR)?, --unpack-to DIR", out) and "With -u, DIR" in out
    assert "Without -d" not in out and "With -d" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == "poncho_package_run 0.1.0\n"


SPELLINGS = [
    ["-e", "E", "-d", "D", "-w", "5", "--", "cmd", "-x"],
    ["--environment", "E", "--unpack-to", "D", "--wait-for-lock", "2.5", "cmd"],
    ["--environment=E", "--unpack-to=D", "--wait-for-lock=0", "cmd", "--", "-e"],
    ["-eE", "-uD", "-w7", "--data-cache", "C", "--no-data", "-v", "cmd"],
    ["-u", "D", "--data-cache=C", "--verbose", "--", "--weird-command"],
    ["-e", "E", "cmd", "-d", "ignored-by-the-parser"],
]


@pytest.mark.parametrize("argv", SPELLINGS)
def test_the_quick_parser_agrees_with_argparse(argv: list[str]) -> None:
    options, command = _args.split(argv)
    quick = _args.quick_parse(options)
    full = _args.full_parse(options, command)
    assert quick is not None and not isinstance(full, int)
    assert vars(quick) == vars(full)
    assert command[0] in ("cmd", "--weird-command")


def test_the_command_starts_at_the_first_non_option() -> None:
    assert _args.split(["-e", "E", "python", "-e", "x"]) == (["-e", "E"], ["python", "-e", "x"])
    assert _args.split(["-v", "--", "--", "x"]) == (["-v"], ["--", "x"])
    assert _args.split(["-e", "E", "-"]) == (["-e", "E"], ["-"])


@pytest.mark.parametrize(
    "options", [["-h"], ["-e"], ["-e", "-d"], ["--foo=1"], ["-w", "x"], ["-x"]]
)
def test_the_quick_parser_leaves_the_unusual_to_argparse(options: list[str]) -> None:
    assert _args.quick_parse(options) is None


# -- runs in a temporary folder (in this process) -----------------------------------------------


def test_the_command_s_exit_status_is_passed_through_and_the_folder_removed(
    env_tarball: Path, tmpdir_: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-e", str(env_tarball), "--", "hello", "3"]) == 3
    out = capfd.readouterr().out
    assert out.startswith(f"hello prefix={tmpdir_}/poncho-run-")
    assert list(tmpdir_.iterdir()) == []


def test_success_removes_the_folder(
    env_tarball: Path, tmpdir_: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-e", str(env_tarball), "hello"]) == 0
    out = capfd.readouterr().out
    prefix = out.split()[1].removeprefix("prefix=")
    assert out == f"hello prefix={prefix} act=yes:{prefix}\n"
    assert not Path(prefix).exists() and list(tmpdir_.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "status", "message"),
    [
        ("nothere", 127, "nothere: command not found in the environment"),
        ("noexec", 126, "noexec: cannot execute"),
        ("badinterp", 126, "badinterp: cannot execute: bad interpreter"),
    ],
)
def test_commands_that_cannot_run(
    env_tarball: Path,
    tmpdir_: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    status: int,
    message: str,
) -> None:
    assert cli.main(["-e", str(env_tarball), command]) == status
    err = capsys.readouterr().err
    assert err.startswith(f"poncho_package_run: error: {message}") and err.count("\n") == 1
    assert list(tmpdir_.iterdir()) == []


def test_a_python_script_that_is_not_executable_runs_with_the_environment_s_python(
    env_tarball: Path,
    tmpdir_: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("example.py").write_text("import os, sys; print(sys.argv[1:], os.environ['CONDA_PREFIX'])")
    assert cli.main(["-e", str(env_tarball), "--", "example.py", "a", "b"]) == 0
    out = capfd.readouterr().out
    assert out.startswith(f"['a', 'b'] {tmpdir_}/poncho-run-")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a tarball", "not an environment archive"), (None, "no such environment")],
)
def test_a_bad_environment_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "env.tar.gz"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["-e", str(path), "true"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("poncho_package_run: error: ") and message in err


def test_an_unsafe_tarball_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make_tar(tmp_path / "bad.tar.gz", [member("/etc/evil", b"x")])
    assert cli.main(["-e", str(bad), "touch", str(tmp_path / "ran")]) == 1
    assert "unsafe archive member '/etc/evil': absolute path" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists()


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(cli, "_run", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main(["-e", "x", "true"])


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    assert cli.main(["-e", "x", "true"]) == 130


# -- signals, with real processes -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TERMINATING))
def test_a_signal_reaches_the_command_and_the_folder_is_removed(
    env_tarball: Path, tmpdir_: Path, name: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "poncho_run", "-e", str(env_tarball), "wait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # no terminal: signals come from us only
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(f"started {tmpdir_}/poncho-run-")
    os.kill(proc.pid, TERMINATING[name])
    assert proc.wait(timeout=30) == 128 + TERMINATING[name]
    proc.stdout.close()
    assert list(tmpdir_.iterdir()) == []


PAUSED_UNPACK = """
import sys, time
from poncho_core import extract
add = extract._Extractor.add
def slow_add(self, tar, member):
    add(self, tar, member)
    if self.count == 2:
        print("paused", flush=True)
        time.sleep(60)
extract._Extractor.add = slow_add
from poncho_run.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_signal_while_unpacking_removes_the_folder(env_tarball: Path, tmpdir_: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSED_UNPACK, "-e", str(env_tarball), "hello"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "paused\n"
    assert len(list(tmpdir_.iterdir())) == 1
    proc.terminate()
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    proc.stdout.close()
    assert list(tmpdir_.iterdir()) == []


# -- runs with an unpack folder (the command replaces poncho_package_run) -------------------


def test_with_a_folder_the_command_replaces_the_wrapper(env_tarball: Path, tmp_path: Path) -> None:
    target = tmp_path / "env"
    driver = (
        "import subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
        "print('wrapper', p.pid, flush=True); p.wait()"
    )
    code = "import os; print('command', os.getpid(), flush=True)"
    wrapper = [sys.executable, "-m", "poncho_run", "-e", str(env_tarball), "-d", str(target)]
    argv = [sys.executable, "-c", driver, *wrapper, "python", "-c", code]
    for _ in ("cold", "warm"):
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        pids = dict(line.split() for line in out.splitlines())
        assert pids["command"] == pids["wrapper"], "same process: no extra process stays around"


def test_warm_runs_pass_the_exit_status_and_report_missing_commands(
    env_tarball: Path, tmp_path: Path
) -> None:
    target = tmp_path / "env"
    assert run_cli("-e", str(env_tarball), "-d", str(target), "hello", "4").returncode == 4
    warm = run_cli("-d", str(target), "--", "hello", "5")
    assert (warm.returncode, warm.stdout) == (5, f"hello prefix={target} act=yes:{target}\n")
    missing = run_cli("-u", str(target), "nothere")
    assert missing.returncode == 127
    assert (
        missing.stderr
        == "poncho_package_run: error: nothere: command not found in the environment\n"
    )


def test_an_unpacked_folder_given_as_the_environment_is_used_in_place(
    env_tarball: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "by-hand"
    folder.mkdir()
    subprocess.run(["tar", "-xzf", str(env_tarball), "-C", str(folder)], check=True)
    proc = run_cli("-e", str(folder), "hello")
    assert proc.stdout == f"hello prefix={folder} act=yes:{folder}\n"
    proc = run_cli("-e", str(folder), "-d", str(tmp_path / "unused"), "hello")
    assert proc.stdout == f"hello prefix={folder} act=yes:{folder}\n"
    assert "using it in place" in proc.stderr and not (tmp_path / "unused").exists()


HOLD_LOCK = """
import sys
from poncho_run.lock import folder_lock
with folder_lock(sys.argv[1], 5):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_waiting_too_long_for_the_lock_exits_75(env_tarball: Path, tmp_path: Path) -> None:
    target = tmp_path / "env"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        proc = run_cli("-e", str(env_tarball), "-d", str(target), "-w", "0.5", "hello")
    finally:
        holder.communicate("")
    assert proc.returncode == 75
    assert proc.stderr.startswith(f"poncho_package_run: error: {target}: ")
    assert "after waiting 0.5 s" in proc.stderr
    assert not target.exists()


# -- a real conda-pack environment ---------------------------------------------------------------


@pytest.mark.slow
def test_a_real_environment_runs_cold_then_warm(demo_tarball: Path, tmp_path: Path) -> None:
    target = tmp_path / "env"
    for _ in ("cold", "warm"):
        proc = run_cli("-e", str(demo_tarball), "-d", str(target), "poncho-demo-app")
        assert proc.returncode == 0 and "poncho-demo-app" in proc.stdout, proc.stderr
    code = "import os, sys; print(sys.prefix, os.environ['PONCHO_DEMO_ACTIVATED'])"
    proc = run_cli("-d", str(target), "python", "-c", code)
    assert proc.stdout.split() == [str(target), "yes"]
    assert '"relocated": true' in (target / ".poncho-run" / "state.json").read_text()


@pytest.mark.slow
def test_a_real_environment_runs_a_script_in_a_temporary_folder(
    demo_tarball: Path, tmpdir_: Path, tmp_path: Path
) -> None:
    job = tmp_path / "job.py"
    job.write_text(
        "import os, sys, poncho_demo_app\n"
        "print(sys.prefix.startswith(os.environ['TMPDIR']), os.environ['PONCHO_DEMO_ACTIVATED'])\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    proc = run_cli("-e", str(demo_tarball), "--", str(job), "9")
    assert (proc.returncode, proc.stdout) == (9, "True yes\n"), proc.stderr
    assert list(tmpdir_.iterdir()) == []


def test_the_module_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy

    monkeypatch.setattr(sys, "argv", ["poncho_package_run", "--version"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("poncho_run", run_name="__main__")
    assert info.value.code == 0 and "0.1.0" in capsys.readouterr().out


class Replaced(Exception):
    pass


def test_with_a_folder_the_cli_execs_cold_and_warm(
    env_tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poncho_run import api

    calls: list[list[str]] = []

    def fake_exec(argv: list[str], env: dict[str, str]) -> None:
        calls.append([*argv, env["CONDA_PREFIX"]])
        raise Replaced

    monkeypatch.setattr(api, "exec_command", fake_exec)
    target = str(tmp_path / "env")
    for argv in (["-e", str(env_tarball), "-d", target], ["-d", target], ["-e", target]):
        with pytest.raises(Replaced):
            cli.main([*argv, "hello"])
    assert calls == [["hello", target]] * 3


def test_a_decompression_bomb_is_stopped_at_the_unpack_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 21: 64 MiB of zeros in a ~64 kB gzip, against a 1M limit: one error
    line, DIR never made ready, nothing left beside it."""
    import gzip
    import tarfile

    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as raw, tarfile.open(fileobj=raw, mode="w|") as tar:
        info = tarfile.TarInfo("lib/zeros.bin")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert bomb.stat().st_size < 200_000
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("PONCHO_RUN_MAX_UNPACKED", "")  # restored after main() sets it
    code = cli.main(["-e", str(bomb), "-u", str(work / "env"), "--max-unpacked-size", "1M",
                     "--", "true"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "over the limit of 1,048,576 bytes (for " in err
    assert sorted(p.name for p in work.iterdir()) == ["env.poncho.lock"]


def test_quiet_and_verbose_spellings_are_counted() -> None:
    options = _args.quick_parse(["-q", "-v", "-vv", "--debug", "-e", "x"])
    assert options is not None and (options.quiet, options.verbose) == (1, 4)
    assert options.verbosity == 2


def test_a_mistyped_option_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-e", "env.tar.gz", "--no-dta", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith(
        "unrecognized arguments: --no-dta; did you mean '--no-data'?"
    )


def test_help_is_wrapped_and_ends_with_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert cli.main(["-h"], prog="poncho run") == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: poncho run ")
    assert all(len(line) <= 40 for line in out.split("\n\n", 1)[1].splitlines()), out
    variables = out.split("\nenvironment variables:\n")[1]
    assert "PONCHO_RUN_PYTHON" in variables and "PONCHO_VERBOSITY" in variables


# -- what -v and a terminal are told (issue 25, F14 and F16) ---------------------------------


def test_verbose_warm_runs_say_which_folder_and_environment(
    env_tarball: Path, tmp_path: Path
) -> None:
    target = tmp_path / "env"
    assert run_cli("-e", str(env_tarball), "-u", str(target)).returncode == 0
    using = f"poncho_package_run: using the environment in {target}, unpacked from {env_tarball}\n"
    for verbose in ("-v", "-vv"):
        warm = run_cli(verbose, "-e", str(env_tarball), "-u", str(target), "--", "hello")
        assert (warm.returncode, warm.stderr) == (0, using)
    quiet = run_cli("-e", str(env_tarball), "-u", str(target), "--", "hello")
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_verbose_says_unpacking_for_a_temporary_folder_too(
    env_tarball: Path, tmpdir_: Path
) -> None:
    proc = run_cli("-v", "-e", str(env_tarball), "--", "hello")
    assert proc.returncode == 0
    assert f"poncho_package_run: unpacking {env_tarball} into a temporary folder\n" in proc.stderr


def run_on_a_terminal(*argv: str) -> tuple[int, str]:
    """Run the command line with stderr on a pseudo-terminal: its status and what it wrote."""
    import pty

    master, slave = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "poncho_run", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    ) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = proc.wait()
    os.close(master)
    return status, b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_cold_run_on_a_terminal_says_it_is_unpacking(
    env_tarball: Path, tmp_path: Path, tmpdir_: Path
) -> None:
    target = tmp_path / "env"
    status, err = run_on_a_terminal("-e", str(env_tarball), "-u", str(target), "--", "hello")
    assert (status, err) == (
        0,
        f"poncho_package_run: unpacking {env_tarball} into {target}...\n",
    )
    status, err = run_on_a_terminal("-e", str(env_tarball), "-u", str(target), "--", "hello")
    assert (status, err) == (0, "")  # warm: nothing
    status, err = run_on_a_terminal("-e", str(env_tarball), "--", "hello")
    assert status == 0
    assert err == f"poncho_package_run: unpacking {env_tarball} into a temporary folder...\n"
    status, err = run_on_a_terminal("-q", "-e", str(env_tarball), "--", "hello")
    assert (status, err) == (0, "")
    # not a terminal: nothing (the same cold run through a pipe)
    assert run_cli("-e", str(env_tarball), "--", "hello").stderr == ""


def test_no_command_and_no_folder_says_nothing_was_run(env_tarball: Path, tmpdir_: Path) -> None:
    proc = run_cli("-e", str(env_tarball))
    assert proc.returncode == 0  # CCTools' status
    assert proc.stderr.startswith("poncho_package_run: note: no COMMAND: ")
    assert proc.stderr.count("\n") == 1 and "nothing was run" in proc.stderr
    assert list(tmpdir_.iterdir()) == []
    assert run_cli("-q", "-e", str(env_tarball)).stderr == ""


def test_the_lines_for_a_terminal_and_for_verbose(
    env_tarball: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = {"archive": {"path": "/x/env.tar.gz"}}
    cli._say_using("prog", "/d", state)
    cli._say_using("prog", "/e", {})
    assert capsys.readouterr().err == (
        "prog: using the environment in /d, unpacked from /x/env.tar.gz\n"
        "prog: using the environment in /e\n"
    )
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    cli._say_unpacking("prog", str(env_tarball), "/d")
    cli._say_unpacking("prog", str(env_tarball), None, -1)  # -q: nothing
    cli._say_unpacking("prog", "missing.tar.gz", "/d")  # the error will say it
    cli._say_unpacking("prog", None, "/d")
    assert capsys.readouterr().err == f"prog: unpacking {env_tarball} into /d...\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    cli._say_unpacking("prog", str(env_tarball), None)
    assert capsys.readouterr().err == ""
