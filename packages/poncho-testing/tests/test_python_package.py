"""Failure paths of the python package builder (its success is proven in test_channel)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from poncho_testing import BuildError
from poncho_testing._interpreter import probe_interpreter
from poncho_testing._python_package import build_python_package, find_patchelf


def test_patchelf_is_found() -> None:
    assert Path(find_patchelf()).name == "patchelf"


def test_missing_patchelf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(BuildError, match="patchelf not found"):
        find_patchelf()


def test_static_interpreter_is_refused(tmp_path: Path) -> None:
    interp = dataclasses.replace(probe_interpreter(sys.executable), shared=False)
    with pytest.raises(BuildError, match="--enable-shared"):
        build_python_package(interp, "linux-64", tmp_path, tmp_path)
