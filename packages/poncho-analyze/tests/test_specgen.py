from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from poncho_analyze.specgen import Decision, SpecBuilder
from poncho_spec import InvalidSpec, Spec, dumps_spec


def _builder() -> SpecBuilder:
    b = SpecBuilder()
    b.add_pip("requests", "requests==2.31.0")
    b.add_conda("numpy", "numpy=1.26.4", "conda-forge")
    b.add_pip("pyyaml", "PyYAML==6.0.1")
    b.add_conda("Bzip2", "bzip2=1.0.8", "bioconda")
    return b


def test_sorted_deterministic_output() -> None:
    spec = _builder().build("python=3.11.7", "pip=24.0", ["mychan"])
    assert spec.conda.channels == ("mychan", "bioconda", "conda-forge")
    assert spec.conda.dependencies == ("python=3.11.7", "bzip2=1.0.8", "numpy=1.26.4", "pip=24.0")
    assert spec.pip == ("PyYAML==6.0.1", "requests==2.31.0")
    assert dumps_spec(spec) == dumps_spec(_builder().build("python=3.11.7", "pip=24.0", ["mychan"]))


def test_no_pip_and_default_channels() -> None:
    spec = SpecBuilder().build("python=3.12")
    assert spec.conda.dependencies == ("python=3.12",)
    assert spec.conda.channels == ("conda-forge",)


def test_conda_pip_package_is_kept() -> None:
    b = SpecBuilder()
    b.add_conda("pip", "pip=24.0")
    assert b.build("python=3.12").conda.dependencies == ("python=3.12", "pip=24.0")


def test_invalid_entries_are_refused() -> None:
    b = SpecBuilder()
    b.add_conda("bad", "bad>>>1", written=True)
    with pytest.raises(InvalidSpec):
        b.build("python=3.12")


def test_decision_lines() -> None:
    assert Decision("numpy", "conda", "numpy=1.26.4", "conda-meta: numpy.json").line() == (
        "numpy -> conda numpy=1.26.4 (conda-meta: numpy.json)"
    )
    assert Decision("os", "stdlib").line() == "os -> standard library"
    assert Decision("x", "unresolved", reason="nope").line() == "x -> NOT FOUND (nope)"
    assert Decision("n", "note").line() == "n -> note"


def test_specs_made_from_installed_records_equal_validated_ones() -> None:
    builder = SpecBuilder()
    builder.add_conda("numpy", "numpy=1.26.4", "conda-forge")
    builder.add_conda("python", "python=3.12.1=h1_cpython", "conda-forge")
    builder.add_pip("pyyaml", "PyYAML==6.0.1")
    builder.add_pip("dask", "dask==2024.1.0")
    fast = builder.build("python=3.12.1", "pip=24.0")
    checked = Spec.from_dict(fast.to_dict())
    assert fast == checked and fast.hash() == checked.hash()
    assert fast.to_dict() == checked.to_dict()
    assert fast.pip == ("dask==2024.1.0", "PyYAML==6.0.1")
    builder.add_conda("bad", "bad>>>1", written=True)  # what a user wrote is checked
    with pytest.raises(InvalidSpec, match="bad>>>1"):
        builder.build("python=3.12.1")


def test_an_analysis_of_installed_packages_does_not_import_rattler(tmp_path: Path) -> None:
    pytest.importorskip("rattler")  # what is avoided must be there to be avoided
    job = tmp_path / "job.py"
    job.write_text("import libcst\n")
    code = (
        "import sys; from poncho_analyze.cli import main; "
        f"code = main([{str(job)!r}, '-', '-q']); "
        "assert 'rattler' not in sys.modules, 'rattler imported'; sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
