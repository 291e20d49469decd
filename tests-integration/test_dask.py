"""poncho-dask from the built wheels runs work inside a tarball made by poncho-create on a
real LocalCluster (worker processes), as a user's client script does."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Venv, make_venv, sh

CLIENT = r"""
import json, sys
from distributed import Client, LocalCluster
from poncho_dask import CommandFailed, PonchoEnvironment, run_command, run_function

def main(tarball, root):
    env = PonchoEnvironment(tarball, name="demo", unpack_root=root)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.register_plugin(env)
        app = client.submit(run_command, ["poncho-demo-app"], env="demo", pure=False).result()
        prefixes = client.gather([
            client.submit(run_function, "sysconfig:get_config_var", "prefix", env="demo",
                          pure=False, workers=[w])
            for w in client.scheduler_info()["workers"]
        ])
        greeting = client.submit(run_function, "poncho_demo_core:greet", "dask",
                                 env="demo", pure=False).result()
        try:
            client.submit(run_command, ["python", "-c", "import sys; sys.exit('no input')"],
                          env="demo", pure=False).result()
            failed = None
        except CommandFailed as err:
            failed = [err.returncode, err.stderr.strip()]
        worker_has_demo = client.submit(
            lambda: __import__("importlib.util").util.find_spec("poncho_demo_app") is not None
        ).result()
    print(json.dumps({"app": app.stdout, "prefixes": prefixes, "greeting": greeting,
                      "failed": failed, "worker_has_demo": worker_has_demo}))

if __name__ == "__main__":
    main(*sys.argv[1:3])
"""


@pytest.fixture(scope="module")
def dask_dist(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Path:
    """The published wheels plus poncho-dask's, built from packages/ in this run."""
    out = tmp_path_factory.mktemp("dask-dist")
    for wheel in dist.glob("*.whl"):
        shutil.copy2(wheel, out)
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out]
    sh([*build, ROOT / "packages" / "poncho-dask"])
    assert len(list(out.glob("poncho_dask-*.whl"))) == 1
    return out


@pytest.fixture(scope="module")
def dask_venv(tmp_path_factory: pytest.TempPathFactory, dask_dist: Path) -> Venv:
    """`pip install poncho-dask`, as on the client and on every worker."""
    path = tmp_path_factory.mktemp("venvs") / "dask"
    return make_venv(path, "poncho-dask", find_links=dask_dist)


def test_dask_cluster_runs_inside_a_poncho_create_tarball(
    dask_venv: Venv, demo_tarball: Path, tmp_path: Path
) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    root = tmp_path / "node-local"
    proc = sh([dask_venv.python, script, demo_tarball, root], cwd=tmp_path, env=dask_venv.env())
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "poncho-demo-app" in result["app"]
    # Both workers used the one copy unpacked under the node-local root.
    unpacked = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".poncho-store-")]
    assert len(unpacked) == 1
    assert {Path(p) for p in result["prefixes"]} == {unpacked[0].resolve()}
    assert "dask" in result["greeting"]
    assert result["failed"][0] != 0 and "no input" in result["failed"][1]
    # The package lives only in the environment, not in the worker's own Python.
    assert result["worker_has_demo"] is False
    assert not dask_venv.has_module("poncho_demo_app")
