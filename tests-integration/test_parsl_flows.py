"""The exact calls Parsl and TaskVine make on the submit side, and what their workers do with
the result. Parsl's TaskVine executor needs ndcctools (not on PyPI), so the test makes its
subprocess calls itself, with the same arguments as Parsl's `taskvine/executor.py` and
`taskvine/manager.py` (Parsl 2026.10.26).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import Venv, sh


@pytest.fixture(scope="module")
def conda_env(
    tmp_path_factory: pytest.TempPathFactory,
    full_venv: Venv,
    local_channel: object,
    wheelhouse: object,
) -> Path:
    """A user's conda environment (conda packages and a pip package), built once."""
    spec = tmp_path_factory.mktemp("parsl-spec") / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "conda": {
                    "channels": [local_channel.url],  # type: ignore[attr-defined]
                    "dependencies": [
                        "python",
                        "pip",
                        "poncho-demo-app",
                        {"pip": ["poncho-demo-piptop"]},
                    ],
                }
            }
        )
    )
    base = tmp_path_factory.mktemp("parsl-user")
    prefix = base / "envs" / "parsl-demo"
    sh(
        [
            full_venv.script("poncho_package_create"),
            "--quiet",
            "--no-index",
            "--find-links",
            wheelhouse.path,  # type: ignore[attr-defined]
            "--keep-prefix",
            prefix,
            spec,
            base / "unused.tar.gz",
        ],
        env=full_venv.env(),
    )
    return prefix


def _which(venv: Venv, name: str) -> str:
    """shutil.which, as Parsl looks the commands up on the submit side."""
    found = shutil.which(name, path=venv.env()["PATH"])
    assert found is not None, f"{name} is not on PATH"
    return found


def test_taskvine_env_pack_with_an_env_dir(
    conda_env: Path, full_venv: Venv, tmp_path: Path
) -> None:
    # parsl/executors/taskvine/manager.py: env_pack=<conda env dir>; the output file exists.
    fd, out_name = tempfile.mkstemp(suffix=".tar.gz", dir=tmp_path)
    os.close(fd)
    out = Path(out_name)
    assert out.stat().st_size == 0
    subprocess.run(
        [_which(full_venv, "poncho_package_create"), str(conda_env), str(out)],
        check=True, env=full_venv.env(), capture_output=True,
    )  # fmt: skip
    assert out.stat().st_size > 0

    # The worker, as TaskVine's declare_poncho: unpack, call run_in_env once with no
    # arguments, then run tasks through it, with nothing of ours on PATH.
    worker = tmp_path / "worker"
    worker.mkdir()
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(
        f"mkdir output && tar xf {out} -C output && output/bin/run_in_env",
        shell=True, cwd=worker, env=bare, check=False,
    )  # fmt: skip
    task = sh(
        [
            worker / "output" / "bin" / "run_in_env",
            "sh",
            "-c",
            '"${PONCHO_PREFIX:+${PONCHO_PREFIX}/bin/}python3" -c '
            '"import poncho_demo_app, poncho_demo_piptop, sys; print(sys.prefix)"',
        ],
        env=bare,
    )
    assert Path(task.stdout.strip()).resolve() == (worker / "output").resolve()
    app = sh([worker / "output" / "bin" / "run_in_env", "poncho-demo-app"], env=bare)
    assert "poncho-demo-app" in app.stdout
    with tarfile.open(out) as tar:
        lock = json.loads(tar.extractfile("poncho/lock.json").read())  # type: ignore[union-attr]
    assert "poncho-demo-piptop" in {e["name"] for e in lock["pip"]}


def test_env_pack_by_name_then_poncho_package_run(
    conda_env: Path, full_venv: Venv, run_venv: Venv, tmp_path: Path
) -> None:
    # env_pack=<conda env name>: resolved among CONDA_PREFIX's siblings, as conda does.
    out = tmp_path / "by-name.tar.gz"
    env = full_venv.env(CONDA_PREFIX=str(conda_env.parent / "other"), HOME=str(tmp_path))
    sh([_which(full_venv, "poncho_package_create"), "parsl-demo", out], env=env)
    run = sh(
        [run_venv.script("poncho_package_run"), "-e", out, "-u", tmp_path / "u", "--",
         "python", "-c", "import poncho_demo_piptop; print('ok')"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert run.stdout.strip() == "ok"


def test_work_queue_executor_finds_the_old_names(
    full_venv: Venv, demo_spec: Path, tmp_path: Path
) -> None:
    # parsl/executors/workqueue/executor.py looks up python_package_create with shutil.which.
    out = tmp_path / "pack-0123.tar.gz"
    sh([_which(full_venv, "python_package_create"), demo_spec, out], env=full_venv.env())
    with tarfile.open(out) as tar:
        assert "bin/run_in_env" in tar.getnames()


def test_taskvine_app_pack_create_call(demo_spec: Path, full_venv: Venv, tmp_path: Path) -> None:
    # app_pack=True: the spec poncho_package_analyze wrote (JSON) sits in a .yaml file, and
    # the output is an existing, empty temporary file.
    spec = tmp_path / "spec.yaml"
    spec.write_text(demo_spec.read_text())
    fd, out_name = tempfile.mkstemp(prefix=".tmp", suffix=".tar.gz", dir=tmp_path)
    os.close(fd)
    subprocess.run(
        [_which(full_venv, "poncho_package_create"), str(spec), out_name],
        check=True, env=full_venv.env(), capture_output=True,
    )  # fmt: skip
    with tarfile.open(out_name) as tar:
        assert "bin/run_in_env" in tar.getnames()
