from __future__ import annotations

import pytest

from poncho_analyze._conditions import Target, evaluate_code, flag_names
from poncho_analyze.imports import find_imports

PY313 = Target((3, 13, 1))
PY310 = Target((3, 10, 4))


@pytest.mark.parametrize(
    ("test", "on_313", "on_310"),
    [
        ("sys.version_info >= (3, 11)", True, False),
        ("sys.version_info < (3, 11)", False, True),
        ("(3, 11) <= sys.version_info", True, False),
        ("sys.version_info[:2] >= (3, 12)", True, False),
        ("sys.version_info >= (3, 10, 5)", True, False),
        ("sys.version_info[0] == 2", False, False),
        ("sys.version_info[0] >= 3", True, True),
        ("sys.version_info.major == 3 and sys.version_info.minor >= 11", True, False),
        ("sys.version_info > (3,)", True, True),
        ("(3, 8) <= sys.version_info < (3, 12)", False, True),
        ("sys.platform == 'win32'", False, False),
        ("sys.platform != 'win32'", True, True),
        ("sys.platform.startswith('linux')", True, True),
        ("sys.platform.startswith('win') or sys.platform == 'darwin'", False, False),
        ("'linux' in sys.platform", True, True),
        ("os.name == 'nt'", False, False),
        ("platform.system() == 'Windows'", False, False),
        ("not TYPE_CHECKING", True, True),
        ("typing.TYPE_CHECKING", False, False),
        ("six.PY2", False, False),
        ("PY3", True, True),
        ("sys.version_info >= (3, 11) and HAVE_X", None, False),
        ("sys.version_info >= (3, 11) or HAVE_X", True, None),
        ("os.environ.get('X') == '1'", None, None),
        ("sys.version_info >= min_version", None, None),
        ("sys.platform < 3", None, None),
    ],
)
def test_evaluate(test: str, on_313: bool | None, on_310: bool | None) -> None:
    assert evaluate_code(test, PY313) is on_313
    assert evaluate_code(test, PY310) is on_310


def test_flags_assigned_at_module_level() -> None:
    text = (
        "import sys\n"
        "PY2 = sys.version_info[0] == 2\n"
        "IS_WIN: bool = sys.platform == 'win32'\n"
        "NEW = sys.version_info >= (3, 12)  # comment\n"
        "NEW = compute()  # not understood: unknown again\n"
    )
    assert flag_names(text, PY313) == {"PY2": False, "IS_WIN": False}


# Shaped after real code: a compat module of a CLI tool, a config loader, a Windows helper.
COMPAT = """\
import os
import sys
from typing import TYPE_CHECKING

PY2 = sys.version_info[0] == 2
WINDOWS = sys.platform.startswith("win") or (sys.platform == "cli" and os.name == "nt")

if PY2:
    import urllib2 as request
    from StringIO import StringIO
else:
    from urllib import request
    from io import StringIO

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

if WINDOWS:
    import winreg
    import colorama
elif sys.platform == "darwin":
    import appnope
else:
    import fcntl

if TYPE_CHECKING:
    from mypy_extensions import TypedDict


def load(path):
    if sys.version_info < (3, 9):
        import importlib_resources as resources
    else:
        from importlib import resources
    return resources, tomllib, request, StringIO
"""


@pytest.mark.parametrize("fast", [True, False])
def test_dead_branches_are_dropped_with_their_reason(fast: bool) -> None:
    found = find_imports(COMPAT, path="compat.py", target=PY313, fast=fast)
    assert [i.module for i in found.imports] == [
        "os", "sys", "typing", "urllib", "io", "tomllib", "fcntl", "importlib",
    ]  # fmt: skip
    dropped = {i.module: reason for i, reason in found.dropped}
    assert dropped == {
        "urllib2": "under `if PY2:`, false for Python 3.13 on linux",
        "StringIO": "under `if PY2:`, false for Python 3.13 on linux",
        "tomli": "in the else of `if sys.version_info >= (3, 11):`, true for Python 3.13 on linux",
        "winreg": "under `if WINDOWS:`, false for Python 3.13 on linux",
        "colorama": "under `if WINDOWS:`, false for Python 3.13 on linux",
        "appnope": "under `if sys.platform == \"darwin\":`, false for Python 3.13 on linux",
        "mypy_extensions": "under `if TYPE_CHECKING:`, for type checkers only",
        "importlib_resources": (
            "under `if sys.version_info < (3, 9):`, false for Python 3.13 on linux"
        ),
    }  # fmt: skip


def test_an_older_target_takes_the_other_branch() -> None:
    found = find_imports(COMPAT, target=Target((3, 8)))
    names = [i.module for i in found.imports]
    assert "tomli" in names and "importlib_resources" in names and "tomllib" not in names


def test_without_a_target_only_type_checking_is_dropped() -> None:
    found = find_imports(COMPAT)
    assert {"urllib2", "tomli", "tomllib", "winreg", "appnope"} <= {i.module for i in found.imports}
    assert [i.module for i, _ in found.dropped] == ["mypy_extensions"]


def test_unknown_conditions_keep_both_branches() -> None:
    text = "if os.environ.get('FAST'):\n    import ujson as json\nelse:\n    import json\n"
    found = find_imports(text, target=PY313)
    assert [i.module for i in found.imports] == ["ujson", "json"]
    assert found.dropped == ()
