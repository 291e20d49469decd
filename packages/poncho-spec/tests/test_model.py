from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from poncho_spec import DEFAULT_CHANNELS, CondaSection, GitSource, HttpSource, Spec

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


def test_defaults() -> None:
    spec = Spec()
    assert spec.conda == CondaSection(DEFAULT_CHANNELS, ())
    assert spec.pip == () and dict(spec.git) == {} and dict(spec.http) == {}
    assert spec.warnings == () and spec.base_dir is None and spec.source is None
    assert GitSource("https://x.org/r").ref == "HEAD"
    assert HttpSource("https://x.org/f") == HttpSource("https://x.org/f", "file", None, None)


def test_spec_is_immutable() -> None:
    spec = Spec.from_dict({"git": {"D": {"remote": "https://x.org/r", "ref": SHA}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.pip = ("x",)  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.git["E"] = GitSource("https://x.org/e")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.git["D"].ref = "main"  # type: ignore[misc]


def test_to_dict_is_modern_form_in_written_order() -> None:
    data = {
        "conda": {"packages": ["python=3.11", "attrs"]},
        "pip": ["dill", "./pkg"],
        "git": {"D": {"remote": "https://x.org/r", "ref": SHA}},
        "http": {
            "B": {
                "url": "https://x.org/b",
                "type": "tar",
                "compression": "gzip",
                "sha256": "F" * 64,
            },
            "A": {"url": "https://x.org/a"},
        },
    }
    assert Spec.from_dict(data).to_dict() == {
        "conda": {
            "channels": ["conda-forge"],
            "dependencies": ["python=3.11", "attrs", {"pip": ["dill", "./pkg"]}],
        },
        "git": {"D": {"remote": "https://x.org/r", "ref": SHA}},
        "http": {
            "B": {
                "url": "https://x.org/b",
                "type": "tar",
                "compression": "gzip",
                "sha256": "f" * 64,
            },
            "A": {"url": "https://x.org/a", "type": "file"},
        },
    }


def test_to_dict_round_trips() -> None:
    spec = Spec.from_dict({"conda": {"dependencies": ["b", "a", {"pip": ["z", "y"]}]}})
    again = Spec.from_dict(spec.to_dict())
    assert again.to_dict() == spec.to_dict()
    assert again == spec


def test_equality_and_python_hash_follow_the_canonical_form() -> None:
    a = Spec.from_dict({"conda": ["b", "a"]}, source="one.json")
    b = Spec.from_dict({"conda": {"dependencies": ["a", "b"]}}, source="two.json")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Spec.from_dict({"conda": ["a"]})
    assert a != "not a spec"


def test_from_dict_accepts_a_string_base_dir(tmp_path: Path) -> None:
    spec = Spec.from_dict({}, base_dir=str(tmp_path), source="x")
    assert spec.base_dir == tmp_path and spec.source == "x"


def test_hash_and_canonical_json_are_cached() -> None:
    spec = Spec.from_dict({"conda": ["python"]})
    assert spec.canonical_json() is spec.canonical_json()
    assert spec.hash() is spec.hash()


def test_pip_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    (tmp_path / "existing").mkdir()
    spec = Spec.from_dict(
        {
            "pip": ["dill", "./a/", "../b", "existing", "/abs/c", "~/d", "file:///e%20f",
                    "file:g", "x @ file:///h.whl"],
        },
        base_dir=tmp_path / "specs",
    )  # fmt: skip
    # bare names ("dill", "existing") and "x @ file:..." are requirements
    assert set(spec.pip_local_paths()) == {
        "./a/",
        "../b",
        "/abs/c",
        "~/d",
        "file:///e%20f",
        "file:g",
    }
    spec = Spec.from_dict(
        {"pip": ["dill", "./a/", "../b", "existing", "/abs/c", "~/d", "file:///e%20f", "file:g"]},
        base_dir=tmp_path,
    )
    assert spec.pip_local_paths() == {
        "./a/": tmp_path / "a",
        "../b": tmp_path.parent / "b",
        "/abs/c": Path("/abs/c"),
        "~/d": home / "d",
        "file:///e%20f": Path("/e f"),
        "file:g": tmp_path / "g",
    }


def test_pip_local_paths_without_base_dir_are_under_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Spec.from_dict({"pip": ["./pkg"]}).pip_local_paths() == {"./pkg": tmp_path / "pkg"}
