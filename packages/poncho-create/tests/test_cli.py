"""The command line: options passed one to one, exit codes, messages, progress output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_create import ChannelError, ProgressEvent
from poncho_create.cli import build_parser, main
from poncho_spec import InvalidSpec, Problem


class FakeCreate:
    """Stands in for poncho_create.create: records the call, returns or raises."""

    def __init__(self, result: Any = None) -> None:
        self.result = result
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        self.calls.append((args, kwargs))
        logging.getLogger("poncho_create.api").info("fake info line")
        logging.getLogger("poncho_create.api").warning("fake warning line")
        progress = kwargs.get("progress")
        if progress is not None:
            progress(ProgressEvent("solve", 0, None, "specs", "1 spec"))
            progress(ProgressEvent("solve", 3, 3, "packages", "3 packages", finished=True))
            progress(ProgressEvent("pack", 0, 2_000_000, "bytes"))
            progress(ProgressEvent("pack", 2_000_000, 2_000_000, "bytes", finished=True))
        if isinstance(self.result, BaseException):
            raise self.result
        return Path(self.result or "envs/x.tar.gz")


def test_every_option_reaches_create(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeCreate("out.tar.zst")
    argv = [
        "spec.json", "out.tar.zst", "-c", "a", "--channel", "b", "--override-channels",
        "--platform", "osx-arm64", "--pip-index-url", "http://127.0.0.1:1/simple",
        "--find-links", "w1", "--find-links", "w2", "--no-index", "--pip-config", "-j", "3",
        "--compression-level", "7", "--keep-prefix", "kp", "--conda-exe", "/x/conda",
        "--from-lock", "in.lock", "--lock-out", "out.lock", "--cache-dir", "cd",
        "--pkgs-dir", "pd", "--tmp-dir", "td", "-q", "--use-condarc", "--refresh", "--offline",
    ]  # fmt: skip
    assert main(argv, create=fake) == 0
    (args, kwargs) = fake.calls[0]
    assert args == ("spec.json", "out.tar.zst")
    kwargs.pop("progress")
    assert kwargs == {
        "cache_dir": "cd",
        "channels": ["a", "b"],
        "override_channels": True,
        "use_condarc": True,
        "platform": "osx-arm64",
        "pip_index_url": "http://127.0.0.1:1/simple",
        "find_links": ["w1", "w2"],
        "no_index": True,
        "pip_config": True,
        "threads": 3,
        "compression_level": 7,
        "keep_prefix": "kp",
        "conda_exe": "/x/conda",
        "from_lock": "in.lock",
        "lock_out": "out.lock",
        "pkgs_dir": "pd",
        "tmp_dir": "td",
        "ignore_editable_packages": False,
        "drop_data": False,
        "force": True,
        "offline": True,
        "dry_run": False,
    }
    out = capsys.readouterr()
    assert out.out == "out.tar.zst\n"
    assert out.err == "poncho_package_create: warning: fake warning line\n"  # -q: no progress


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["-h"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--channel", "--platform", "--pip-index-url", "--find-links", "--no-index",
        "--threads", "--compression-level", "--keep-prefix", "--quiet", "--conda-exe",
        "--from-lock", "--lock-out", "--cache-dir", "--pkgs-dir", "PONCHO_ENVS_DIR",
        ".tar.zst", "SPEC", "OUTPUT",
    ):  # fmt: skip
        assert option in text


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["spec.json", "--threads", "many"])
    assert info.value.code == 2
    assert "poncho_package_create: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "error",
    [
        ChannelError("channel file:///x (from the spec) is not there (no such folder)"),
        InvalidSpec([Problem("conda.dependencies[0]", "bad")], source="spec.json"),
    ],
)
def test_package_errors_exit_1_with_the_message(
    error: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["spec.json", "-q"], create=FakeCreate(error)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (  # -q: warnings and the error only
        "poncho_package_create: warning: fake warning line\n"
        f"poncho_package_create: error: {error}\n"
    )
    assert "Traceback" not in captured.err


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec.json"], create=FakeCreate(KeyboardInterrupt())) == 130
    assert "interrupted" in capsys.readouterr().err


def test_plain_log_lines_when_not_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec.json"], create=FakeCreate()) == 0
    err = capsys.readouterr().err.splitlines()
    err = [line for line in err if "fake" not in line]
    assert err[0] == "poncho_package_create: solving: 1 spec ..."
    assert err[1].startswith("poncho_package_create: solving: done, 3 packages (")
    assert err[2] == "poncho_package_create: packing: 0 B / 2.0 MB ..."
    assert err[3].startswith("poncho_package_create: packing: done, 2.0 MB / 2.0 MB")


def test_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(sys, "stderr", stream)
    assert main(["spec.json"], create=FakeCreate(ChannelError("boom"))) == 1
    text = stream.getvalue()
    assert "\rsolving" in text and "100%" in text and "packing" in text
    assert text.endswith("poncho_package_create: error: boom\n")


def test_stdin_spec_builds_for_real(
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = json.dumps(helpers.mini_spec(mini_channel))
    monkeypatch.setattr(sys, "stdin", io.StringIO(spec))
    out = tmp_path / "env.tar.bz2"
    argv = ["-", str(out), "--pkgs-dir", str(build_dirs["pkgs_dir"])]
    assert main([*argv, "--tmp-dir", str(build_dirs["tmp_dir"]), "-q"]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    assert out.read_bytes()[:3] == b"BZh"
    assert list(build_dirs["tmp_dir"].iterdir()) == []


def test_python_dash_m_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "poncho_create", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "poncho_package_create 0.1.0"


def test_parser_is_buildable_alone() -> None:
    args = build_parser().parse_args(["s.json"])
    assert args.output is None and args.channels == [] and args.find_links == []


def test_entrypoint_and_dunder_main(monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    monkeypatch.setattr(sys, "argv", ["poncho_package_create", "--version"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("poncho_create", run_name="__main__")
    assert info.value.code == 0


def test_log_levels(capsys: pytest.CaptureFixture[str]) -> None:
    main(["spec.json", "-v"], create=FakeCreate())
    err = capsys.readouterr().err
    assert "poncho_package_create: fake info line" in err
    assert "poncho_package_create: warning: fake warning line" in err
    main(["spec.json"], create=FakeCreate())
    err = capsys.readouterr().err
    assert "fake info line" not in err and "warning: fake warning line" in err
    main(["spec.json", "-q"], create=FakeCreate())  # warnings still, no progress
    assert capsys.readouterr().err == "poncho_package_create: warning: fake warning line\n"
    # The library's logger is left as it was found.
    assert logging.getLogger("poncho_create").level == logging.NOTSET
    assert logging.getLogger("poncho_create").handlers == []


SLOW_BACKEND = """\
import os, pathlib, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    pathlib.Path(os.environ["SLOW_BACKEND_PID"]).write_text(str(os.getpid()))
    time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_batch_schedulers_sigterm_ends_the_build_cleanly(
    sig: str, local_channel: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    """SIGTERM (a time limit) or SIGHUP during the pip step: pip and its build backend end,
    every temporary file goes, no OUTPUT or folder made for it is left, exit 128+N."""
    import os
    import signal
    import time

    project = tmp_path / "slowproj"
    project.mkdir()
    (project / "backend.py").write_text(SLOW_BACKEND)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "slowproj"\nversion = "1"\n'
    )
    spec = {"conda": {"channels": [local_channel.url], "dependencies": ["python", "pip"]},
            "pip": ["./slowproj"]}  # fmt: skip
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    pid_file = tmp_path / "backend.pid"
    env = {**os.environ, "SLOW_BACKEND_PID": str(pid_file)}
    out = tmp_path / "env.tar.gz"
    argv = [sys.executable, "-m", "poncho_create", str(tmp_path / "spec.json"), str(out),
            "--pkgs-dir", str(pkgs_dir), "--tmp-dir", str(tmp_path / "tmp"),
            "--no-index"]  # fmt: skip
    create = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline and create.poll() is None:
        time.sleep(0.1)
    assert pid_file.exists(), create.communicate()[1]
    time.sleep(0.2)  # the pid is written before the backend sleeps
    backend = int(pid_file.read_text())
    create.send_signal(getattr(signal, sig))
    _, stderr = create.communicate(timeout=60)
    assert create.returncode == 128 + getattr(signal, sig).value, stderr
    assert f"poncho_package_create: terminated by {sig}" in stderr
    assert "Traceback" not in stderr
    try:
        os.kill(backend, 0)
        alive = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    assert not alive, "pip's build backend was left running"
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not out.exists()


