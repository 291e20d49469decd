"""Packages the user names (--extra-pkg, --pkg-mapping) are written as asked (seams 17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze import Analysis, analyze
from poncho_analyze.errors import AnalyzeError
from poncho_analyze.mapping import Environment

CHANNEL = "file:///work/channel/noarch"
SP = "lib/python3.11/site-packages"


@pytest.fixture
def env(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    conda_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> Environment:
    """A conda environment: python 3.11.7, pip, and hello-poncho from conda (with the
    dist-info conda installs); attrs is a conda package without a dist-info."""
    prefix = tmp_path / "env"
    site = prefix / SP
    conda_writer(prefix, "python", "3.11.7", "host_0", CHANNEL, ["lib/python3.11/os.py"])
    conda_writer(prefix, "pip", "23.2.1", "pyh_0", CHANNEL, [f"{SP}/pip/__init__.py"])
    meta = dist_writer(
        site, "hello-poncho", "0.1.0", {"hello_poncho/__init__.py": ""}, installer="conda"
    )
    conda_writer(
        prefix,
        "hello-poncho",
        "0.1.0",
        "pyh_0",
        CHANNEL,
        [f"{SP}/hello_poncho/__init__.py", f"{SP}/{meta.name}/METADATA"],
    )
    conda_writer(prefix, "attrs", "23.2.0", "pyh_0", CHANNEL, [f"{SP}/attr/__init__.py"])
    return make_env(prefix, site, version="3.11.7")


def _job(tmp_path: Path, text: str = "import hello_poncho\n") -> Path:
    job = tmp_path / "task.py"
    job.write_text(text)
    return job


def _reason(result: Analysis, module: str) -> str:
    (decision,) = [d for d in result.decisions if d.module == module]
    return f"{decision.requirement} ({decision.reason})"


def test_extra_conda_python_sets_the_python_pin(tmp_path: Path, env: Environment) -> None:
    result = analyze([_job(tmp_path)], environment=env, extra_pkgs=["conda:python=3.12"])
    assert result.spec.conda.dependencies[0] == "python=3.12"
    assert "python=3.11.7" not in result.spec.conda.dependencies
    assert _reason(result, "conda:python=3.12") == (
        "python=3.12 (--extra-pkg conda:python=3.12, as written: the spec's Python)"
    )
    # the same as --python: the target whose standard library is left out
    same = analyze([_job(tmp_path)], environment=env, python_version="3.12")
    assert same.spec.conda.dependencies == result.spec.conda.dependencies
    # conda's space-separated form is the same request
    spaced = analyze([_job(tmp_path)], environment=env, extra_pkgs=["conda:python 3.12"])
    assert spaced.spec.conda.dependencies[0] == "python 3.12"
    assert spaced.spec.conda.dependencies[1:] == result.spec.conda.dependencies[1:]
    # a range is written as given
    ranged = analyze([_job(tmp_path)], environment=env, extra_pkgs=["conda:python>=3.10,<3.13"])
    assert ranged.spec.conda.dependencies[0] == "python>=3.10,<3.13"
    # agreeing with --python, more precise: fine; another Python: refused
    both = analyze(
        [_job(tmp_path)], environment=env, python_version="3.12", extra_pkgs=["conda:python=3.12.1"]
    )
    assert both.spec.conda.dependencies[0] == "python=3.12.1"
    with pytest.raises(AnalyzeError, match=r"--extra-pkg conda:python=3\.12 and --python 3\.11"):
        analyze(
            [_job(tmp_path)],
            environment=env,
            python_version="3.11",
            extra_pkgs=["conda:python=3.12"],
        )


def test_extra_python_without_a_version_keeps_the_installed_pin(
    tmp_path: Path, env: Environment
) -> None:
    for extra in ("python", "conda:python"):
        result = analyze([_job(tmp_path)], environment=env, extra_pkgs=[extra])
        assert result.spec.conda.dependencies[0] == "python=3.11.7"
    with pytest.raises(AnalyzeError, match=r"Python is not a pip package; write conda:python"):
        analyze([_job(tmp_path)], environment=env, extra_pkgs=["python==3.12"])


def test_pkg_mapping_pip_gives_a_pip_entry(tmp_path: Path, env: Environment) -> None:
    job = _job(tmp_path, "import hello_poncho\nimport attr\n")
    result = analyze(
        [job],
        environment=env,
        pkg_mapping={"hello_poncho": "pip:hello-poncho", "attr": "pip:attrs"},
    )
    assert result.spec.pip == ("attrs==23.2.0", "hello-poncho==0.1.0")
    assert not any(d.startswith(("hello-poncho=", "attrs=")) for d in _strings(result))
    assert _reason(result, "hello_poncho").startswith("hello-poncho==0.1.0 (--pkg-mapping ")
    assert "pinned to the version conda installed" in _reason(result, "attr")
    # without pip: the installed conda package, as before
    plain = analyze([job], environment=env, pkg_mapping={"hello_poncho": "hello-poncho"})
    assert "hello-poncho=0.1.0" in _strings(plain)
    # conda: and pip: with extras and versions are written as given
    extra = analyze([job], environment=env, extra_pkgs=["pip:hello-poncho[x]"])
    assert "hello-poncho[x]==0.1.0" in extra.spec.pip


def _strings(result: Analysis) -> list[str]:
    deps = result.spec.conda.dependencies
    return [d for d in deps if isinstance(d, str)]
