# ruff: noqa: E501  (tables of specs read best one per line)
from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from poncho_spec import InvalidSpec, Spec, dumps_spec, load_spec, loads_spec
from spec_strategies import FUZZ, spec_texts, valid_documents

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
DATA = Path(__file__).parent / "data"

BASE: dict[str, Any] = {
    "conda": {
        "channels": ["conda-forge", "bioconda"],
        "dependencies": ["python=3.11", "numpy >=1.24,<2", {"pip": ["dill==0.3.8", "attrs"]}],
    },
    "git": {"DATA": {"remote": "https://x.org/r.git", "ref": SHA}},
    "http": {"F": {"url": "https://x.org/f.tar.gz", "type": "tar", "compression": "gzip"}},
}


def spec_hash(data: dict[str, Any]) -> str:
    return Spec.from_dict(data).hash()


def test_pinned_hash_of_an_example() -> None:
    """The hash names every cached environment: if this test fails, canonicalisation changed
    and every user's cache is invalidated (all environments rebuilt). Change the pinned value
    only on purpose, and say so in the release notes."""
    spec = load_spec(DATA / "valid" / "modern.json")
    assert spec.canonical_json() == (
        '{"conda":{"channels":["conda-forge"],"dependencies":['
        '"conda-forge::matplotlib=3.7.1=py311h38be061_0","numpy >=1.24,<2","pip",'
        '"python=3.11",{"pip":["dill==0.3.8","requests[socks]>=2.31; python_version >= \\"3.8\\""]}'
        ']},"git":{"DATA_DIR":{"ref":"3f786850e387550fdab836ed7e6dc881de23001b",'
        '"remote":"https://github.com/example/poncho-data.git"}},"http":{"REFERENCE_DB":'
        '{"compression":null,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",'
        '"type":"file","url":"https://example.org/data/reference.dat"},"TRAINING_DATASET":'
        '{"compression":"gzip","sha256":null,"type":"tar",'
        '"url":"https://example.org/data/dataset.tar.gz"}}}'
    )
    assert spec.hash() == "960cd092ce1b0152b569b8ee456be7831298399d1e352f894a0e1cbb27e53214"


def test_hash_is_sha256_of_the_canonical_json() -> None:
    spec = Spec.from_dict(BASE)
    text = spec.canonical_json()
    assert spec.hash() == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert text == json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_canonical_form_is_a_valid_spec_with_the_same_hash() -> None:
    for path in sorted((DATA / "valid").glob("*.json")):
        spec = load_spec(path)
        again = loads_spec(spec.canonical_json())
        assert again.canonical_json() == spec.canonical_json(), path.name


SAME = {
    "key order": {
        "http": BASE["http"],
        "git": BASE["git"],
        "conda": {"dependencies": BASE["conda"]["dependencies"], "channels": ["conda-forge", "bioconda"]},
    },
    "whitespace": {
        **BASE,
        "conda": {
            "channels": [" conda-forge", "bioconda "],
            "dependencies": ["  python=3.11", "numpy  >= 1.24 , <2", {"pip": [" dill == 0.3.8", "attrs "]}],
        },
    },
    "dependency order": {
        **BASE,
        "conda": {
            "channels": ["conda-forge", "bioconda"],
            "dependencies": [{"pip": ["attrs", "dill==0.3.8"]}, "numpy >=1.24,<2", "python=3.11"],
        },
    },
    "duplicates": {
        **BASE,
        "conda": {
            "channels": ["conda-forge", "bioconda", "conda-forge"],
            "dependencies": ["python=3.11", "numpy >=1.24,<2", "python=3.11",
                             {"pip": ["dill==0.3.8", "attrs", "attrs"]}],
        },
    },
    "name case and pip normalisation": {
        **BASE,
        "conda": {
            "channels": ["conda-forge", "bioconda"],
            "dependencies": ["Python=3.11", "NumPy>=1.24,<2", {"pip": ["Dill==0.3.8", "ATTRS"]}],
        },
    },
    "legacy conda.packages and top-level pip": {
        **BASE,
        "conda": {"channels": ["conda-forge", "bioconda"],
                  "packages": ["python=3.11", "numpy >=1.24,<2"]},
        "pip": ["dill==0.3.8", "attrs"],
    },
    "http defaults spelled out": {
        **BASE,
        "http": {"F": {"url": "https://x.org/f.tar.gz", "type": "tar", "compression": "gzip",
                       "sha256": None}},
    },
    "conda name": {**BASE, "conda": {**BASE["conda"], "name": "myenv"}},
    "git sha case": {**BASE, "git": {"DATA": {"remote": "https://x.org/r.git", "ref": SHA.upper()}}},
}  # fmt: skip