def test_an_unwritable_output_is_named_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spec.json").write_text(
        json.dumps({"conda": {"channels": [(tmp_path / "no-channel").as_uri()],
                              "dependencies": ["python"]}})
    )  # fmt: skip
    (tmp_path / "file").write_text("")
    (tmp_path / "folder.tar.gz").mkdir()
    for output, why in (
        (tmp_path / "file" / "env.tar.gz", "is not a folder"),
        (tmp_path / "folder.tar.gz", "is a folder"),
    ):
        code = main([str(tmp_path / "spec.json"), str(output), "-q"])
        err = capsys.readouterr().err
        assert code == 1
        # The channel is missing too, but OUTPUT is checked before the solve.
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert errors[0].startswith(f"poncho_package_create: error: OUTPUT {output}: "), err
        assert why in err
    code = main([str(tmp_path / "spec.json"), "-q", "--cache-dir", str(tmp_path / "file")])
    assert code == 1 and "--cache-dir" in capsys.readouterr().err
    # A missing folder is refused, not created (as conda-pack), for a build and a dry run.
    missing = tmp_path / "a" / "b" / "env.tar.gz"
    for extra in ([], ["--dry-run"]):
        code = main([str(tmp_path / "spec.json"), str(missing), "-q", *extra])
        err = capsys.readouterr().err
        assert code == 1
        assert err == (
            f"poncho_package_create: error: OUTPUT {missing}: the folder "
            f"{tmp_path / 'a' / 'b'} does not exist (create it first)\n"
        )
        assert not (tmp_path / "a").exists()


