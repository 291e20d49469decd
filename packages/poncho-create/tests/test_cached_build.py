"""The cache name of a build: everything that decides the tarball is in it (issue 26.4)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from poncho_create.cached_build import entry_name
from poncho_create.options import CreateOptions
from poncho_spec import Spec


def _name(spec: dict[str, Any], fmt: str = "tar.gz", **given: Any) -> str:
    loaded = Spec.from_dict(json.loads(json.dumps(spec)), source="<spec>")
    options = CreateOptions.resolve(**given)
    return entry_name(loaded, options, fmt, tuple(loaded.conda.channels))


CONDA = {"conda": {"channels": ["file:///c"], "dependencies": ["python"]}}
PIP = {"conda": {"channels": ["file:///c"], "dependencies": ["python", {"pip": ["six"]}]}}


def test_pip_config_is_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seams 13: --pip-config, and what pip's configuration says, change the name."""
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    plain = _name(PIP)
    configured = _name(PIP, pip_config=True)
    assert configured != plain
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    assert _name(PIP, pip_config=True) != configured
    assert _name(PIP) == plain  # without --pip-config pip never reads it


def test_pip_options_matter_only_for_pip_entries() -> None:
    assert _name(CONDA, no_index=True, pip_config=True) == _name(CONDA)
    assert _name(PIP, no_index=True) != _name(PIP)


def test_a_compression_level_given_is_in_the_key(tmp_path: Path) -> None:
    assert _name(CONDA, compression_level=9) != _name(CONDA)
    assert _name(CONDA, "tar", compression_level=9) == _name(CONDA, "tar")
    assert _name(CONDA, "tar.zst") != _name(CONDA)
