"""The pytest plugin is registered, cheap to import, and its fixtures work."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, poncho_testing.pytest_plugin;"
        "heavy = {'rattler', 'conda_pack', 'zstandard', 'poncho_testing.channel'};"
        "heavy &= set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("poncho_testing")
    assert plugin is not None and plugin.__name__ == "poncho_testing.pytest_plugin"


def test_lazy_exports() -> None:
    import poncho_testing

    assert "build_channel" in dir(poncho_testing)
    assert poncho_testing.build_channel.__module__ == "poncho_testing.channel"
    with pytest.raises(AttributeError, match="no_such_name"):
        poncho_testing.no_such_name  # noqa: B018
