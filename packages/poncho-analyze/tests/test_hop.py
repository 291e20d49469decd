"""One hop into installed code: a test per re-export pattern (shapes taken from dask,
and from the packages that wrap an optional backend the same ways)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze import analyze
from poncho_analyze.mapping import Environment

SHIM_STAR = "from backend import *\n"
SHIM_RERAISE = """\
try:
    from backend import *
except ImportError as e:
    if e.msg == "No module named 'backend'":
        msg = "Please install the backend: pip install 'front[backend]'"
        raise ImportError(msg) from e
    else:
        raise
"""
SUBPACKAGE = '"""The fast engine."""\nfrom backend.core import Engine\n\n__all__ = ["Engine"]\n'
OPTIONAL = "try:\n    import backend\nexcept ImportError:\n    backend = None\n"
LAZY = "def engine():\n    import backend\n\n    return backend.core.Engine()\n"
DEAD = "import sys\n\nif sys.version_info < (3, 8):\n    import backend\n"
PLAIN = "import backend\n\nClient = backend.Client\n"
NAMED = "from backend import Client, connect\n"


@pytest.fixture
def site(tmp_path: Path, dist_writer: Callable[..., Path]) -> Path:
    site = tmp_path / "site"
    dist_writer(site, "backend", "2.1", {"backend/__init__.py": "", "backend/core.py": ""})
    dist_writer(site, "helper", "1.0", {"helper/__init__.py": ""})
    return site


def _front(site: Path, dist_writer: Callable[..., Path], module: str, text: str,
           requires: tuple[str, ...] = ("backend; extra == 'backend'",)) -> None:  # fmt: skip
    files = {"front/__init__.py": "import helper\n", module: text}
    dist_writer(site, "front", "1.5", files, requires=("helper>=1", *requires))


def _pip(job: Path, env: Environment) -> tuple[str, ...]:
    return analyze([job], environment=env).spec.pip


@pytest.mark.parametrize(
    ("module", "text", "script"),
    [
        ("front/distributed.py", SHIM_STAR, "from front.distributed import Client\n"),
        ("front/distributed.py", SHIM_RERAISE, "from front.distributed import Client\n"),
        ("front/distributed.py", SHIM_RERAISE, "import front.distributed\n"),
        ("front/distributed.py", SHIM_RERAISE, "from front import distributed\n"),
        ("front/engine/__init__.py", SUBPACKAGE, "from front.engine import Engine\n"),
        ("front/distributed.py", PLAIN, "from front.distributed import Client\n"),
        ("front/distributed.py", NAMED, "from front.distributed import Client\n"),
    ],
    ids=[
        "star-shim",
        "reraise-shim",
        "import-dotted",
        "from-package-import-sub",
        "subpackage",
        "plain-import",
        "named-import",
    ],
)
def test_a_re_exported_extra_is_added(
    tmp_path: Path,
    site: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    module: str,
    text: str,
    script: str,
) -> None:
    _front(site, dist_writer, module, text)
    job = tmp_path / "job.py"
    job.write_text(script)
    result = analyze([job], environment=make_env(None, site))
    assert result.spec.pip == ("backend==2.1", "front==1.5")
    (hop,) = [d for d in result.decisions if d.requirement == "backend==2.1"]
    sub = module.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".")
    assert hop.module == sub
    assert hop.reason.startswith(f"{sub} (")
    assert hop.reason.endswith("; backend is not a requirement of front")


@pytest.mark.parametrize(
    ("text", "requires"),
    [
        (OPTIONAL, ("backend; extra == 'backend'",)),
        (LAZY, ("backend; extra == 'backend'",)),
        (DEAD, ("backend; extra == 'backend'",)),
        (SHIM_STAR, ("backend>=2",)),  # a hard requirement: create installs it anyway
    ],
    ids=["optional", "lazy-in-function", "dead-branch", "hard-requirement"],
)
def test_what_is_not_a_re_export(
    tmp_path: Path,
    site: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    text: str,
    requires: tuple[str, ...],
) -> None:
    _front(site, dist_writer, "front/distributed.py", text, requires)
    job = tmp_path / "job.py"
    job.write_text("from front.distributed import Client\n")
    assert _pip(job, make_env(None, site)) == ("front==1.5",)


def test_the_top_level_package_is_not_followed(
    tmp_path: Path,
    site: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    # front/__init__.py imports helper: a hard requirement, and one hop means submodules
    _front(site, dist_writer, "front/distributed.py", SHIM_STAR, requires=())
    job = tmp_path / "job.py"
    job.write_text("import front\n")
    assert _pip(job, make_env(None, site)) == ("front==1.5",)


def test_conda_package_dependencies_count_as_requirements(
    tmp_path: Path,
    conda_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    prefix = tmp_path / "env"
    sp = "lib/python3.11/site-packages"
    conda_writer(prefix, "backend", "2.1", "py_0", "conda-forge", [f"{sp}/backend/__init__.py"])
    record = conda_writer(prefix, "front", "1.5", "py_0", "conda-forge",
                          [f"{sp}/front/__init__.py", f"{sp}/front/distributed.py"],
                          contents={f"{sp}/front/distributed.py": SHIM_STAR})  # fmt: skip
    job = tmp_path / "job.py"
    job.write_text("from front.distributed import Client\n")
    env = make_env(prefix, prefix / sp)
    assert analyze([job], environment=env).spec.conda.dependencies[1:] == (
        "backend=2.1",
        "front=1.5",
    )
    import json

    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "depends": ["python >=3.9", "backend >=2"]}))
    assert analyze([job], environment=env).spec.conda.dependencies[1:] == ("front=1.5",)


@pytest.mark.parametrize(
    "shim", ["from front._impl import *\n", "from ._impl import *\n"], ids=["absolute", "relative"]
)
def test_one_hop_only_through_the_package(
    tmp_path: Path,
    site: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    shim: str,
) -> None:
    """The submodule's file is read, not the modules of its own package it imports: a
    re-export through a second module of the package is not followed (documented)."""
    files = {"front/__init__.py": "", "front/distributed.py": shim, "front/_impl.py": SHIM_STAR}
    dist_writer(site, "front", "1.5", files, requires=("backend; extra == 'backend'",))
    job = tmp_path / "job.py"
    job.write_text("from front.distributed import Client\n")
    assert _pip(job, make_env(None, site)) == ("front==1.5",)


def test_one_hop_only_into_the_added_distribution(
    tmp_path: Path,
    site: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    """What the distribution added by the hop imports is its own requirements' business:
    its modules are not read (backend.core imports other, which nobody requires)."""
    dist_writer(site, "other", "3.0", {"other/__init__.py": ""})
    (site / "backend" / "core.py").write_text("import other\n")
    _front(site, dist_writer, "front/distributed.py", "from backend.core import *\n", requires=())
    job = tmp_path / "job.py"
    job.write_text("from front.distributed import Client\n")
    assert _pip(job, make_env(None, site)) == ("backend==2.1", "front==1.5")
