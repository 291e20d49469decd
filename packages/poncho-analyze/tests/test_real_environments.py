"""Mapping against real installed environments: a venv with wheels from the local
wheelhouse, and a conda prefix installed by rattler from the local channel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_analyze import analyze
from poncho_analyze.mapping import Environment, normalize_channel
from poncho_spec import dumps_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Any) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheelhouse.path),
            "poncho-demo-piptop",
        ],
        check=True,
        capture_output=True,
    )
    return python


def test_pip_packages_from_a_real_venv(wheel_venv: Path, tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text("import poncho_demo_piptop\nfrom poncho_demo_pipbase import VALUE\nimport pip\n")
    env = Environment.from_python(wheel_venv)
    result = analyze([job], environment=env)
    pins = dict(p.split("==") for p in result.spec.pip)
    assert set(pins) == {"poncho-demo-piptop", "poncho-demo-pipbase", "pip"}
    assert result.spec.conda.dependencies == (f"python={env.python_version}", "pip")
    assert dumps_spec(result.spec) == dumps_spec(analyze([job], environment=env).spec)


@pytest.fixture(scope="session")
def conda_prefix(tmp_path_factory: pytest.TempPathFactory, local_channel: Any) -> Path:
    from poncho_testing.envs import install_prefix

    prefix = tmp_path_factory.mktemp("conda") / "env"
    install_prefix(local_channel, ["python", "pip", "poncho-demo-app"], prefix)
    return prefix


def test_conda_packages_from_a_real_prefix(
    conda_prefix: Path, local_channel: Any, tmp_path: Path
) -> None:
    job = tmp_path / "job.py"
    job.write_text("import poncho_demo_app\nimport poncho_demo_core\nimport json\n")
    env = Environment.from_python(conda_prefix / "bin" / "python")
    result = analyze([job], environment=env)
    core = local_channel.packages["poncho-demo-core"]
    app = local_channel.packages["poncho-demo-app"]
    assert result.spec.conda.dependencies == (
        f"python={local_channel.python_version}",
        f"poncho-demo-app={app}",
        f"poncho-demo-core={core}",
    )
    assert result.spec.conda.channels == (normalize_channel(local_channel.url),)
    reasons = {d.module: d.reason for d in result.decisions}
    assert reasons["poncho_demo_core"].startswith("conda-meta: poncho-demo-core-")
