"""Hostile JSON documents end in InvalidSpec naming the problem, never in a traceback
(issue 13, items 3, 4 and 5)."""

from __future__ import annotations

import json

import pytest

from poncho_spec import InvalidSpec, Spec, loads_spec
from poncho_spec._document import MAX_DEPTH, MAX_INT_DIGITS


def problems_of(text: str) -> list[str]:
    with pytest.raises(InvalidSpec) as info:
        loads_spec(text, source="s.json")
    return [str(p) for p in info.value.problems]


def test_an_integer_of_5000_digits_is_refused_without_python_s_digit_limit() -> None:
    # int() raises "Exceeds the limit (4300 digits)" from inside the JSON decoder.
    assert problems_of('{"pip": [' + "1" * 5000 + "]}") == [
        f"invalid JSON: a number of 5000 digits (at most {MAX_INT_DIGITS})"
    ]


def test_an_ordinary_integer_is_only_a_type_problem() -> None:
    assert problems_of('{"pip": [12]}') == ["pip[0]: must be a string, got a number"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    assert problems_of(f'{{"pip": [{constant}]}}') == [f"invalid JSON: {constant} is not JSON"]


def test_a_float_beyond_range_is_just_a_number() -> None:
    assert problems_of('{"pip": [1e400]}') == ["pip[0]: must be a string, got a number"]


def test_nesting_the_decoder_cannot_follow() -> None:
    assert problems_of("[" * 100_000 + "]" * 100_000) == [
        f"invalid JSON: nested too deeply (at most {MAX_DEPTH} levels)"
    ]


@pytest.mark.parametrize("depth", [900, 1000, 5000])
def test_deep_nesting_under_an_http_entry(depth: int) -> None:
    # Issue 13 item 4: decodes (or not), then encoding it in a message recursed.
    text = '{"http": {"X": {"url": "https://x.org/f", "sha256": ' + "[" * depth
    text += "]" * depth + "}}}"
    found = problems_of(text)
    assert len(found) == 1
    assert "nested too deeply" in found[0]


def test_deep_nesting_given_to_from_dict() -> None:
    value: list[object] = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(InvalidSpec, match=r"http\.X\.sha256(\[0\])+: nested too deeply"):
        Spec.from_dict({"http": {"X": {"url": "https://x.org/f", "sha256": value}}})


def test_the_deepest_nesting_allowed_is_still_validated() -> None:
    value: object = "x"
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict(value)
    assert [str(p) for p in info.value.problems] == ["a spec must be a JSON object, got an array"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"pip": ["./\\ud800"]}', "pip[0]"),
        ('{"conda": {"channels": ["\\udfff"]}}', "conda.channels[0]"),
        ('{"http": {"X": {"url": "https://x.org/\\ud800"}}}', "http.X.url"),
        ('{"git": {"X": {"remote": "https://x.org/r", "ref": "\\udc80"}}}', "git.X.ref"),
    ],
)
def test_a_lone_surrogate_is_refused_with_its_path(text: str, path: str) -> None:
    # Issue 13 item 5: validate said OK, then hash/show/create crashed encoding it.
    (found,) = problems_of(text)
    assert found.startswith(f"{path}: contains a lone surrogate ('\\u")
    found.encode("utf-8")  # the message itself is printable


def test_a_lone_surrogate_in_a_key_is_refused_and_the_message_is_printable() -> None:
    (found,) = problems_of('{"http": {"\\ud800": {}}}')
    assert found.startswith('http["\\ud800"]: key contains a lone surrogate')
    found.encode("utf-8")


def test_a_nul_character_is_refused() -> None:
    assert problems_of(json.dumps({"pip": ["./a\x00b"]})) == ["pip[0]: contains a NUL character"]


def test_every_unsafe_string_is_reported_at_once() -> None:
    text = '{"pip": ["\\ud800", "ok", "a\\u0000"], "conda": {"channels": ["\\udc00"]}}'
    assert [p.split(":")[0] for p in problems_of(text)] == [
        "pip[0]",
        "pip[2]",
        "conda.channels[0]",
    ]
