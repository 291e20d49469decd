"""Hypothesis strategies for spec documents: valid specs, the same mutated key by key with
hostile values, and arbitrary JSON. Used by test_canonical (properties of the canonical
form) and test_fuzz (no traceback whatever the input).

A document is produced as JSON *text*: some hostile inputs exist only as text (an integer
of 5,000 digits, ``NaN``, nesting deeper than Python's recursion limit, a lone surrogate
escape, a key given twice). They are planted as a placeholder string and swapped in after
``json.dumps``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG = os.environ.get("PONCHO_FUZZ") == "long"
FUZZ = settings(
    max_examples=10_000 if LONG else 60,
    derandomize=not LONG,  # the normal suites run the same examples every time
    deadline=None,
    database=None,  # nothing written into the source tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Settings of every property and fuzz test: the short profile in the normal suites
(seconds), the long one (10,000 examples per test) with ``PONCHO_FUZZ=long`` (nox -s fuzz)."""

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
_PLACEHOLDER = "\x01HOSTILE-{}\x01"

# -- valid pieces -----------------------------------------------------------------------

_name = st.from_regex(r"[a-z][a-z0-9]{0,5}([._-][a-z0-9]{1,3})?", fullmatch=True)
_version = st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,2}){0,2}", fullmatch=True)

channels = st.sampled_from(
    ["conda-forge", "bioconda", "defaults", "https://conda.anaconda.org/x", "file:///srv/ch",
     "/srv/channel", "~/channel", "Conda-Forge"]
)  # fmt: skip

conda_dependencies = st.one_of(
    _name,
    st.builds(lambda n, v: f"{n}={v}", _name, _version),
    st.builds(lambda n, v: f"{n} >={v},<99", _name, _version),
    st.builds(lambda n, v: f"{n.upper()}=={v}", _name, _version),
    st.builds(lambda n, v: f"conda-forge::{n} {v}.*", _name, _version),
    st.builds(lambda n, v: f"{n}={v}=py_0", _name, _version),
    st.builds(lambda n: f"{n}[build=py*]", _name),
)

pip_entries = st.one_of(
    _name,
    st.builds(lambda n, v: f"{n}=={v}", _name, _version),
    st.builds(lambda n, v: f"{n.upper()}_X >= {v}, <99", _name, _version),
    st.builds(lambda n, e: f"{n}[{e},Other]>=1", _name, _name),
    st.builds(lambda n: f"{n}; python_version < '3.12'", _name),
    st.builds(lambda n: f"{n} @ https://x.org/{n}-1.0.tar.gz", _name),
    st.builds(lambda n: f"./{n}", _name),
    st.builds(lambda n: f"../{n}/./sub/../", _name),
    st.builds(lambda n: f"~/{n}", _name),
    st.builds(lambda n: f"/opt/{n}//x/", _name),
    st.builds(lambda n: f"dist/{n}-1.0-py3-none-any.whl", _name),
    st.builds(lambda n: f"file:{n}", _name),
    st.just("."),
)

variables = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True).filter(
    lambda v: not v.startswith(("LD_", "PYTHON", "GIT_")) and v not in ("PATH", "HOME", "PWD")
)

git_entries = st.fixed_dictionaries(
    {"remote": st.sampled_from(["https://x.org/r.git", "/srv/repo", "file:///srv/r"])},
    optional={"ref": st.sampled_from([SHA, SHA.upper(), "main", "v1.0", "abc1234", "HEAD"])},
)

