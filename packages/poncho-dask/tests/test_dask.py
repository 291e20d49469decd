"""poncho_dask on a real ``distributed.LocalCluster`` of worker processes.

The tarballs are real conda-pack archives of environments that py-rattler installed from the
local test channel, made by poncho-testing's ``build_env_tarball``, not by
``poncho_package_create``: poncho-dask's tests must not depend on poncho-create (Dask on
poncho-create's own tarballs is tested in tests-integration).

Two environments share the cluster:
- "app": python + poncho-demo-app (and poncho-demo-core), no cloudpickle;
- "cp": python + poncho-demo-core, cloudpickle's pure-Python files copied into its
  site-packages, and a module ``poncho_dask_only`` only it has.
Both carry an ``activate.d`` script that appends the prefix to the file named by
``$PONCHO_DASK_TEST_UNPACKS`` (set for the workers): poncho-run runs these scripts once per
unpack, so the file counts the unpacks.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from dask.base import tokenize

from poncho_dask import (
    CommandFailed,
    CompletedCommand,
    EnvironmentIncomplete,
    EnvironmentNotRegistered,
    PonchoEnvironment,
    RemoteError,
    default_unpack_root,
    get_environment,
    run_command,
    run_function,
)
from poncho_dask.function import EnvPython, _hint
from poncho_run import CommandNotExecutable, CommandNotFound, EnvironmentNotFound, RunError

pytestmark = pytest.mark.slow

COUNT_VAR = "PONCHO_DASK_TEST_UNPACKS"
ACTIVATE_SCRIPT = f"""\
if [ -n "${{{COUNT_VAR}:-}}" ]; then
    echo "$CONDA_PREFIX" >> "${COUNT_VAR}"
fi
export PONCHO_DASK_TEST_ACTIVATED=yes
"""
ENV_ONLY_MODULE = """\
class Token:
    pass


def make_token():
    return Token()
"""
SHOW_PREFIX = [
    "python",
    "-c",
    "import sys, poncho_demo_app; print(sys.prefix); print(poncho_demo_app.__file__)",
]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tarballs(local_channel: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The "app" and "cp" environment tarballs (see the module docstring)."""
    from poncho_testing import build_env_tarball

    site = "lib/python{}.{}/site-packages".format(*local_channel.python_version.split(".")[:2])
    activate = {"etc/conda/activate.d/poncho-dask-test.sh": ACTIVATE_SCRIPT}
    cp_files: dict[str, str | bytes] = {
        f"{site}/cloudpickle/{path.name}": path.read_bytes()
        for path in Path(cloudpickle.__file__).parent.glob("*.py")
    }
    cp_files[f"{site}/poncho_dask_only.py"] = ENV_ONLY_MODULE
    folder = tmp_path_factory.mktemp("tarballs")
    return {
        "app": build_env_tarball(
            local_channel,
            ["python", "poncho-demo-app"],
            folder / "app.tar.gz",
            extra_files=activate,
        ),
        "cp": build_env_tarball(
            local_channel,
            ["python", "poncho-demo-core"],
            folder / "cp.tar.gz",
            extra_files={**activate, **cp_files},
        ),
    }


@pytest.fixture(scope="module")
def unpack_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The unpack-counting file, named in the environment the workers inherit."""
    path = tmp_path_factory.mktemp("count") / "unpacks.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(COUNT_VAR, str(path))
        yield path


@pytest.fixture(scope="module")
def cluster(unpack_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Three single-threaded worker processes (one node) and a client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never 8787, which others may hold
            silence_logs=logging.ERROR,
            local_directory=str(tmp_path_factory.mktemp("dask-space")),
        ) as local,
        Client(local) as client,
    ):
        yield local, client


@pytest.fixture(scope="module")
def client(cluster: Any) -> Any:
    return cluster[1]


@pytest.fixture(scope="module")
def unpack_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("unpack-root")


@pytest.fixture(scope="module")
def envs(client: Any, tarballs: dict[str, Path], unpack_root: Path) -> dict[str, PonchoEnvironment]:
    """Both environments, registered on the cluster."""
    registered = {
        name: PonchoEnvironment(tarball, name=name, unpack_root=unpack_root, wait=60)
        for name, tarball in tarballs.items()
    }
    for plugin in registered.values():
        client.register_plugin(plugin)
    return registered


def on_each_worker(client: Any, func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``func(*args, **kwargs)`` run as a task on every worker: ``{address: result}``."""
    futures = {
        address: client.submit(func, *args, workers=[address], pure=False, **kwargs)
        for address in client.scheduler_info()["workers"]
    }
    return {address: future.result(timeout=120) for address, future in futures.items()}


