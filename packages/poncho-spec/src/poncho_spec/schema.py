"""The JSON Schema of the spec format, shipped as package data for editors and tools.

The schema checks structure (keys, types, names, enumerations); the package's own
validation also checks match specs, PEP 508 requirements and cross-entry rules.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SCHEMA_RESOURCE", "json_schema"]

SCHEMA_RESOURCE = "schema/poncho-spec.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a Poncho spec, as a fresh dict."""
    from importlib import resources

    text = resources.files("poncho_spec").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