DIFFERENT = {
    "changed version": {**BASE, "conda": {**BASE["conda"], "dependencies": ["python=3.12", "numpy >=1.24,<2", {"pip": ["dill==0.3.8", "attrs"]}]}},
    "changed pip version": {**BASE, "conda": {**BASE["conda"], "dependencies": ["python=3.11", "numpy >=1.24,<2", {"pip": ["dill==0.3.9", "attrs"]}]}},
    "channel order": {**BASE, "conda": {**BASE["conda"], "channels": ["bioconda", "conda-forge"]}},
    "extra channel": {**BASE, "conda": {**BASE["conda"], "channels": ["conda-forge", "bioconda", "x"]}},
    "extra package": {**BASE, "conda": {**BASE["conda"], "dependencies": [*BASE["conda"]["dependencies"], "scipy"]}},
    "pip vs conda": {**BASE, "conda": {**BASE["conda"], "dependencies": ["python=3.11", "numpy >=1.24,<2", "attrs", {"pip": ["dill==0.3.8"]}]}},
    "git ref": {**BASE, "git": {"DATA": {"remote": "https://x.org/r.git", "ref": "0" * 40}}},
    "git remote": {**BASE, "git": {"DATA": {"remote": "https://x.org/other.git", "ref": SHA}}},
    "git variable": {**BASE, "git": {"DATA2": {"remote": "https://x.org/r.git", "ref": SHA}}},
    "http url": {**BASE, "http": {"F": {"url": "https://x.org/g.tar.gz", "type": "tar", "compression": "gzip"}}},
    "http type": {**BASE, "http": {"F": {"url": "https://x.org/f.tar.gz", "compression": "gzip"}}},
    "http compression": {**BASE, "http": {"F": {"url": "https://x.org/f.tar.gz", "type": "tar"}}},
    "http sha256": {**BASE, "http": {"F": {"url": "https://x.org/f.tar.gz", "type": "tar", "compression": "gzip", "sha256": "0" * 64}}},
    "extra data entry": {**BASE, "http": {**BASE["http"], "G": {"url": "https://x.org/g"}}},
    "no data": {"conda": BASE["conda"]},
}  # fmt: skip


@pytest.mark.parametrize("name", SAME)
def test_same_meaning_same_hash(name: str) -> None:
    assert spec_hash(SAME[name]) == spec_hash(BASE)
    assert Spec.from_dict(SAME[name]) == Spec.from_dict(BASE)


@pytest.mark.parametrize("name", DIFFERENT)
def test_changed_meaning_changes_the_hash(name: str) -> None:
    assert spec_hash(DIFFERENT[name]) != spec_hash(BASE)
    assert Spec.from_dict(DIFFERENT[name]) != Spec.from_dict(BASE)


def test_all_different_specs_hash_differently() -> None:
    hashes = {spec_hash(data) for data in DIFFERENT.values()} | {spec_hash(BASE)}
    assert len(hashes) == len(DIFFERENT) + 1


