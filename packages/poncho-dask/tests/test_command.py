"""`run_command`: command lines in the activated environment, on the cluster and here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from poncho_dask import CommandFailed, PonchoEnvironment, run_command
from poncho_dask_helpers import make_tarball
from poncho_run import CommandNotExecutable, CommandNotFound

pytestmark = pytest.mark.slow


def test_commands_get_the_activated_environment(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    done = client.submit(
        run_command,
        ["sh", "-c", 'echo "$PONCHO_DASK_TEST_ACTIVATED $EXTRA $CONDA_PREFIX"'],
        env=envs["app"],
        environ={"EXTRA": "extra"},
        pure=False,
    ).result()
    activated, extra, prefix = done.stdout.split()
    assert (activated, extra) == ("yes", "extra")
    assert Path(prefix).parent == Path(envs["app"].unpack_root or "")


def test_a_failing_command_raises_on_the_client_with_its_stderr(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    failing = ["python", "-c", "import sys; print('out'); sys.exit('it broke: xyzzy')"]
    future = client.submit(run_command, failing, env="app", pure=False)
    with pytest.raises(CommandFailed, match="it broke: xyzzy") as info:
        future.result()
    assert info.value.returncode == 1
    assert info.value.stdout == "out\n"
    assert "exited with status 1" in str(info.value)
    assert info.value.env == "app"
    unchecked = client.submit(run_command, failing, env="app", check=False, pure=False).result()
    assert (unchecked.returncode, unchecked.stdout) == (1, "out\n")
    assert "xyzzy" in unchecked.stderr


def test_a_missing_command_raises_command_not_found(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    future = client.submit(run_command, ["no-such-program-xyz"], env="app", pure=False)
    with pytest.raises(CommandNotFound, match="no-such-program-xyz"):
        future.result()


def test_commands_that_cannot_start(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "env.tar.gz", {"share/not-a-program": "data\n"})
    env = PonchoEnvironment(tarball, unpack_root=tmp_path / "root")
    program = str(env.prepared().prefix / "share" / "not-a-program")
    with pytest.raises(CommandNotExecutable):
        run_command([program], env)
    with pytest.raises(CommandNotFound):
        run_command(["no-such-program-xyz"], env)


def test_the_specs_data_is_fetched_for_commands(http_server: Any, tmp_path: Path) -> None:
    (http_server.root / "data.txt").write_text("the data\n")
    spec = {"http": {"DATA": {"url": f"{http_server.url.rstrip('/')}/data.txt", "type": "file"}}}
    tarball = make_tarball(tmp_path / "data.tar.gz", {"poncho/spec.json": json.dumps(spec)})
    env = PonchoEnvironment(tarball, unpack_root=tmp_path / "root")
    show = ["sh", "-c", 'cat "${DATA:-/dev/null}"']
    assert run_command(show, env, data_cache=tmp_path / "cache").stdout == "the data\n"
    assert run_command(show, env, data=False).stdout == ""
