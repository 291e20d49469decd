"""The corpus of real-world-shaped scripts (tests/data/corpus), each analysed in a real
virtual environment where pip installed real wheels from a local wheelhouse, and an
editable project: each gives the exact spec.

The wheels carry the names and the import layout of the distributions the scripts use
(``yaml`` from PyYAML, ``sklearn`` from scikit-learn, the ``google`` namespace of
protobuf, dask's ``distributed`` shim and its extras), with tiny contents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_analyze import analyze
from poncho_analyze.errors import ParseFailed
from poncho_analyze.mapping import Environment

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "data" / "corpus"
DASK_SHIM = b"""\
try:
    from distributed import *
except ImportError as e:
    if e.msg == "No module named 'distributed'":
        raise ImportError("install dask[distributed]") from e
    else:
        raise
"""
# name, version, files (path -> source), requirements
WHEELS: list[tuple[str, str, dict[str, bytes], list[str]]] = [
    ("numpy", "1.26.4", {"numpy/__init__.py": b""}, []),
    ("pandas", "2.2.0", {"pandas/__init__.py": b"import numpy\n"}, ["numpy>=1.22"]),
    ("SQLAlchemy", "2.0.25", {"sqlalchemy/__init__.py": b""}, []),
    ("PyYAML", "6.0.1", {"yaml/__init__.py": b""}, []),
    ("requests", "2.31.0", {"requests/__init__.py": b""}, []),
    ("beautifulsoup4", "4.12.3", {"bs4/__init__.py": b""}, []),
    ("tqdm", "4.66.1", {"tqdm/__init__.py": b""}, []),
    ("dask", "2024.1.0", {
        "dask/__init__.py": b"",
        "dask/distributed.py": DASK_SHIM,
        "dask/array/__init__.py": b"import numpy as np\nfrom dask.array.core import Array\n",
        "dask/array/core.py": b"",
    }, ["distributed==2024.1.0; extra == 'distributed'", "numpy>=1.21; extra == 'array'"]),
    ("distributed", "2024.1.0", {"distributed/__init__.py": b"import dask\n"}, ["dask"]),
    ("scikit-learn", "1.4.0", {
        f"sklearn/{sub}__init__.py": b""
        for sub in ("", "datasets/", "ensemble/", "metrics/", "model_selection/", "linear_model/")
    }, ["numpy>=1.19", "joblib>=1.2"]),
    ("joblib", "1.3.2", {"joblib/__init__.py": b""}, []),
    ("matplotlib", "3.8.2", {
        "matplotlib/__init__.py": b"", "matplotlib/pyplot.py": b"import numpy as np\n",
    }, ["numpy>=1.21"]),
    ("click", "8.1.7", {"click/__init__.py": b""}, []),
    ("rich", "13.7.0", {"rich/__init__.py": b"", "rich/console.py": b"", "rich/table.py": b""},
     []),
    ("tomli", "2.0.1", {"tomli/__init__.py": b""}, []),
    ("Flask", "3.0.1", {"flask/__init__.py": b"import jinja2\n"}, ["Jinja2>=3.1"]),
    ("Jinja2", "3.1.3", {"jinja2/__init__.py": b""}, []),
    ("boto3", "1.34.20", {"boto3/__init__.py": b"import botocore\n"}, ["botocore>=1.34"]),
    ("botocore", "1.34.20", {"botocore/__init__.py": b"", "botocore/exceptions.py": b""}, []),
    ("python-dateutil", "2.8.2", {
        "dateutil/__init__.py": b"", "dateutil/tz.py": b"", "dateutil/relativedelta.py": b"",
    }, []),
    ("protobuf", "4.25.2", {
        "google/protobuf/__init__.py": b"", "google/protobuf/json_format.py": b"",
    }, []),
    ("httpx", "0.26.0", {"httpx/__init__.py": b""}, []),
    ("tabulate", "0.9.0", {"tabulate/__init__.py": b""}, []),
    ("attrs", "23.2.0", {"attrs/__init__.py": b"", "attr/__init__.py": b""}, []),
    ("networkx", "3.2.1", {"networkx/__init__.py": b""}, []),
]  # fmt: skip


@pytest.fixture(scope="session")
def user_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Environment, Path]:
    """A user's venv: every wheel above installed by pip, and ``mylab`` in editable mode
    from a folder beside the corpus copy."""
    from poncho_testing import make_local_project
    from poncho_testing._wheel import write_wheel

    root = tmp_path_factory.mktemp("corpus-env")
    house = root / "wheels"
    for name, version, files, requires in WHEELS:
        write_wheel(house, name, version, files, requires=requires)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(house)]
    subprocess.run([*pip, *(w[0] for w in WHEELS)], check=True, capture_output=True)
    project = make_local_project(root / "mylab", "mylab")
    subprocess.run([*pip, "-e", str(project)], check=True, capture_output=True)
    return Environment.from_python(python), root


def _run(env: tuple[Environment, Path], script: str, **options: Any) -> Any:
    environment, root = env
    return analyze(
        [CORPUS / script], environment=environment, spec_path=root / "spec.json", **options
    )


def _pip(result: Any) -> list[str]:
    return list(result.spec.pip)


def test_an_etl_job_with_its_own_helpers(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "etl/load_sales.py")
    assert _pip(result) == ["numpy==1.26.4", "pandas==2.2.0", "PyYAML==6.0.1", "SQLAlchemy==2.0.25"]
    assert result.warnings == ()
    (notice,) = result.notices
    assert f"  utils (project code {CORPUS / 'etl' / 'utils'}/, imported at " in notice


def test_a_scraper_with_an_optional_parser(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "scrape_listings.py")
    assert _pip(result) == ["beautifulsoup4==4.12.3", "requests==2.31.0", "tqdm==4.66.1"]
    assert {d.module: d.outcome for d in result.decisions}["lxml"] == "optional"


def test_dask_distributed_brings_distributed(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "dask_cluster.py")
    assert _pip(result) == ["dask==2024.1.0", "distributed==2024.1.0", "numpy==1.26.4"]


def test_type_checking_imports_are_not_needed(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "train_model.py")
    assert _pip(result) == [
        "joblib==1.3.2", "matplotlib==3.8.2", "numpy==1.26.4", "scikit-learn==1.4.0",
    ]  # fmt: skip
    assert {d.module: d.outcome for d in result.decisions}["pandas"] == "dropped"


def test_version_and_platform_branches(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "release_notes.py")
    tomli = ["tomli==2.0.1"] if sys.version_info < (3, 11) else []
    assert _pip(result) == ["click==8.1.7", "rich==13.7.0", *tomli]
    dropped = {d.module for d in result.decisions if d.outcome == "dropped"}
    assert {"colorama", "winreg"} <= dropped
    assert result.warnings == ()


def test_a_package_module_with_relative_imports(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "shop/app.py")
    assert _pip(result) == ["Flask==3.0.1", "Jinja2==3.1.3"]
    (notice,) = result.notices
    assert "  .models (relative import" in notice
    assert f"  shop (project code {CORPUS / 'shop'}/" in notice


def test_namespace_packages_and_a_generated_module(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "s3_backup.py")
    assert _pip(result) == [
        "boto3==1.34.20", "botocore==1.34.20", "protobuf==4.25.2", "python-dateutil==2.8.2",
    ]  # fmt: skip
    (warning,) = result.warnings
    assert "  events_pb2 (imported at " in warning


def test_pep_723_metadata_pinned_as_installed(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "fetch_status.py")
    assert _pip(result) == ["attrs==23.2.0", "httpx==0.26.0", "tabulate==0.9.0"]


def test_dynamic_imports_with_literal_names(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "plugins.py")
    assert _pip(result) == ["networkx==3.2.1", "PyYAML==6.0.1"]
    notes = [d for d in result.decisions if d.outcome == "note"]
    assert len(notes) == 1 and "computed name" in notes[0].reason


def test_an_editable_project_becomes_its_folder(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "lab_job.py")
    assert _pip(result) == ["./mylab", "numpy==1.26.4"]


def test_a_notebook(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "explore.ipynb")
    assert _pip(result) == ["matplotlib==3.8.2", "pandas==2.2.0", "scikit-learn==1.4.0"]


def test_python_2_source_is_refused_with_strict(user_env: tuple[Environment, Path]) -> None:
    with pytest.raises(ParseFailed, match=r"legacy_report\.py:12:.*this is Python 2 source"):
        _run(user_env, "legacy_report.py", strict=True)


def test_python_2_source_is_read_as_well_as_can_be(user_env: tuple[Environment, Path]) -> None:
    result = _run(user_env, "legacy_report.py")
    assert _pip(result) == []  # os, smtplib: standard library; urllib2: Python 2's
    (unparsable, unresolved) = result.warnings
    assert unparsable.startswith(f"{CORPUS / 'legacy_report.py'}:12: this is Python 2 source")
    assert "urllib2 (imported at " in unresolved
