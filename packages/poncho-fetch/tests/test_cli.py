from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch.cli import main


def _spec_file(tmp_path: Path, spec: Any) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict()))
    return str(path)


def test_prints_var_lines(
    server: Any, tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec_file(tmp_path, make_spec(http={"F": {"url": server.add("x.bin", b"x")}}))
    assert main(["--cache-dir", str(tmp_path / "c"), spec]) == 0
    out = capsys.readouterr().out
    var, _, path = out.strip().partition("=")
    assert var == "F" and Path(path).read_bytes() == b"x"
    assert path.startswith(str(tmp_path / "c"))
    assert main(["--shell", "--cache-dir", str(tmp_path / "c"), spec]) == 0
    assert capsys.readouterr().out == f"export F='{path}'\n"


def test_max_size_is_passed_on(
    tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def fake_fetch(
        spec: Any, cache_dir: Any, *, max_bytes: Any, policy: Any, max_ratio: Any
    ) -> dict[str, str]:
        seen.update(cache_dir=cache_dir, max_bytes=max_bytes, max_ratio=max_ratio)
        seen.update(deadline=policy.deadline, timeout=policy.timeout, min_rate=policy.min_rate)
        return {"X": "/x"}

    spec = _spec_file(tmp_path, make_spec())
    argv = ["--max-size", "2M", "--cache-dir", "D", "--deadline", "7", "--timeout", "3",
            "--min-rate", "2K", "--max-ratio", "50", spec]  # fmt: skip
    assert main(argv, fetch=fake_fetch) == 0
    assert seen == {
        "cache_dir": "D",
        "max_bytes": 2 << 20,
        "max_ratio": 50.0,
        "deadline": 7.0,
        "timeout": 3.0,
        "min_rate": 2048.0,
    }
    assert capsys.readouterr().out == "X=/x\n"


def test_checksum_mismatch_is_an_error_line(
    server: Any, tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.add("x.bin", b"x")
    spec = _spec_file(tmp_path, make_spec(http={"F": {"url": url, "sha256": "1" * 64}}))
    assert main(["--cache-dir", str(tmp_path / "c"), spec]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"poncho_fetch: error: http.F: sha256 mismatch for {url}")
    assert "Traceback" not in captured.err


def test_missing_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.json")]) == 1
    assert capsys.readouterr().err.startswith("poncho_fetch: error: ")


def test_bad_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--max-size", "huge", "spec.json"])
    assert exit_info.value.code == 2
    assert "invalid size 'huge'" in capsys.readouterr().err


def test_ctrl_c(tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> dict[str, str]:
        raise KeyboardInterrupt

    spec = _spec_file(tmp_path, make_spec())
    assert main([spec], fetch=interrupted) == 130


def test_python_m_and_verbose(server: Any, tmp_path: Path, make_spec: Any) -> None:
    spec = _spec_file(tmp_path, make_spec(http={"F": {"url": server.add("x.bin", b"x")}}))
    proc = subprocess.run(
        [sys.executable, "-m", "poncho_fetch", "-v", "--cache-dir", str(tmp_path / "c"), spec],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("F=")
    assert "poncho_fetch: http.F: downloading" in proc.stderr


def test_spec_warnings_are_shown(
    git_remote: Any, tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(git={"R": {"remote": git_remote.url, "ref": "main"}})
    assert spec.warnings  # a branch moves: the spec says so
    assert main(["--cache-dir", str(tmp_path / "c"), _spec_file(tmp_path, spec)]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("poncho_fetch: warning: git.R")
    assert captured.out.startswith("R=")


def test_json_names_every_variable_and_path(
    server: Any, git_remote: Any, tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.add("x.bin", b"x")
    spec = make_spec(http={"F": {"url": url}}, git={"R": {"remote": git_remote.url}})
    path = _spec_file(tmp_path, spec)
    assert main(["--json", "-q", "--cache-dir", str(tmp_path / "c"), path]) == 0
    data = json.loads(capsys.readouterr().out)
    variables = data.pop("variables")
    assert set(variables) == {"F", "R"}
    assert Path(variables["F"]).read_bytes() == b"x"
    assert (Path(variables["R"]) / ".git").exists()
    assert data == {
        "spec": path,
        "spec_hash": spec.hash(),
        "cache_dir": str((tmp_path / "c").resolve()),
        "entries": [
            {"var": "R", "kind": "git", "source": git_remote.url, "path": variables["R"]},
            {"var": "F", "kind": "http", "source": url, "path": variables["F"]},
        ],
    }
    with pytest.raises(SystemExit) as exit_info:  # one output format at a time
        main(["--json", "--shell", path])
    assert exit_info.value.code == 2


def test_json_prints_an_error_document_when_an_entry_fails(
    server: Any, tmp_path: Path, make_spec: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(http={"F": {"url": server.add("x.bin", b"x"), "sha256": "1" * 64}})
    assert main(["--json", "--cache-dir", str(tmp_path / "c"), _spec_file(tmp_path, spec)]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]  # as conda's --json: one document on stdout
    assert error["exit_status"] == 1 and error["message"].startswith("http.F")
    assert f"poncho_fetch: error: {error['message'].splitlines()[0]}\n" in captured.err


@pytest.mark.parametrize(
    ("argv", "env", "info", "debug"),
    [
        ([], None, False, False),
        (["-v"], None, True, False),
        (["-vv"], None, True, True),
        ([], "1", True, False),
        ([], "2", True, True),
        (["-q"], "2", False, False),  # the command line wins
    ],
)
def test_verbosity(
    argv: list[str],
    env: str | None,
    info: bool,
    debug: bool,
    server: Any,
    git_remote: Any,
    tmp_path: Path,
    make_spec: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env is not None:
        monkeypatch.setenv("PONCHO_VERBOSITY", env)
    url = server.add("x.bin", b"x")
    spec = make_spec(http={"F": {"url": url}}, git={"R": {"remote": git_remote.url, "ref": "main"}})
    assert main([*argv, "--cache-dir", str(tmp_path / "c"), _spec_file(tmp_path, spec)]) == 0
    err = capsys.readouterr().err
    assert "poncho_fetch: warning: git.R.ref: " in err  # warnings at every level
    assert ("poncho_fetch: http.F: downloading" in err) == info, err
    assert ("poncho_fetch: git.R: main is " in err) == debug, err  # how a ref was resolved
