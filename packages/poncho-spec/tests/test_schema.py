from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from poncho_spec import json_schema
from poncho_spec.validate import (
    COMPRESSIONS,
    HTTP_TYPES,
    RESERVED_PREFIXES,
    RESERVED_VARIABLES,
)

DATA = Path(__file__).parent / "data"
VALID = sorted((DATA / "valid").glob("*.json"))
INVALID = sorted((DATA / "invalid").glob("*.json"))
# Invalid examples only poncho_spec's own validation can tell: JSON syntax, duplicate keys
# (lost by the JSON parser) and variables defined in both git and http.
NOT_FOR_THE_SCHEMA = {"bad-json.json", "duplicate-keys.json"}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_shipped_as_package_data() -> None:
    import poncho_spec

    path = Path(poncho_spec.__file__).parent / "schema" / "poncho-spec.schema.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json_schema()
    assert json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_json_schema_returns_a_fresh_copy() -> None:
    schema = json_schema()
    schema["title"] = "changed"
    assert json_schema()["title"] != "changed"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_schema_accepts_valid_examples(validator: Any, path: Path) -> None:
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    assert errors == []


@pytest.mark.parametrize(
    "path", [p for p in INVALID if p.name not in NOT_FOR_THE_SCHEMA], ids=lambda p: p.name
)
def test_schema_rejects_invalid_examples(validator: Any, path: Path) -> None:
    assert not validator.is_valid(json.loads(path.read_text()))


@pytest.mark.parametrize(
    "data",
    [
        {"conda": {"dependencies": ["numpy>>1"]}},
        {"conda": {"dependencies": ["@@@"]}},
        {"conda": {"dependencies": [{"pip": ["-e ."]}]}},
        {"conda": {"prefix": "/home/u/env"}},
        {"conda": {"channels": ["my channel"]}},
        {"git": {"1X": {"remote": "https://x.org/r"}}},
        {"git": {"PATH": {"remote": "https://x.org/r"}}},
        {"git": {"LD_AUDIT": {"remote": "https://x.org/r"}}},
        {"http": {"PYTHONWARNINGS": {"url": "https://x.org/f"}}},
        {"git": {"D": {"remote": "--upload-pack=x"}}},
        {"git": {"D": {"ref": "main"}}},
        {"http": {"D": {"url": "ftp://x.org/f"}}},
        {"http": {"D": {"url": "https://x.org/f", "type": "zip"}}},
        {"http": {"D": {"url": "https://x.org/f", "compression": "gz"}}},
        {"http": {"D": {"url": "https://x.org/f", "sha256": "abc"}}},
        {"pinned": []},
        {"pinned": {"conda": {"python": 3}}},
    ],
)
def test_schema_rejects(validator: Any, data: dict[str, Any]) -> None:
    assert not validator.is_valid(data)


def test_schema_agrees_with_the_validator_on_enumerations() -> None:
    defs = json_schema()["$defs"]
    names, prefixes = defs["variable"]["not"]["anyOf"]
    assert set(names["enum"]) == RESERVED_VARIABLES
    assert prefixes["pattern"] == "^(" + "|".join(RESERVED_PREFIXES) + ")"
    assert defs["http"]["properties"]["compression"]["enum"] == [*COMPRESSIONS, None]
    assert tuple(defs["http"]["properties"]["type"]["enum"]) == HTTP_TYPES
