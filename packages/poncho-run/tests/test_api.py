from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

import poncho_run
from poncho_run import PreparedEnvironment, open_ready, prepare, run
from poncho_run.errors import EnvironmentNotFound, PonchoError, RunError


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_package_exports_its_api_lazily() -> None:
    assert set(poncho_run.__all__) <= set(dir(poncho_run))
    for name in poncho_run.__all__:
        assert getattr(poncho_run, name) is not None
    with pytest.raises(AttributeError):
        poncho_run.nothing_like_this  # noqa: B018


def test_a_temporary_environment_belongs_to_the_caller(hand_tarball: Path, tmpdir_: Path) -> None:
    with prepare(hand_tarball) as env:
        assert env.temporary
        assert env.prefix.parent == tmpdir_ and (env.prefix / "bin" / "hello").exists()
        assert "temporary=True" in repr(env)
    assert list(tmpdir_.iterdir()) == []


def test_a_failed_temporary_unpack_leaves_nothing(tmp_path: Path, tmpdir_: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 100)
    with pytest.raises(PonchoError):  # an archive error: poncho-core's
        prepare(bad)
    assert list(tmpdir_.iterdir()) == []


def test_a_shared_folder_is_kept(hand_tarball: Path, tmp_path: Path) -> None:
    env = prepare(hand_tarball, unpack_to=tmp_path / "env", wait=5)
    assert not env.temporary and env.prefix == tmp_path / "env"
    env.cleanup()
    assert env.prefix.exists()
    ready = open_ready(tmp_path / "env")
    assert ready is not None and ready.prefix == env.prefix
    assert open_ready(tmp_path / "other") is None


def test_environ_and_command(
    hand_tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = prepare(hand_tarball, unpack_to=tmp_path / "env")
    prefix = str(env.prefix)
    variables = env.environ({"PATH": "/usr/bin", "PYTHONPATH": "/x"})
    assert variables["PATH"] == f"{prefix}/bin:/usr/bin"
    assert variables["HAND_ACTIVATED"] == f"yes:{prefix}" and "PYTHONPATH" not in variables
    monkeypatch.setenv("FROM_OS", "1")
    assert env.environ()["FROM_OS"] == "1"
    monkeypatch.chdir(tmp_path)
    Path("job.py").write_text("print(1)")
    Path("exe.py").write_text("#!/bin/sh\n")
    Path("exe.py").chmod(0o755)
    assert env.command(["job.py", "a"]) == [f"{prefix}/bin/python", "job.py", "a"]
    assert env.command(["./exe.py"]) == ["./exe.py"]
    assert env.command(["missing.py"]) == ["missing.py"]
    assert env.command(["hello", "x.py"]) == ["hello", "x.py"]
    (env.prefix / "bin" / "python").unlink()
    assert env.command(["job.py"]) == ["python", "job.py"]
    with pytest.raises(ValueError, match="empty command"):
        env.command([])


def test_a_folder_is_used_in_place(
    hand_tarball: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = prepare(hand_tarball, unpack_to=tmp_path / "env")
    with caplog.at_level(logging.WARNING):
        again = prepare(first.prefix, unpack_to=tmp_path / "elsewhere")
    assert again.prefix == first.prefix and not again.temporary
    assert "using it in place" in caplog.text and not (tmp_path / "elsewhere").exists()


def test_nothing_to_prepare_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="give an environment"):
        prepare(None)
    with pytest.raises(EnvironmentNotFound, match="no such environment"):
        prepare(tmp_path / "missing.tar.gz")


def test_run_returns_the_command_s_status_and_cleans_up(hand_tarball: Path, tmpdir_: Path) -> None:
    assert run(hand_tarball, ["hello", "7"]) == 7
    assert run(hand_tarball, ["sh", "-c", "kill -TERM $$"]) == 143
    assert list(tmpdir_.iterdir()) == []


def test_run_in_a_shared_folder(hand_tarball: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = run(
        hand_tarball,
        ["sh", "-c", f'echo "$HAND_ACTIVATED $CUSTOM" > {out}'],
        unpack_to=tmp_path / "env",
        base={"PATH": os.environ["PATH"], "CUSTOM": "c"},
    )
    assert status == 0 and out.read_text() == f"yes:{tmp_path / 'env'} c\n"


def test_prepared_environments_can_be_made_directly(tmp_path: Path) -> None:
    env = PreparedEnvironment(str(tmp_path), {})
    assert env.environ({})["CONDA_PREFIX"] == str(tmp_path)
    assert not env.has_data


class Replaced(Exception):
    """Stands for the exec that would replace the test process."""


@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    from poncho_run import api

    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_exec(argv: list[str], env: dict[str, str]) -> None:
        calls.append((list(argv), dict(env)))
        raise Replaced

    monkeypatch.setattr(api, "exec_command", fake_exec)
    return calls


def test_exec_passes_the_activated_environment(
    hand_tarball: Path, tmp_path: Path, no_exec: list[tuple[list[str], dict[str, str]]]
) -> None:
    env = prepare(hand_tarball, unpack_to=tmp_path / "env")
    with pytest.raises(Replaced):
        env.exec(["hello"], base={"PATH": "/bin"})
    ((argv, variables),) = no_exec
    assert argv == ["hello"] and variables["PATH"] == f"{env.prefix}/bin:/bin"


def test_exec_with_data_fetches_it_first(
    tmp_path: Path, http_server: object, no_exec: list[tuple[list[str], dict[str, str]]]
) -> None:
    import hashlib
    import json

    from poncho_run_helpers import hand_env_members, make_tar, member

    root: Path = http_server.root  # type: ignore[attr-defined]
    (root / "t.csv").write_text("t")
    spec = {
        "http": {
            "T": {
                "type": "file",
                "url": f"{http_server}/t.csv",
                "sha256": hashlib.sha256(b"t").hexdigest(),
            }
        }
    }
    members = [*hand_env_members(), member("poncho/spec.json", json.dumps(spec).encode())]
    tarball = make_tar(tmp_path / "d.tar.gz", members)
    env = prepare(tarball, unpack_to=tmp_path / "env")
    with pytest.raises(Replaced):
        env.exec(["hello"], data_cache=tmp_path / "cache")
    ((_, variables),) = no_exec
    assert Path(variables["T"]).read_text() == "t"
    with env.data(tmp_path / "cache") as paths:  # a child run gets the same
        assert paths == {"T": variables["T"]}
    assert env.run(["sh", "-c", 'test "$(cat "$T")" = t'], data_cache=tmp_path / "cache") == 0


def test_a_prepared_environment_runs_children(hand_tarball: Path, tmp_path: Path) -> None:
    env = prepare(hand_tarball, unpack_to=tmp_path / "env")
    assert env.run(["hello", "2"]) == 2
    assert env.run(["hello"], data=False) == 0