def make_tarball(path: Path, files: dict[str, str]) -> Path:
    """A hand-made environment tarball (files under bin/ are executable)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            body = text.encode()
            info.size, info.mode = len(body), 0o755 if name.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(body))
    return path


def unpacks(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


# -- the cluster ---------------------------------------------------------------------------


def test_tasks_run_in_the_environment_on_every_worker(
    client: Any, envs: dict[str, PonchoEnvironment], unpack_root: Path
) -> None:
    assert importlib.util.find_spec("poncho_demo_app") is None  # only the environment has it
    results = on_each_worker(client, run_command, SHOW_PREFIX, env="app")
    assert len(results) == 3
    prefixes = set()
    for done in results.values():
        assert isinstance(done, CompletedCommand)
        assert done.returncode == 0
        prefix, module = done.stdout.splitlines()
        assert Path(prefix).parent == unpack_root
        assert module.startswith(prefix + os.sep)
        prefixes.add(prefix)
    assert len(prefixes) == 1  # one shared copy


def test_one_unpack_per_environment_for_all_workers_of_the_node(
    client: Any, envs: dict[str, PonchoEnvironment], unpack_log: Path, unpack_root: Path
) -> None:
    on_each_worker(client, run_command, ["true"], env="cp")
    lines = unpacks(unpack_log)
    assert sorted(lines) == sorted(set(lines))
    assert len(lines) == 2
    folders = sorted(p.name for p in unpack_root.iterdir() if p.is_dir())
    assert [Path(line).name for line in sorted(lines)] == folders


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
    assert "<string>" not in err.remote_traceback  # the bootstrap's frames are left out
    assert "ValueError: bad value zork" in str(err)

    wrong_args = client.submit(run_function, "poncho_demo_core:greet", env="app", pure=False)
    with pytest.raises(RemoteError, match="TypeError") as info:
        wrong_args.result()
    assert info.value.stage == "call"


def test_an_http_url_is_fetched_once_and_prepared(
    client: Any,
    envs: dict[str, PonchoEnvironment],
    tarballs: dict[str, Path],
    http_server: Any,
    unpack_root: Path,
    tmp_path: Path,
) -> None:
    (http_server.root / "app.tar.gz").write_bytes(tarballs["app"].read_bytes())
    url = f"{http_server.url.rstrip('/')}/app.tar.gz"
    remote = PonchoEnvironment(
        url, name="remote", unpack_root=unpack_root, fetch_cache=tmp_path / "fetch"
    )
    client.register_plugin(remote)
    try:
        results = on_each_worker(client, run_command, SHOW_PREFIX, env="remote")
        prefixes = {done.stdout.splitlines()[0] for done in results.values()}
        assert len(prefixes) == 1
        assert prefixes.pop().startswith(str(unpack_root / "app-"))
        assert http_server.requests == ["GET /app.tar.gz"]
    finally:
        client.unregister_worker_plugin(remote.name)


def test_a_worker_started_later_gets_the_environments(
    cluster: Any, envs: dict[str, PonchoEnvironment], unpack_log: Path
) -> None:
    local, client = cluster
    before = set(client.scheduler_info()["workers"])
    count = len(unpacks(unpack_log))
    local.scale(len(before) + 1)
    client.wait_for_workers(len(before) + 1, timeout=120)
    (new,) = set(client.scheduler_info()["workers"]) - before
    done = client.submit(run_command, SHOW_PREFIX, env="app", workers=[new], pure=False)
    old = client.submit(run_command, SHOW_PREFIX, env="app", workers=[min(before)], pure=False)
    assert done.result().stdout == old.result().stdout
    greeting = client.submit(
        run_function, "poncho_demo_core:greet", "late", env="cp", workers=[new], pure=False
    )
    assert greeting.result() == "hello late from poncho-demo-core (core)"
    assert len(unpacks(unpack_log)) == count  # the new worker reused the node's copies


# -- an in-process worker (its tasks run in this process) -------------------------------


@pytest.fixture(scope="module")
def thread_client() -> Iterator[Any]:
    """One in-process worker with two threads, its own scheduler and client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            processes=False,
            threads_per_worker=2,
            dashboard_address=":0",  # a free port: never 8787, which others may hold
            silence_logs=logging.ERROR,
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        yield client


