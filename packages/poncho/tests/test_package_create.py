"""CCTools' package_create API on our engine: real builds from the local conda channel."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho import package_create
from poncho_spec import InvalidSpec


@pytest.fixture
def spec(local_channel: Any) -> dict[str, Any]:
    return {
        "conda": {"channels": [local_channel.url], "dependencies": ["python", "poncho-demo-core"]}
    }


def _names(tarball: str | Path) -> set[str]:
    with tarfile.open(tarball) as tar:
        return set(tar.getnames())


def test_dict_to_env_caches_by_content(
    spec: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = package_create.dict_to_env(spec)
    assert Path(first).parent == Path(".poncho_cache")
    assert "bin/run_in_env" in _names(first)
    stamp = Path(first).stat().st_mtime_ns, Path(first).stat().st_ino
    # The same content in another order and as JSON text: the same tarball, not rebuilt.
    reordered = {"conda": {"dependencies": ["poncho-demo-core", "python"],
                           "channels": spec["conda"]["channels"]}}  # fmt: skip
    assert package_create.dict_to_env(json.dumps(reordered)) == first
    assert (Path(first).stat().st_mtime_ns, Path(first).stat().st_ino) == stamp
    # force rebuilds in place; another cache_path is another cache.
    assert package_create.dict_to_env(spec, force=True) == first
    assert Path(first).stat().st_ino != stamp[1]
    other = package_create.dict_to_env(spec, cache_path=tmp_path / "elsewhere")
    assert Path(other).parent == tmp_path / "elsewhere"


def test_dict_to_env_without_cache_writes_here(
    spec: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = package_create.dict_to_env(spec, cache=False, download_micromamba=True)
    assert Path(out).parent == Path(".") and Path(out).is_file()
    assert not (tmp_path / ".poncho_cache").exists()


def test_pack_env_from_a_spec_file_a_dict_and_an_env_folder(
    spec: dict[str, Any], tmp_path: Path, local_channel: Any
) -> None:
    from poncho_testing import install_prefix

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    out = package_create.pack_env(spec_file, tmp_path / "a.tar.gz")
    assert out == str(tmp_path / "a.tar.gz") and "poncho/lock.json" in _names(out)
    # CCTools (conda-pack with force=True) created OUTPUT's missing folders: still so here.
    out = package_create.pack_env_from_dict(spec, tmp_path / "new" / "b.tar.gz")
    assert "poncho/spec.json" in _names(out)
    env = tmp_path / "envs" / "mine"
    install_prefix(local_channel, ["python", "poncho-demo-core"], env)
    out = package_create.pack_env(
        str(env), tmp_path / "c" / "c.tar.gz", ignore_editable_packages=True
    )
    names = _names(out)
    assert "bin/run_in_env" in names
    assert any(n.startswith("conda-meta/poncho-demo-core-") for n in names)


def test_bad_specs_raise_the_spec_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match=r"conda\.dependencies"):
        package_create.pack_env_from_dict({"conda": {"dependencies": [3]}}, tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()


def test_dict_to_env_builds_cctools_pins(
    local_channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The historic API takes the specs CCTools' analyzer wrote: name=version=build pins
    (and the other conda forms) build."""
    monkeypatch.chdir(tmp_path)
    spec = {
        "name": "myenv",
        "prefix": "/opt/conda/envs/myenv",
        "conda": {
            "channels": [local_channel.url],
            "dependencies": [
                f"python={local_channel.python_version}=h0_poncho",
                "poncho-demo-core 0.1.0 pyh0_poncho",
                f"{local_channel.url}/noarch::pip=={local_channel.packages['pip']}",
            ],
        },
    }
    names = _names(package_create.dict_to_env(spec))
    assert "conda-meta/poncho-demo-core-0.1.0-pyh0_poncho.json" in names
    assert f"conda-meta/python-{local_channel.python_version}-h0_poncho.json" in names


def test_force_writes_the_same_entry_and_an_edit_is_built_again(
    local_channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seams 14: dict_to_env(spec, force=True) replaces the entry a normal call names (with
    the local-source digest), so a later call after an edit builds the edit."""
    from poncho_testing import make_local_project

    monkeypatch.chdir(tmp_path)
    project = make_local_project(tmp_path / "mypkg", "poncho-seams-mypkg")
    spec = {
        "conda": {
            "channels": [local_channel.url],
            "dependencies": ["python", {"pip": [str(project)]}],
        }
    }
    first = package_create.dict_to_env(spec)
    assert package_create.dict_to_env(spec, force=True) == first
    assert sorted(p.name for p in Path(".poncho_cache").iterdir() if p.name[0] != ".") == [
        Path(first).name,
        "layers",  # the installed conda part, reused by the next build
    ]
    module = project / "src" / "poncho_seams_mypkg" / "__init__.py"
    module.write_text("VALUE = 43\n")
    edited = package_create.dict_to_env(spec)
    assert edited != first
    with tarfile.open(edited) as tar:
        member = next(m for m in tar if m.name.endswith("poncho_seams_mypkg/__init__.py"))
        assert tar.extractfile(member).read() == b"VALUE = 43\n"  # type: ignore[union-attr]
