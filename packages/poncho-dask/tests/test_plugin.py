"""`PonchoEnvironment`: prepared once per node on every worker, found by the tasks."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pytest
from dask.base import tokenize

from poncho_dask import (
    CommandFailed,
    CompletedCommand,
    EnvironmentNotRegistered,
    PonchoEnvironment,
    default_unpack_root,
    get_environment,
    run_command,
    run_function,
)
from poncho_dask_helpers import SHOW_PREFIX, on_each_worker, unpacks
from poncho_run import EnvironmentNotFound, RunError

pytestmark = pytest.mark.slow


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
    # Other tests unpack these tarballs elsewhere (their own roots): count the cluster's.
    lines = [line for line in unpacks(unpack_log) if Path(line).parent == unpack_root]
    assert sorted(lines) == sorted(set(lines))
    assert len(lines) == 2
    folders = sorted(p.name for p in unpack_root.iterdir() if p.is_dir() and p.name[0] != ".")
    assert [Path(line).name for line in sorted(lines)] == folders


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