def test_which_environment_a_task_gets(
    thread_client: Any, tarballs: dict[str, Path], unpack_root: Path, tmp_path: Path
) -> None:
    def submit(*args: Any, **kwargs: Any) -> Any:
        return thread_client.submit(*args, pure=False, **kwargs).result()

    with pytest.raises(EnvironmentNotRegistered, match="no Poncho environment is registered"):
        submit(run_command, ["true"])
    with pytest.raises(EnvironmentNotRegistered, match=r"'app'.*\(registered: none\)"):
        submit(run_command, ["true"], env="app")
    app = PonchoEnvironment(tarballs["app"], name="app", unpack_root=unpack_root)
    thread_client.register_plugin(app)
    done = submit(run_command, ["python", "-c", "import sys; print(sys.prefix)"])  # the only one
    assert Path(done.stdout.strip()).parent == unpack_root
    seconds = thread_client.run(
        lambda dask_worker: dask_worker.plugins["poncho:app"].prepare_seconds
    )
    assert all(value is not None for value in seconds.values())

    thread_client.register_plugin(
        PonchoEnvironment(tarballs["cp"], name="cp", unpack_root=unpack_root)
    )
    with pytest.raises(EnvironmentNotRegistered, match=r"several.*\(app, cp\): say which"):
        submit(run_command, ["true"])
    with pytest.raises(EnvironmentNotRegistered, match=r"'nope'.*registered: app, cp"):
        submit(run_command, ["true"], env="nope")
    show = ["python", "-c", "import sys; print(sys.prefix)"]
    by_name, by_object = submit(run_command, show, env="cp"), submit(run_command, show, env=app)
    assert by_name.stdout != by_object.stdout
    assert Path(by_object.stdout.strip()) == app.prepared().prefix

    # An object not registered under its name, or registered for another tarball, is
    # prepared by the task itself.
    copy = tmp_path / "copy.tar.gz"
    copy.write_bytes(tarballs["app"].read_bytes())
    for other in (
        PonchoEnvironment(copy, name="app", unpack_root=tmp_path / "root"),
        PonchoEnvironment(copy, name="other", unpack_root=tmp_path / "root"),
    ):
        done = submit(run_command, ["python", "-c", "import sys; print(sys.prefix)"], env=other)
        assert Path(done.stdout.strip()).parent == tmp_path / "root"

    thread_client.unregister_worker_plugin(app.name)
    with pytest.raises(EnvironmentNotRegistered, match=r"'app'.*registered: cp"):
        submit(run_command, ["true"], env="app")
    missing = PonchoEnvironment(tmp_path / "missing.tar.gz", name="missing", unpack_root=tmp_path)
    with pytest.raises(EnvironmentNotFound, match="every worker can read"):
        thread_client.register_plugin(missing)


# -- the example in docs/dask.md ----------------------------------------------------------