def test_missing_and_empty_channels_hash_the_same() -> None:
    deps = ["python"]
    hashes = {
        spec_hash({"conda": {"dependencies": deps}}),
        spec_hash({"conda": {"channels": [], "dependencies": deps}}),
        spec_hash({"conda": {"channels": ["conda-forge"], "dependencies": deps}}),
        spec_hash({"conda": deps}),
    }
    assert len(hashes) == 1


def test_empty_sections_hash_like_missing_ones() -> None:
    assert spec_hash({}) == spec_hash({"conda": {}, "git": {}, "http": {}, "pip": []})


def test_pip_normal_form() -> None:
    spec = Spec.from_dict(
        {"pip": ["Foo.Bar[Extra_B, extra-a] < 2 , >=1 ; python_version<'3.12'",
                 "pkg @ https://x.org/pkg-1.0.tar.gz ; sys_platform == 'linux'",
                 "./a/b/", "sub/dir/../pkg", "../up", "~/x/", "/abs//pkg/", "file:///x/y", "."]}
    )  # fmt: skip
    assert spec.canonical_dict()["conda"]["dependencies"][-1]["pip"] == sorted(
        [
            'foo-bar[extra-a,extra-b]<2,>=1; python_version < "3.12"',
            'pkg @ https://x.org/pkg-1.0.tar.gz ; sys_platform == "linux"',
            "./a/b",
            "./sub/pkg",
            "../up",
            "~/x",
            "/abs/pkg",
            "file:///x/y",
            ".",
        ]
    )


@pytest.mark.parametrize(
    ("entry", "normal"),
    [("~/../x", "~/../x"), ("~/a/..", "~"), ("~/x/../../bob/./pkg/", "~/../bob/pkg"),
     ("~//x", "~/x"), ("~/", "~")],
)  # fmt: skip
def test_home_folder_paths_are_normalised_below_the_home_folder(entry: str, normal: str) -> None:
    # "~/../x" once became "x": a requirement, not the folder next to the home folder.
    spec = Spec.from_dict({"pip": [entry]})
    assert spec.canonical_dict()["conda"]["dependencies"] == [{"pip": [normal]}]
    again = loads_spec(spec.canonical_json())
    assert set(again.pip_local_paths().values()) == set(spec.pip_local_paths().values())
    other = Spec.from_dict({"pip": [entry.replace("~", "~alice", 1)]})
    assert other.canonical_dict()["conda"]["dependencies"] == [
        {"pip": [normal.replace("~", "~alice", 1)]}
    ]


BASE_HASH = "49d7710365fdca1b06af16cbf2635ad34c7058e20db3a3f787bfa518f4343e1d"


def test_base_hash() -> None:
    assert Spec.from_dict(BASE).hash() == BASE_HASH


def test_hash_does_not_depend_on_rattler(no_rattler: None) -> None:
    """Workers (no rattler) and poncho-create (rattler) must name environments alike."""
    assert Spec.from_dict(BASE).hash() == BASE_HASH


@FUZZ
@given(doc=valid_documents())
def test_canonical_form_is_a_valid_spec_and_idempotent(doc: dict[str, Any]) -> None:
    # Issue 13 item 7: the canonical form must load (validity-preserving), give itself
    # back (idempotent) and mean the same spec (same hash).
    with tempfile.TemporaryDirectory() as base:
        spec = Spec.from_dict(doc, base_dir=base)
        canonical = spec.canonical_json()
        again = loads_spec(canonical, base_dir=base)
        assert again.canonical_json() == canonical
        assert again.hash() == spec.hash()
        assert loads_spec(dumps_spec(spec), base_dir=base) == spec


@FUZZ
@given(text=spec_texts)
def test_every_spec_that_loads_has_a_canonical_form_that_loads_to_itself(text: str) -> None:
    with tempfile.TemporaryDirectory() as base:
        try:
            spec = loads_spec(text, base_dir=base)
        except InvalidSpec:
            return
        canonical = spec.canonical_json()
        assert loads_spec(canonical, base_dir=base).canonical_json() == canonical
