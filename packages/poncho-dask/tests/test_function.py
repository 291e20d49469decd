"""`run_function`: Python functions called with the environment's interpreter."""

from __future__ import annotations

import functools
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from poncho_dask import (
    EnvironmentIncomplete,
    PonchoEnvironment,
    RemoteError,
    run_command,
    run_function,
)
from poncho_dask.function import EnvPython, _hint
from poncho_dask_helpers import make_tarball

pytestmark = pytest.mark.slow


def test_functions_importable_in_the_environment_travel_by_reference(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    greeting = client.submit(run_function, "poncho_demo_core:greet", "dask", env="app")
    assert greeting.result() == "hello dask from poncho-demo-core (core)"
    prefix = client.submit(run_function, sysconfig.get_config_var, "prefix", env="app").result()
    assert Path(prefix).parent == Path(envs["app"].unpack_root or "")
    assert prefix != sys.prefix


def test_without_cloudpickle_a_lambda_is_a_clear_error(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    future = client.submit(run_function, lambda: sys.prefix, env="app", pure=False)
    with pytest.raises(EnvironmentIncomplete, match=r"'app' has no cloudpickle.*spec"):
        future.result()


def test_with_cloudpickle_closures_run_with_the_environments_python(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    factor = 3

    def scaled_in_env(x: int, *, label: str) -> tuple[str, str, int]:
        import poncho_demo_core  # only the environment has it

        return (sys.prefix, f"{label}:{poncho_demo_core.VALUE}", x * factor)

    prefix, label, value = client.submit(
        run_function, scaled_in_env, 14, label="ok", env=envs["cp"], pure=False
    ).result()
    assert Path(prefix).parent == Path(envs["cp"].unpack_root or "")
    assert (label, value) == ("ok:core", 42)


def test_an_exception_in_the_environment_reaches_the_client(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    def fails(value: str) -> None:
        raise ValueError(f"bad value {value}")

    future = client.submit(run_function, fails, "zork", env="cp", pure=False)
    with pytest.raises(RemoteError) as info:
        future.result()
    err = info.value
    assert (err.env, err.stage, err.exc_type, err.message) == (
        "cp",
        "call",
        "ValueError",
        "bad value zork",
    )
    assert 'raise ValueError(f"bad value {value}")' in err.remote_traceback
    assert f'File "{__file__}", line' in err.remote_traceback  # not "<dynamic-code>"
    assert "<string>" not in err.remote_traceback  # the bootstrap's frames are left out
    assert "ValueError: bad value zork" in str(err)

    wrong_args = client.submit(run_function, "poncho_demo_core:greet", env="app", pure=False)
    with pytest.raises(RemoteError, match="TypeError") as info:
        wrong_args.result()
    assert info.value.stage == "call"


def test_functions_here(
    here: dict[str, PonchoEnvironment], capsys: pytest.CaptureFixture[str]
) -> None:
    app, cp = here["app"], here["cp"]
    assert run_function("poncho_demo_core:greet", "here", env=app).startswith("hello here")
    assert run_function(sysconfig.get_config_var, "prefix", env=app) == str(app.prepared().prefix)
    assert run_function(lambda: sys.prefix, env=cp) == str(cp.prepared().prefix)
    with pytest.raises(EnvironmentIncomplete, match="'app' has no cloudpickle"):
        run_function(lambda: sys.prefix, env=app)
    # What the function prints reaches the worker's stdout and stderr.
    assert run_function("builtins:print", "printed in the env", env=app) is None
    run_function("warnings:warn", "warned in the env", env=app)
    out, err = capsys.readouterr()
    assert "printed in the env" in out
    assert "warned in the env" in err


def test_what_the_environment_cannot_load_run_or_return(here: dict[str, PonchoEnvironment]) -> None:
    app, cp = here["app"], here["cp"]
    # This process can import run_command, the environment cannot: pickled by reference,
    # it fails to load there.
    with pytest.raises(RemoteError, match="No module named 'poncho_dask'") as info:
        run_function(run_command, ["true"], env=app)
    assert (info.value.stage, info.value.exc_type) == ("load", "ModuleNotFoundError")
    assert "register_pickle_by_value" in info.value.hint

    with pytest.raises(RemoteError, match=r"raised an exception in functools\.partial") as info:
        run_function(functools.partial(int, "x"), env=app)
    assert (info.value.stage, info.value.exc_type) == ("call", "ValueError")
    with pytest.raises(RemoteError, match="SystemExit: bye"):
        run_function("sys:exit", "bye", env=app)

    with pytest.raises(RemoteError, match="could not return") as info:
        run_function("threading:Lock", env=app)
    assert (info.value.stage, info.value.exc_type) == ("return", "TypeError")
    with pytest.raises(RemoteError, match="cannot be loaded on the worker") as info:
        run_function("poncho_dask_only:make_token", env=cp)
    assert info.value.stage == "return"
    # With cloudpickle in the environment, results plain pickle refuses still come back.
    assert run_function(lambda: lambda: 42, env=cp)() == 42

    with pytest.raises(RemoteError, match="exited with status 7 before answering") as info:
        run_function("os:_exit", 7, env=app)
    assert info.value.stage == "start"


def test_hints_for_what_fails_to_load() -> None:
    same = EnvPython("python", tuple(sys.version_info[:3]), 5, True)
    older = EnvPython("python", (3, 1, 0), 5, True)
    assert _hint("call", "ModuleNotFoundError", older) == ""
    assert "register_pickle_by_value" in _hint("load", "ModuleNotFoundError", same)
    assert "Python 3.1" not in _hint("load", "TypeError", same)
    assert "and the environment 3.1: functions sent by value" in _hint("load", "TypeError", older)


def test_an_environment_without_a_working_python(tmp_path: Path) -> None:
    bare = make_tarball(tmp_path / "bare.tar.gz", {"bin/hello": "#!/bin/sh\necho hello\n"})
    env = PonchoEnvironment(bare, name="bare", unpack_root=tmp_path / "root")
    assert run_command(["hello"], env).stdout == "hello\n"
    with pytest.raises(EnvironmentIncomplete, match="'bare' has no python"):
        run_function("os:getpid", env=env)
    broken = make_tarball(tmp_path / "broken.tar.gz", {"bin/python": "#!/bin/sh\nexit 3\n"})
    env = PonchoEnvironment(broken, name="broken", unpack_root=tmp_path / "root")
    with pytest.raises(EnvironmentIncomplete, match=r"'broken': its python .* exit status 3"):
        run_function("os:getpid", env=env)
