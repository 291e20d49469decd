"""poncho_run.dask on a real ``distributed.LocalCluster`` of worker processes.

The tarballs are real conda-pack archives of environments that py-rattler installed from the
local test channel, made by poncho-testing's ``build_env_tarball``, not by
``poncho_package_create``: poncho-run's tests must not depend on poncho-create (Dask on
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

import importlib.util
import logging
import os
import pickle
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from poncho_run import CommandNotFound, EnvironmentNotFound, RunError
from poncho_run.dask import (
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
            dashboard_address=None,
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


def test_what_the_environment_cannot_load_or_return(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    # The worker can import run_command, the environment cannot: pickled by reference, it
    # fails to load there.
    future = client.submit(run_function, run_command, ["true"], env="app", pure=False)
    with pytest.raises(RemoteError, match="No module named 'poncho_run'") as info:
        future.result()
    assert (info.value.stage, info.value.exc_type) == ("load", "ModuleNotFoundError")
    assert "register_pickle_by_value" in info.value.hint

    lock = client.submit(run_function, "threading:Lock", env="app", pure=False)
    with pytest.raises(RemoteError, match="could not return") as info:
        lock.result()
    assert (info.value.stage, info.value.exc_type) == ("return", "TypeError")

    token = client.submit(run_function, "poncho_dask_only:make_token", env="cp", pure=False)
    with pytest.raises(RemoteError, match="cannot be loaded on the worker") as info:
        token.result()
    assert info.value.stage == "return"


def test_an_interpreter_that_dies_without_answering(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    future = client.submit(run_function, "os:_exit", 7, env="app", pure=False)
    with pytest.raises(RemoteError, match="exited with status 7 before answering") as info:
        future.result()
    assert info.value.stage == "start"


def test_naming_environments_on_the_workers(
    client: Any, envs: dict[str, PonchoEnvironment]
) -> None:
    with pytest.raises(EnvironmentNotRegistered, match=r"'nope'.*registered: app, cp"):
        client.submit(run_command, ["true"], env="nope", pure=False).result()
    with pytest.raises(EnvironmentNotRegistered, match=r"several.*\(app, cp\)"):
        client.submit(run_command, ["true"], pure=False).result()


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
    done = run_command("python -c 'import sys; print(sys.stdin.read().upper())'", env, input="hi")
    assert done == CompletedCommand(done.argv, 0, "HI\n", "")
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
    assert copy.prepared().prefix == prepared.prefix
    assert copy.unpack_dir() == str(prepared.prefix)


def test_an_unpacked_folder_is_used_in_place(tarballs: dict[str, Path], unpack_root: Path) -> None:
    first = get_environment(PonchoEnvironment(tarballs["app"], unpack_root=unpack_root))
    in_place = PonchoEnvironment(first.prefix)
    assert get_environment(in_place).prefix == first.prefix


def test_an_environment_without_python(tmp_path: Path) -> None:
    tarball = tmp_path / "nopython.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("bin/hello")
        body = b"#!/bin/sh\necho hello\n"
        info.size, info.mode = len(body), 0o755
        tar.addfile(info, __import__("io").BytesIO(body))
    env = PonchoEnvironment(tarball, name="bare", unpack_root=tmp_path / "root")
    assert run_command(["hello"], env).stdout == "hello\n"
    with pytest.raises(EnvironmentIncomplete, match="'bare' has no python"):
        run_function("os:getpid", env=env)


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