http_entries = st.fixed_dictionaries(
    {"url": st.builds(lambda n: f"https://x.org/{n}.tar.gz", _name)},
    optional={
        "type": st.sampled_from(["file", "tar"]),
        "compression": st.sampled_from(["gzip", "bzip2", "xz", None]),
        "sha256": st.sampled_from(["a" * 64, "AB" * 32, None]),
    },
)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec document in one of the modern or legacy (CCTools) forms."""
    doc: dict[str, Any] = {}
    deps: list[Any] = draw(st.lists(conda_dependencies, max_size=4))
    pip = draw(st.lists(pip_entries, max_size=4))
    form = draw(st.sampled_from(["modern", "packages", "list", "top-pip"]))
    if form == "list":
        doc["conda"] = [*deps, {"pip": pip}] if pip else deps
    elif form != "none":
        conda: dict[str, Any] = {}
        if draw(st.booleans()):
            conda["channels"] = draw(st.lists(channels, max_size=3))
        key = "packages" if form == "packages" else "dependencies"
        conda[key] = deps + ([{"pip": pip}] if pip and form != "top-pip" else [])
        doc["conda"] = conda
        if form == "top-pip":
            doc["pip"] = pip
    if draw(st.booleans()):
        doc["git"] = draw(st.dictionaries(variables, git_entries, max_size=2))
    if draw(st.booleans()):
        names = set(doc.get("git", {}))
        doc["http"] = draw(
            st.dictionaries(variables.filter(lambda v: v not in names), http_entries, max_size=2)
        )
    return doc


# -- hostile pieces ---------------------------------------------------------------------

#: Values a mutation can put anywhere (JSON-representable ones).
HOSTILE_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 1e308, "", " ", "\t", "\x00", "a\x00b", "http://[", "https://[]/",
    "http://x.org:99999/f", "http://x.org/a\tb", "a" * 300, "./" + "d/" * 200, "~nosuchuser/pkg",
    "~", "~=", "~=1.0", "~/../x", "a_", "x[e_]", "-e .", "--index-url=http://evil",
    "ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/pwned", "../../../../etc/passwd",
    "/", "file:///etc", "file://[/x",
    "LD_PRELOAD", "é", "\U0001d518", "\u202e", "a" * 5000, [], {}, [[]], {"pip": []},
    {"pip": ["a_"]}, {"": ""}, {"pip": [None]}, ["http://["], {"url": "http://["},
]  # fmt: skip

#: Values that exist only as JSON text.
HOSTILE_TEXT: list[str] = [
    "1" * 5000, "-" + "9" * 4400, "1e400", "-1e400", "NaN", "Infinity", "-Infinity",
    "[" * 1000 + "]" * 1000, "[" * 40 + "]" * 40, '"\\ud800"', '"./\\udfff"', '"\\udc80x"',
    '{"a": 1, "a": 2}', '"\\u0000"', "[" * 100_000 + "]" * 100_000,
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.sampled_from(HOSTILE_TEXT).map(lambda text: _Raw(text)),
    st.text(max_size=30),
    json_values,
)


class _Raw(str):
    """JSON text to plant as is."""


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place (key path) in a document, the root included."""
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, (*path, i)))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A valid document with a few mutations, key by key: a value replaced by a hostile
    one, a key removed, an unknown key added, a key renamed. Returns JSON text."""
    doc = draw(valid_documents())
    raws: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        places = _paths(doc)
        place = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "rename"]))
        value = copy.deepcopy(draw(hostile))  # HOSTILE_VALUES are shared: never mutate them
        if isinstance(value, _Raw):
            raws.append(str(value))
            value = _PLACEHOLDER.format(len(raws) - 1)
        if not place:
            if action == "replace":
                doc = value
            continue
        parent: Any = doc
        for key in place[:-1]:
            parent = parent[key]
        last = place[-1]
        if action == "replace" or not isinstance(parent, dict):
            parent[last] = value
        elif action == "delete":
            del parent[last]
        elif action == "add":
            parent[draw(st.sampled_from(["name", "prefix", "pinned", "x", "\ud800", "sha256"]))] = (
                value
            )
        else:
            parent[draw(st.text(max_size=6))] = parent.pop(last)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(_PLACEHOLDER.format(i)), raw)
        text = text.replace(json.dumps(_PLACEHOLDER.format(i), ensure_ascii=False), raw)
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value)


spec_texts = st.one_of(
    valid_documents().map(_dumps),
    mutated_documents(),
    mutated_documents(),
    json_values.map(_dumps),
    st.text(max_size=50),
)
"""Spec texts of every kind: valid, mutated, arbitrary JSON, arbitrary text."""
