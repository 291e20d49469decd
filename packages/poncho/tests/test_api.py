"""The meta-package gathers the public APIs of the five packages, imported lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import poncho


@pytest.mark.parametrize("name", sorted(poncho._EXPORTS))
def test_each_export_is_the_package_object(name: str) -> None:
    module, attribute = poncho._EXPORTS[name]
    assert getattr(poncho, name) is getattr(importlib.import_module(module), attribute)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        poncho.nope  # noqa: B018


def test_dir_lists_the_api() -> None:
    assert set(poncho._EXPORTS) <= set(dir(poncho))


def test_import_is_lazy() -> None:
    code = "import sys, poncho; print(sorted(m for m in sys.modules if m.startswith('poncho_')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_lists_every_export() -> None:
    assert set(poncho.__all__) == {*poncho._EXPORTS, "__version__"}