@pytest.mark.slow
@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_full_disk_is_one_clean_error(
    threads: str, local_channel: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    """No traceback from conda-pack's writer threads, nothing left on the full disk."""
    import shutil

    from poncho_testing.isolation import can_hide_paths

    if not can_hide_paths():
        pytest.skip("cannot mount a small tmpfs here (needs `unshare -m`)")
    spec = {"conda": {"channels": [local_channel.url], "dependencies": ["python"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    full = tmp_path / "full"
    full.mkdir()
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    script = (
        'mount -t tmpfs -o size=512k poncho-full "$1" && shift && "$@"; echo "rc=$?"; ls -A "$0"'
    )
    argv = [*unshare, "sh", "-c", script, str(full), str(full), sys.executable, "-m",
            "poncho_create", str(tmp_path / "spec.json"), str(full / "env.tar.gz"), "-j", threads,
            "--pkgs-dir", str(pkgs_dir), "--tmp-dir", str(tmp_path / "tmp")]  # fmt: skip
    assert shutil.which("unshare")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert "rc=1\n" in result.stdout, result.stdout + result.stderr
    assert result.stdout.endswith("rc=1\n"), "something was left on the full disk"
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("poncho_package_create: error: "), result.stderr
    assert "No space left on device" in lines[-1]
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr


def test_cctools_option_names_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeCreate("out.tar.gz")
    argv = ["env", "out.tar.gz", "--conda-executable", "/x/mamba", "--no-micromamba"]
    assert main([*argv, "--ignore-editable-packages", "-q"], create=fake) == 0
    (_args, kwargs) = fake.calls[0]
    assert kwargs["conda_exe"] == "/x/mamba"
    assert kwargs["ignore_editable_packages"] is True
    assert capsys.readouterr().out == "out.tar.gz\n"


def test_python_package_create_is_the_same_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import entry_points

    from poncho_create.cli import legacy_entrypoint

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["python_package_create"] == "poncho_create.cli:legacy_entrypoint"
    monkeypatch.setattr(sys, "argv", ["python_package_create", "missing-spec.json", "-q"])
    with pytest.raises(SystemExit) as info:
        legacy_entrypoint()
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith("python_package_create: error: ")


@pytest.mark.slow
def test_json_output_and_the_lock_of_a_cache_hit(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json says what was built and whether the cache served it; --lock-out is written on
    a cache hit too (from the cached tarball's own lock)."""
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    argv = [str(tmp_path / "spec.json"), "--json", "-q", "--cache-dir", str(tmp_path / "envs"),
            "--pkgs-dir", str(pkgs_dir), "--platform", "linux-64"]  # fmt: skip
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["cache_hit"] is False and first["platform"] == "linux-64"
    assert first["conda_packages"] == 2 and first["pip_packages"] == 0
    assert first["python"] is None  # mini-tool needs no python
    assert first["size"] == Path(first["path"]).stat().st_size
    assert len(first["spec_hash"]) == 64
    assert main([*argv, "--lock-out", str(tmp_path / "hit.lock.json")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["members"] == {"total": 4, "reused": 0}  # mini-tool, mini-base, poncho, rest
    assert first["conda_layer"] == {"key": first["conda_layer"]["key"], "reused": False,
                                    "dropped": False}  # fmt: skip
    assert second == {**first, "cache_hit": True, "conda_layer": None, "members": None}  # no build
    lock = json.loads((tmp_path / "hit.lock.json").read_text())
    assert lock["spec_hash"] == first["spec_hash"] and len(lock["conda"]) == 2
    for fmt in ("tar.zst", "tar.bz2"):  # every format's lock can be read back
        out = tmp_path / f"env.{fmt}"
        assert main([str(tmp_path / "spec.json"), str(out), "-q", "--pkgs-dir", str(pkgs_dir)]) == 0
        capsys.readouterr()
        from poncho_create.pack import read_member

        assert json.loads(read_member(out, "poncho/lock.json") or b"{}")["conda"]


@pytest.mark.parametrize(
    ("options", "variable", "shown"),
    [
        (["-q"], None, {"warning"}),
        ([], None, {"warning", "progress"}),
        (["-v"], None, {"warning", "progress", "info"}),
        (["-vv"], None, {"warning", "progress", "info", "debug"}),
        ([], "-1", {"warning"}),
        ([], "2", {"warning", "progress", "info", "debug"}),
        (["-q"], "2", {"warning"}),  # the command line wins
    ],
)
def test_verbosity_levels(
    options: list[str],
    variable: str | None,
    shown: set[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if variable is not None:
        monkeypatch.setenv("PONCHO_VERBOSITY", variable)

    def create(*args: Any, **kwargs: Any) -> Path:
        logging.getLogger("poncho_create.pip_step").debug("running ['pip', 'install']")
        return FakeCreate()(*args, **kwargs)

    assert main(["spec.json", *options], create=create) == 0
    err = capsys.readouterr().err
    found = {
        "warning": "poncho_package_create: warning: fake warning line" in err,
        "progress": "solving" in err,
        "info": "poncho_package_create: fake info line" in err,
        "debug": "poncho_package_create: running ['pip', 'install']" in err,
    }
    assert {name for name, there in found.items() if there} == shown, err


def test_every_line_of_an_error_is_prefixed(capsys: pytest.CaptureFixture[str]) -> None:
    """F15: a spec with several problems, as poncho_spec validate prints it."""
    error = InvalidSpec([Problem("conda.chanels", "unknown key"), Problem("pip[0]", "bad")], "s")
    assert main(["s", "-q"], create=FakeCreate(error)) == 1
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "poncho_package_create: error: s: conda.chanels: unknown key",
        "poncho_package_create: error: s: pip[0]: bad",
    ]


def test_a_tarball_given_as_spec_asks_whether_the_arguments_are_swapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """F10: it used to say 'env.tar.gz: not UTF-8 text: invalid start byte'."""
    tarball, spec = tmp_path / "env.tar.gz", tmp_path / "spec.json"
    tarball.write_bytes(b"\x1f\x8b\x08\x00 not really")
    spec.write_text("{}")
    fake = FakeCreate()
    assert main([str(tarball), str(spec)], create=fake) == 2
    assert capsys.readouterr().err == (
        f"poncho_package_create: error: {tarball} is a tarball, not a spec; did you swap "
        "SPEC and OUTPUT?\n"
    )
    assert fake.calls == [] and spec.read_text() == "{}"
    assert main([str(tarball)], create=fake) == 2
    assert capsys.readouterr().err.endswith("is a tarball, not a spec\n")


@pytest.mark.slow
def test_a_local_channel_in_the_spec_is_said_only_under_verbose(
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """F13: analyze wrote that channel on purpose; every create warning about it was noise."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(helpers.mini_spec(mini_channel)))
    dirs = ["--pkgs-dir", str(build_dirs["pkgs_dir"]), "--tmp-dir", str(build_dirs["tmp_dir"])]
    for flags in (["-q"], []):
        assert main([*flags, str(spec), str(tmp_path / "o.tar.gz"), *dirs]) == 0
        assert "local folder" not in capsys.readouterr().err
    assert main(["-v", str(spec), str(tmp_path / "o.tar.gz"), *dirs]) == 0
    err = capsys.readouterr().err
    assert "conda.channels[0]: " in err and "is a local folder" in err
    assert "warning: conda.channels" not in err


@pytest.mark.slow
def test_json_paths_are_absolute(
    mini_channel: Any,
    pkgs_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F16: --json's path is absolute even when the cache folder was given relative."""
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    monkeypatch.chdir(tmp_path)
    argv = ["spec.json", "--json", "-q", "--cache-dir", "rel-envs", "--pkgs-dir", str(pkgs_dir)]
    assert main(argv) == 0
    path = Path(json.loads(capsys.readouterr().out)["path"])
    assert path.is_absolute() and path.parent == tmp_path / "rel-envs"


@pytest.mark.slow
def test_a_create_with_output_answers_from_the_cache(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """How CCTools users and Parsl call it: SPEC OUTPUT twice -> the second is a cache hit,
    and OUTPUT a copy of the cached tarball. An empty OUTPUT (Parsl's) is fine to fill."""
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "env.tar.gz"
    out.touch()
    argv = [str(tmp_path / "spec.json"), str(out), "--json", "-q", "--pkgs-dir", str(pkgs_dir)]
    results = []
    for _ in range(2):
        assert main(argv) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert [r["cache_hit"] for r in results] == [False, True]
    assert results[0]["path"] == results[1]["path"] == str(out)
    envs = tmp_path / "xdg-cache" / "poncho" / "envs"
    (entry,) = [p for p in envs.iterdir() if not p.name.startswith(".") and p.name != "layers"]
    assert out.read_bytes() == entry.read_bytes() and out.stat().st_ino != entry.stat().st_ino
    # --force builds again and replaces the entry.
    assert main([*argv, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is False


_RACER = """
import json, sys
from poncho_create.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_four_concurrent_creates_with_output_build_once(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    options = ["--json", "-q", "--pkgs-dir", str(pkgs_dir)]
    racer = [sys.executable, "-c", _RACER, str(tmp_path / "spec.json")]
    procs = [
        subprocess.Popen([*racer, str(tmp_path / f"o{i}.tar.gz"), *options], stdout=subprocess.PIPE)
        for i in range(4)
    ]
    results = [json.loads(p.communicate(timeout=180)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert sorted(r["cache_hit"] for r in results) == [False, True, True, True]
    contents = {(tmp_path / f"o{i}.tar.gz").read_bytes() for i in range(4)}
    assert len(contents) == 1


@pytest.mark.parametrize("content", [b"print('my script')\n", b"\x1f\x8b not a tarball"])
def test_output_that_is_not_an_env_tarball_is_never_overwritten(
    mini_channel: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "results.tar.gz"
    out.write_bytes(content)
    assert main([str(tmp_path / "spec.json"), str(out)]) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert error.startswith("poncho_package_create: error: OUTPUT ") and "--force" in error
    assert out.read_bytes() == content


def test_force_overwrites_any_output(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "results.tar.gz"
    out.write_text("precious")
    argv = [str(tmp_path / "spec.json"), str(out), "-q", "--pkgs-dir", str(pkgs_dir)]
    assert main(argv) == 2 and out.read_text() == "precious"
    assert main([*argv, "--force"]) == 0
    assert out.stat().st_size > 100 and capsys.readouterr().out.strip() == str(out)


@pytest.mark.slow
def test_dry_run_says_what_would_happen_and_writes_nothing(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """F9: --dry-run (and its --json form): solved, or reused from the cache."""
    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "env.tar.gz"
    argv = [str(tmp_path / "spec.json"), str(out), "-q", "--pkgs-dir", str(pkgs_dir)]
    assert main([*argv, "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True and plan["cache_hit"] is False and plan["path"] == str(out)
    assert sorted((p["name"], p["version"]) for p in plan["conda"]) == [
        ("mini-base", "2.0"),
        ("mini-tool", "1.0"),
    ]
    envs = tmp_path / "xdg-cache" / "poncho" / "envs"
    assert not out.exists() and not Path(plan["cache_entry"]).exists()
    assert not [p for p in envs.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"would build: {plan['cache_entry']}\n") and "mini-tool 1.0 0" in text
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--dry-run", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == {**plan, "cache_hit": True}
    assert main([*argv, "--dry-run", "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is False


def test_offline_refuses_a_channel_on_the_network(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """F9: --offline builds from local channels only, and says which one is not."""
    remote = "https://conda.example.invalid/channel"
    spec = {"conda": {"channels": [mini_channel.url, remote], "dependencies": ["mini-tool"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    argv = [str(tmp_path / "spec.json"), "-q", "--pkgs-dir", str(pkgs_dir), "--offline"]
    assert main(argv) == 1
    (error,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert f"--offline: channel {remote} is not local" in error
    assert main([*argv, "--dry-run"]) == 1
    assert main([*argv, "-c", mini_channel.url, "--override-channels"]) == 0


@pytest.mark.slow
def test_offline_is_served_by_a_cache_hit_whatever_the_channels(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A build the cache holds needs no channel at all, even one on the network."""
    from poncho_create.cached_build import entry_name
    from poncho_create.options import CreateOptions
    from poncho_spec import Spec

    remote = {"conda": {"channels": ["https://conda.example.invalid/c"], "dependencies": ["x"]}}
    (tmp_path / "remote.json").write_text(json.dumps(remote))
    local = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}}
    (tmp_path / "local.json").write_text(json.dumps(local))
    common = ["-q", "--pkgs-dir", str(pkgs_dir), "--cache-dir", str(tmp_path / "envs")]
    assert main([str(tmp_path / "local.json"), *common]) == 0
    built = Path(capsys.readouterr().out.strip())
    # The remote spec's entry, as if built earlier on a connected machine.
    spec = Spec.from_dict(remote, source="<spec>")
    options = CreateOptions.resolve(cache_dir=tmp_path / "envs")
    name = entry_name(spec, options, "tar.gz", tuple(spec.conda.channels))
    (tmp_path / "envs" / name).write_bytes(built.read_bytes())
    out = tmp_path / "out.tar.gz"
    assert main([str(tmp_path / "remote.json"), str(out), *common, "--offline"]) == 0
    assert out.read_bytes() == built.read_bytes()


def test_offline_means_no_pip_index() -> None:
    from poncho_create.options import CreateOptions

    assert CreateOptions.resolve(offline=True).pip.args() == ["--no-index"]
    assert CreateOptions.resolve().pip.args() == []
