from __future__ import annotations

import sys

import pytest

from poncho_analyze.stdlib import change_note, parse_version, stdlib_modules


def test_running_version_is_sys_stdlib_module_names() -> None:
    assert stdlib_modules() == frozenset(sys.stdlib_module_names)
    assert stdlib_modules(sys.version_info[:2]) == frozenset(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ((3, 8), {"distutils", "imp", "asyncore", "binhex", "parser"}, {"tomllib", "zoneinfo"}),
        ((3, 11), {"tomllib", "distutils", "telnetlib"}, {"binhex", "annotationlib"}),
        ((3, 12), {"tomllib", "telnetlib", "cgi"}, {"distutils", "imp", "smtpd"}),
        ((3, 13), {"tomllib"}, {"telnetlib", "cgi", "lib2to3", "distutils"}),
        ((3, 14), {"annotationlib", "compression"}, {"telnetlib"}),
    ],
)
def test_other_versions(version: tuple[int, int], present: set[str], absent: set[str]) -> None:
    names = stdlib_modules(version)
    assert present <= names
    assert not absent & names
    assert {"os", "sys", "json"} <= names


def test_from_another_base() -> None:
    base = {"os", "distutils", "tomllib"}
    assert stdlib_modules((3, 12), base=base, base_version=(3, 11)) == {"os", "tomllib"}
    assert stdlib_modules((3, 10), base=base, base_version=(3, 11)) == {"os", "distutils", "binhex"}


def test_unsupported_versions() -> None:
    with pytest.raises(ValueError, match=r"3\.7 is not supported"):
        stdlib_modules((3, 7))
    with pytest.raises(ValueError, match="not supported"):
        stdlib_modules((3, 15))


def test_parse_version() -> None:
    assert parse_version("3.12") == (3, 12)
    assert parse_version(" 3.10.13 ") == (3, 10)
    for bad in ("3", "3.x", "3.1.2.3", ""):
        with pytest.raises(ValueError, match="not a Python version"):
            parse_version(bad)


def test_change_note() -> None:
    assert change_note("distutils", (3, 12)) == "removed from the standard library in Python 3.12"
    assert change_note("tomllib", (3, 10)) == "in the standard library only from Python 3.11 on"
    assert change_note("numpy", (3, 12)) is None
