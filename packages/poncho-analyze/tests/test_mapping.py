from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze.errors import AnalyzeError
from poncho_analyze.mapping import Environment, Mapper, Owner, canonical_name, normalize_channel

CONDA_FORGE = "https://conda.anaconda.org/conda-forge/linux-64"


@pytest.fixture
def site(tmp_path: Path, dist_writer: Callable[..., Path]) -> Path:
    """A site-packages folder with fake but complete pip installs."""
    site = tmp_path / "site"
    w = dist_writer
    w(site, "PyYAML", "6.0.1", {"yaml/__init__.py": "", "_yaml/__init__.py": ""})
    w(site, "scikit-learn", "1.4.0", {"sklearn/__init__.py": ""})
    w(site, "opencv-python", "4.9.0.80", {"cv2/__init__.py": ""})
    w(site, "Pillow", "10.2.0", {"PIL/__init__.py": ""})
    w(site, "beautifulsoup4", "4.12.3", {"bs4/__init__.py": ""})
    w(site, "attrs", "23.2.0", {"attr/__init__.py": "", "attrs/__init__.py": ""})
    w(site, "python-dateutil", "2.8.2", {"dateutil/__init__.py": ""})
    w(
        site,
        "protobuf",
        "4.25.2",
        {"google/protobuf/__init__.py": "", "google/protobuf/message.py": ""},
    )
    w(site, "google-auth", "2.27.0", {"google/auth/__init__.py": ""})
    w(site, "azure-core", "1.30.0", {"azure/core/__init__.py": ""})
    w(site, "fast-thing", "1.0", {"fastthing.cpython-311-x86_64-linux-gnu.so": ""})
    w(site, "top-only", "0.1", {}, top_level=["toponly"], record=False)
    (site / "toponly.py").write_text("")
    (site / "orphan.py").write_text("")
    egg = site / "oldegg-0.5-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: oldegg\nVersion: 0.5\n")
    (egg / "installed-files.txt").write_text("../oldegg.py\nPKG-INFO\n")
    (site / "oldegg.py").write_text("")
    broken = site / "broken-1.0.dist-info"
    broken.mkdir()  # no METADATA: skipped
    nameless = site / "nameless-1.0.dist-info"
    nameless.mkdir()
    (nameless / "METADATA").write_text("Metadata-Version: 2.1\n")
    return site


def _resolve(mapper: Mapper, *candidates: str) -> tuple[str, str | None, str]:
    r = mapper.resolve(candidates)
    return r.module, (r.owner.requirement() if r.owner else None), r.reason


@pytest.mark.parametrize(
    ("module", "requirement"),
    [
        ("yaml", "PyYAML==6.0.1"),
        ("sklearn", "scikit-learn==1.4.0"),
        ("cv2", "opencv-python==4.9.0.80"),
        ("PIL", "Pillow==10.2.0"),
        ("bs4", "beautifulsoup4==4.12.3"),
        ("attr", "attrs==23.2.0"),
        ("dateutil", "python-dateutil==2.8.2"),
        ("fastthing", "fast-thing==1.0"),
        ("toponly", "top-only==0.1"),
        ("oldegg", "oldegg==0.5"),
    ],
)
def test_renames_come_from_metadata(
    site: Path, make_env: Callable[..., Environment], module: str, requirement: str
) -> None:
    mapper = Mapper(make_env(None, site))
    assert _resolve(mapper, module)[1] == requirement
    assert not mapper.is_conda


def test_namespace_packages(site: Path, make_env: Callable[..., Environment]) -> None:
    mapper = Mapper(make_env(None, site))
    assert _resolve(mapper, "google.protobuf")[:2] == ("google.protobuf", "protobuf==4.25.2")
    assert _resolve(mapper, "google.protobuf.message", "google.protobuf")[1] == "protobuf==4.25.2"
    assert _resolve(mapper, "google.auth", "google")[:2] == ("google.auth", "google-auth==2.27.0")
    module, owner, reason = _resolve(mapper, "google")
    assert owner is None and "shared by google-auth, protobuf" in reason
    assert _resolve(mapper, "azure.core")[1] == "azure-core==1.30.0"
    module, owner, reason = _resolve(mapper, "azure.storage.blob")
    assert (module, owner) == ("azure.storage.blob", None)
    assert reason == "not found in the namespace package azure"
    assert _resolve(mapper, "azure")[1] == "azure-core==1.30.0"


def test_unowned_and_missing_modules(
    site: Path, make_env: Callable[..., Environment], tmp_path: Path
) -> None:
    mapper = Mapper(make_env(None, site))
    _, owner, reason = _resolve(mapper, "orphan")
    assert owner is None and "no installed package lists that file" in reason
    assert _resolve(mapper, "nothere")[1:] == (None, "not found on the module search path")
    (tmp_path / "empty_ns").mkdir()
    (tmp_path / "empty_ns" / "lonely").mkdir()
    mapper = Mapper(make_env(None, tmp_path / "empty_ns"))
    assert "no installed package provides" in _resolve(mapper, "lonely")[2]


