"""The whole pipeline as a user meets it: analyze in the user's environment, create, and run
on a 'worker' that has only poncho-run, the tarball and the script."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import Venv, sh

DATA = Path(__file__).parent / "data"

# script -> (what its output must contain, packages its spec must pin)
SCRIPTS = {
    "task_conda.py": ("conda-task poncho_demo_app", {"poncho-demo-app"}),
    "task_pip.py": ('"pip-task": "poncho_demo_piptop"', {"poncho-demo-core", "poncho-demo-piptop"}),
    "task_notebook.ipynb": (
        "notebook-task poncho_demo_app poncho_demo_piptop",
        {"poncho-demo-app", "poncho-demo-piptop"},
    ),
}


def _names(spec: dict[str, object]) -> set[str]:
    deps = spec["conda"]["dependencies"]  # type: ignore[index]
    names = {d.split("=")[0] for d in deps if isinstance(d, str)}
    for d in deps:
        if isinstance(d, dict):
            names |= {p.split("==")[0] for p in d["pip"]}
    return names


def _notebook_as_script(notebook: Path, dest: Path) -> Path:
    """The worker runs the notebook's code cells (minus magics) as a script."""
    cells = json.loads(notebook.read_text())["cells"]
    code = [
        "".join(line for line in c["source"] if not line.startswith(("%", "!")))
        for c in cells
        if c["cell_type"] == "code"
    ]
    dest.write_text("\n".join(code))
    return dest


def _create_and_run(
    spec: Path, script: str, full_venv: Venv, run_venv: Venv, wheelhouse: object, tmp_path: Path
) -> str:
    """poncho_package_create SPEC into a cache folder, then poncho_package_run the script
    with the tarball on a 'worker' folder holding only the script; returns its output."""
    envs = tmp_path / "envs"
    create = [
        full_venv.script("poncho_package_create"),
        "--cache-dir",
        envs,
        "--no-index",
        "--find-links",
        wheelhouse.path,
        spec,
    ]  # type: ignore[attr-defined]
    tarball = Path(sh(create, env=full_venv.env()).stdout.strip().splitlines()[-1])
    assert tarball.parent == envs and tarball.is_file()

    worker = tmp_path / "worker"
    worker.mkdir()
    if script.endswith(".ipynb"):
        task = _notebook_as_script(DATA / script, worker / "task.py")
    else:
        task = Path(shutil.copy2(DATA / script, worker / script))
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", tarball, "--", task.name],
        cwd=worker,
        env=run_venv.env(),
    )
    return proc.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_analyze_create_run(
    script: str, user_env: Venv, full_venv: Venv, run_venv: Venv, wheelhouse: object, tmp_path: Path
) -> None:
    expected_output, expected_packages = SCRIPTS[script]
    spec = tmp_path / "spec.json"
    sh([user_env.script("poncho_package_analyze"), DATA / script, spec], env=user_env.env())
    data = json.loads(spec.read_text())
    assert expected_packages <= _names(data)
    assert any(d.startswith("python=") for d in data["conda"]["dependencies"] if isinstance(d, str))
    output = _create_and_run(spec, script, full_venv, run_venv, wheelhouse, tmp_path)
    assert expected_output in output


# analyze options that change how the spec is written -> what every conda entry looks like
FORM_OPTIONS = {
    # name=version=build, as CCTools' analyzer and its man page write them
    "build-strings": (["--build-strings"], r"[a-z0-9_.\-]+=[^=\s]+=[^=\s]+"),
    "python": (["--python", "{minor}"], r"[a-z0-9_.\-]+=[^=\s]+"),
    "extra-conda-spec": (
        ["--build-strings", "--extra-pkg", "conda:poncho-demo-activate 0.1.0 pyh0_poncho"],
        r"[a-z0-9_.\-]+(=[^=\s]+=[^=\s]+| 0\.1\.0 pyh0_poncho)",
    ),
}


@pytest.mark.parametrize("form", sorted(FORM_OPTIONS))
def test_analyze_options_that_change_the_spec_form_create_and_run(
    form: str,
    user_env: Venv,
    full_venv: Venv,
    run_venv: Venv,
    wheelhouse: object,
    local_channel: object,
    tmp_path: Path,
) -> None:
    """Whatever form analyze writes its pins in, create builds it and run runs the task."""
    options, entry = FORM_OPTIONS[form]
    minor = ".".join(local_channel.python_version.split(".")[:2])  # type: ignore[attr-defined]
    argv = [o.format(minor=minor) for o in options]
    spec = tmp_path / "spec.json"
    script = "task_pip.py"
    sh([user_env.script("poncho_package_analyze"), *argv, DATA / script, spec], env=user_env.env())
    deps = json.loads(spec.read_text())["conda"]["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    assert conda and all(re.fullmatch(entry, d) for d in conda), conda
    if form == "python":
        assert conda[0] == f"python={minor}"
    output = _create_and_run(spec, script, full_venv, run_venv, wheelhouse, tmp_path)
    assert '"pip-task": "poncho_demo_piptop", "core": true' in output


def test_analyze_from_outside_with_interpreter(
    user_env: Venv, full_venv: Venv, tmp_path: Path
) -> None:
    """--interpreter inspects another environment: same spec as analysing from inside it."""
    inside = sh(
        [user_env.script("poncho_package_analyze"), DATA / "task_conda.py", "-"], env=user_env.env()
    ).stdout
    outside = sh(
        [
            full_venv.script("poncho_package_analyze"),
            "--interpreter",
            user_env.python,
            DATA / "task_conda.py",
            "-",
        ],
        env=full_venv.env(),
    ).stdout
    assert inside == outside
    assert "poncho-demo-app" in inside


def test_umbrella_command_runs_the_same_pipeline(
    user_env: Venv, run_venv: Venv, wheelhouse: object, tmp_path: Path
) -> None:
    """`poncho analyze|create|run` are the per-package commands."""
    spec = tmp_path / "spec.json"
    poncho = user_env.script("poncho")
    sh([poncho, "analyze", DATA / "task_conda.py", spec], env=user_env.env())
    tarball = tmp_path / "env.tar.zst"
    sh(
        [poncho, "create", "--quiet", "--no-index", "--find-links", wheelhouse.path, spec, tarball],  # type: ignore[attr-defined]
        env=user_env.env(),
    )
    proc = sh(
        [poncho, "run", "-e", tarball, "--", "python", DATA / "task_conda.py"], env=user_env.env()
    )
    assert "conda-task poncho_demo_app" in proc.stdout