def test_the_example_in_the_docs_runs(tarballs: dict[str, Path], tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "dask.md"
    example = re.search(r"```python\n(.*?)```", docs.read_text(), re.DOTALL)
    assert example is not None
    script = tmp_path / "dask_example.py"
    script.write_text(example.group(1))
    done = subprocess.run(
        [sys.executable, str(script), str(tarballs["cp"])],
        env={**os.environ, "PONCHO_DASK_DIR": str(tmp_path / "envs")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, *means, failed = done.stdout.splitlines()
    prefix = first.removeprefix("environment prefix: ")
    assert Path(prefix).parent == tmp_path / "envs"
    assert means == [f"mean {m} computed by {prefix}/bin/python" for m in (2, 5, 8)]
    assert failed == "failed as expected, status 1 - no input file given"


# -- without a cluster ---------------------------------------------------------------------


def test_outside_a_worker_the_environment_object_is_prepared_here(
    tarballs: dict[str, Path], unpack_root: Path, tmp_path: Path
) -> None:
    # The cluster's unpack root: the folder is ready when the whole module runs.
    env = PonchoEnvironment(tarballs["app"], unpack_root=unpack_root)
    assert env.env_name.startswith("app-")
    prepared = get_environment(env)
    assert prepared.prefix.parent == unpack_root
    assert get_environment(env) is prepared
    assert env.prepare_seconds is not None
    upper = "python -c 'import os, sys; print(sys.stdin.read().upper(), os.environ[\"X\"])'"
    done = run_command(upper, env, input="hi", environ={"X": "x"})
    assert done == CompletedCommand(done.argv, 0, "HI x\n", "")
    raw = run_command(["python", "-c", "print('x')"], env, text=False)
    assert raw.stdout == b"x\n"
    with pytest.raises(CommandFailed, match=r"did not finish within 0\.5 s") as info:
        run_command(["python", "-c", "import time; time.sleep(30)"], env, timeout=0.5)
    assert info.value.returncode is None
    with pytest.raises(FileNotFoundError):
        run_command(["true"], env, cwd=tmp_path / "missing")
    with pytest.raises(ValueError, match="empty command"):
        run_command([], env)
    with pytest.raises(ValueError, match="'module:function'"):
        run_function("not a reference", env=env)
    with pytest.raises(EnvironmentNotRegistered, match="not on a Dask worker"):
        run_command(["true"], "app")
    # A copy (as a worker gets) prepares again, finding the folder ready.
    copy = pickle.loads(pickle.dumps(env))
    assert tokenize(copy) == tokenize(env) != tokenize(PonchoEnvironment(tarballs["cp"]))
    assert copy.prepared().prefix == prepared.prefix
    assert copy.unpack_dir() == str(prepared.prefix)


def test_an_unpacked_folder_is_used_in_place(tarballs: dict[str, Path], unpack_root: Path) -> None:
    first = get_environment(PonchoEnvironment(tarballs["app"], unpack_root=unpack_root))
    in_place = PonchoEnvironment(first.prefix)
    assert get_environment(in_place).prefix == first.prefix


@pytest.fixture(scope="module")
def here(tarballs: dict[str, Path], unpack_root: Path) -> dict[str, PonchoEnvironment]:
    """The two environments as objects, prepared in this process when first used."""
    return {
        name: PonchoEnvironment(tarball, name=name, unpack_root=unpack_root)
        for name, tarball in tarballs.items()
    }


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


def test_a_url_is_fetched_only_while_its_folder_is_not_ready(
    tarballs: dict[str, Path], http_server: Any, tmp_path: Path
) -> None:
    data = tarballs["app"].read_bytes()
    (http_server.root / "app.tar.gz").write_bytes(data)
    env = PonchoEnvironment(
        f"{http_server.url.rstrip('/')}/app.tar.gz",
        unpack_root=tmp_path / "root",
        sha256=hashlib.sha256(data).hexdigest(),
        fetch_cache=tmp_path / "cache",
    )
    prefix = env.prepared().prefix
    assert prefix.parent == tmp_path / "root"
    copy = pickle.loads(pickle.dumps(env))
    assert copy.prepared().prefix == prefix
    assert http_server.requests == ["GET /app.tar.gz"]


def test_the_unpack_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    env = PonchoEnvironment(tmp_path / "file", unpack_root=tmp_path / "file" / "root")
    with pytest.raises(RunError, match="cannot create the unpack folder"):
        env.prepared()
    inside_a_file = PonchoEnvironment(tmp_path / "file" / "env.tar.gz", unpack_root=tmp_path)
    with pytest.raises(RunError, match="cannot read it"):
        inside_a_file.unpack_dir()
    if os.getuid() != 0:
        return
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("PONCHO_DASK_DIR", raising=False)
    theirs = Path(default_unpack_root())
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(RunError, match="belongs to another user"):
        PonchoEnvironment(tmp_path / "file").prepared()


def test_a_changed_tarball_gets_a_new_folder(tarballs: dict[str, Path], tmp_path: Path) -> None:
    tarball = tmp_path / "env.tar.gz"
    tarball.write_bytes(tarballs["app"].read_bytes())
    env = PonchoEnvironment(tarball, unpack_root=tmp_path / "root")
    before = env.unpack_dir()
    os.utime(tarball, ns=(0, 1_000_000_000))
    assert env.unpack_dir() != before
    assert Path(before).name.startswith("env-")


def test_a_missing_tarball(tmp_path: Path) -> None:
    env = PonchoEnvironment(tmp_path / "gone.tar.gz", unpack_root=tmp_path)
    with pytest.raises(EnvironmentNotFound, match="every worker can read"):
        get_environment(env)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tarball": "ftp://host/env.tar.gz"}, "only http"),
        ({"tarball": "env.tar.gz", "sha256": "0" * 64}, "with an http"),
        ({"tarball": "https://host/env.tar.gz", "sha256": "abc"}, "64 hex digits"),
        ({"tarball": "env.tar.gz", "name": ""}, "non-empty"),
        ({"tarball": "env.tar.gz", "wait": -1}, "wait"),
    ],
)
def test_bad_arguments_are_refused_on_the_client(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PonchoEnvironment(**kwargs)


def test_locations_and_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert PonchoEnvironment("env.tar.gz").location == str(tmp_path / "env.tar.gz")
    assert PonchoEnvironment(f"file://{tmp_path}/a%20b.tgz").location == f"{tmp_path}/a b.tgz"
    url = PonchoEnvironment("https://example.org/envs/My%20Env.tar.zst?x=1", sha256="A" * 64)
    assert url.is_url and url.sha256 == "a" * 64
    assert url.env_name.startswith("My_20Env-")
    assert url.name == "poncho:" + url.env_name
    assert repr(url) == f"PonchoEnvironment({url.location!r}, name={url.env_name!r})"
    monkeypatch.setenv("PONCHO_DASK_DIR", "~/dask-envs")
    assert default_unpack_root() == os.path.expanduser("~/dask-envs")
    monkeypatch.delenv("PONCHO_DASK_DIR")
    assert default_unpack_root().endswith(f"poncho-dask-{os.getuid()}")


def test_errors_pickle_and_explain_themselves() -> None:
    assert "killed by signal 200" in str(CommandFailed(["x"], -200, "", "", "e"))
    killed = CommandFailed(["sleep", "9"], -9, "", b"", "e")
    assert "killed by signal SIGKILL (9) (no stderr)" in str(killed)
    long = CommandFailed(["x"], 2, "", "a" * 9000 + "END", "e")
    assert str(long).endswith("a" * 100 + "END") and "[...]" in str(long)
    remote = RemoteError("e", "f", "load", "ImportError", "", "", "a hint")
    for err in (killed, long, remote, CommandFailed(["x"], 200, "", "", "e")):
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err) and str(copy) == str(err)
    assert str(remote) == "environment 'e' could not load f: ImportError\n(a hint)"
    assert isinstance(remote, RunError)
