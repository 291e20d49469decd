"""probe_interpreter finds the base installation behind any python, venvs included."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from poncho_testing import BuildError
from poncho_testing._interpreter import probe_interpreter


def test_probe_running_interpreter() -> None:
    interp = probe_interpreter(sys.executable)
    assert interp.version == platform.python_version()
    assert interp.base_prefix == Path(sys.base_prefix).resolve()
    assert interp.executable.is_file()
    assert interp.cache_tag == sys.implementation.cache_tag
    assert interp.stdlib == (interp.base_prefix / "lib" / f"python{interp.short_version}")


def test_probe_failure_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="cannot run the interpreter"):
        probe_interpreter(str(tmp_path / "no-python"))
