"""Fixtures for poncho-dask's tests: two real environment tarballs and the Dask clusters.

The clusters: a ``distributed.LocalCluster`` of three worker processes (one node), and one of
a single in-process worker.

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

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from poncho_dask import PonchoEnvironment

sys.path.insert(0, str(Path(__file__).parent))

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


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def unpack_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The unpack-counting file, named in the environment the workers inherit."""
    path = tmp_path_factory.mktemp("count") / "unpacks.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(COUNT_VAR, str(path))
        yield path


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def client(cluster: Any) -> Any:
    return cluster[1]


@pytest.fixture(scope="session")
def unpack_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("unpack-root")


@pytest.fixture(scope="session")
def envs(client: Any, tarballs: dict[str, Path], unpack_root: Path) -> dict[str, PonchoEnvironment]:
    """Both environments, registered on the cluster."""
    registered = {
        name: PonchoEnvironment(tarball, name=name, unpack_root=unpack_root, wait=60)
        for name, tarball in tarballs.items()
    }
    for plugin in registered.values():
        client.register_plugin(plugin)
    return registered


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def here(tarballs: dict[str, Path], unpack_root: Path) -> dict[str, PonchoEnvironment]:
    """The two environments as objects, prepared in this process when first used."""
    return {
        name: PonchoEnvironment(tarball, name=name, unpack_root=unpack_root)
        for name, tarball in tarballs.items()
    }