def test_top_level_txt_without_the_module(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    site = tmp_path / "s"
    dist_writer(site, "ghost", "1.0", {}, top_level=["ghostmod"], record=False)
    assert _resolve(Mapper(make_env(None, site)), "ghostmod")[1] == "ghost==1.0"


@pytest.fixture
def conda_prefix(
    tmp_path: Path, dist_writer: Callable[..., Path], conda_writer: Callable[..., Path]
) -> Path:
    prefix = tmp_path / "conda"
    sp = "lib/python3.11/site-packages"
    conda_writer(
        prefix, "python", "3.11.7", "hab00c5b_1_cpython", CONDA_FORGE, ["lib/python3.11/os.py"]
    )
    conda_writer(
        prefix,
        "pip",
        "24.0",
        "pyhd8ed1ab_0",
        "https://conda.anaconda.org/conda-forge/noarch",
        [f"{sp}/pip/__init__.py"],
    )
    site = prefix / sp
    meta = dist_writer(site, "numpy", "1.26.4", {"numpy/__init__.py": ""}, installer="conda")
    conda_writer(
        prefix,
        "numpy",
        "1.26.4",
        "py311h64a7726_0",
        CONDA_FORGE,
        [f"{sp}/numpy/__init__.py", f"{sp}/{meta.name}/METADATA"],
    )
    conda_writer(
        prefix, "requests", "2.28.0", "pyhd8ed1ab_0", "bioconda", [f"{sp}/requests/__init__.py"]
    )
    dist_writer(site, "requests", "2.31.0", {"requests/__init__.py": ""})
    conda_writer(prefix, "libfoo", "1.0", "h0", "", ["lib/libfoo.so"])
    (prefix / "conda-meta" / "garbage.json").write_text("{not json")
    return prefix


def test_conda_meta_owns_files(conda_prefix: Path, make_env: Callable[..., Environment]) -> None:
    mapper = Mapper(make_env(conda_prefix, conda_prefix / "lib/python3.11/site-packages"))
    assert mapper.is_conda
    numpy = mapper.resolve(("numpy",))
    assert numpy.owner is not None and numpy.owner.kind == "conda"
    assert numpy.owner.requirement() == "numpy=1.26.4"
    assert numpy.owner.requirement(build=True) == "numpy=1.26.4=py311h64a7726_0"
    assert numpy.owner.channel == "conda-forge"
    assert numpy.reason == "conda-meta: numpy-1.26.4-py311h64a7726_0.json"
    # pip replaced the conda package: its own dist-info is not a conda file.
    assert _resolve(mapper, "requests")[1] == "requests==2.31.0"
    assert mapper.conda_package("python") is not None
    assert mapper.by_name("NumPy") == mapper.conda_package("numpy")
    assert mapper.by_name("Requests") is not None and mapper.by_name("Requests").kind == "conda"  # type: ignore[union-attr]
    libfoo = mapper.conda_package("libfoo")
    assert libfoo is not None and libfoo.channel == ""


@pytest.mark.parametrize(
    ("raw", "channel"),
    [
        ("https://conda.anaconda.org/conda-forge/linux-64", "conda-forge"),
        ("https://conda.anaconda.org/conda-forge/", "conda-forge"),
        ("https://conda.anaconda.org/pytorch/label/nightly/noarch", "pytorch/label/nightly"),
        ("conda-forge", "conda-forge"),
        ("file:///tmp/channel/noarch", "file:///tmp/channel"),
        ("https://repo.anaconda.com/pkgs/main/linux-64", "https://repo.anaconda.com/pkgs/main"),
    ],
)
def test_normalize_channel(raw: str, channel: str) -> None:
    assert normalize_channel(raw) == channel


def test_owner_requirements() -> None:
    assert Owner("pip", "Foo", "1", "x").requirement(extras=["b", "a"]) == "Foo[a,b]==1"
    assert Owner("conda", "foo", "1", "x").requirement(build=True) == "foo=1"
    assert canonical_name("Foo_Bar.baz") == "foo-bar-baz"


def test_environment_current_and_from_python() -> None:
    here = Environment.current()
    assert here.python_version == ".".join(map(str, sys.version_info[:3]))
    assert all(p.is_dir() for p in here.paths)
    other = Environment.from_python(sys.executable)
    assert other.python_version == here.python_version
    assert other.prefix == Path(sys.prefix)
    assert other.stdlib == here.stdlib


def test_environment_of_a_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(AnalyzeError, match="cannot inspect the interpreter"):
        Environment.from_python(tmp_path / "nope")


def test_interpreter_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The probe runs in an empty temporary folder: the path must not be read from there.
    # (A path with "../" would find the same file from there: go down from here.)
    exe = Path(sys.executable)
    (tmp_path / "userenv").symlink_to(exe.parent.parent, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    env = Environment.from_python(f"userenv/{exe.parent.name}/{exe.name}")
    assert env.prefix.resolve() == Path(sys.prefix).resolve()
    assert env.python_version == Environment.current().python_version


def test_interpreter_bare_name_is_looked_up_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = os.path.basename(sys.executable)
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text("not a python\n")  # not the one a bare name means
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    assert Environment.from_python(name).prefix == Path(sys.prefix)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("userenv/bin/python", "no such file"),
        ("userenv/bin", "a folder, not a Python executable"),
        ("userenv/notexec", "not executable"),
        ("surely-no-such-python", "not found on PATH"),
        ("notexec", "not found on PATH (write ./notexec for the one in the current folder)"),
    ],
)
def test_interpreter_that_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, problem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "userenv" / "bin").mkdir(parents=True)
    (tmp_path / "userenv" / "notexec").write_text("#!/bin/sh\n")
    (tmp_path / "notexec").write_text("#!/bin/sh\n")
    with pytest.raises(AnalyzeError) as info:
        Environment.from_python(given)
    assert str(info.value) == f"cannot inspect the interpreter {given}: {problem}"
