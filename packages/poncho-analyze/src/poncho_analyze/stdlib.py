"""The standard library's top-level module names for a target Python version.

For the running version (or an inspected interpreter) the names come from
``sys.stdlib_module_names``.  For another target version they are derived from it with
the table below of modules added and removed between 3.8 and 3.14.

Source of the table: the "New Modules" and "Removed" sections of the "What's New in
Python 3.9" ... "What's New in Python 3.14" documents (docs.python.org/3/whatsnew/),
PEP 594 for the 3.13 removals and PEP 632 for ``distutils``.  Only top-level names matter
here (an import is matched by its first component).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["MAX_VERSION", "MIN_VERSION", "change_note", "parse_version", "stdlib_modules"]

MIN_VERSION = (3, 8)
MAX_VERSION = (3, 14)

# version -> (modules added in it, modules removed in it)
_CHANGES: dict[tuple[int, int], tuple[frozenset[str], frozenset[str]]] = {
    (3, 9): (frozenset({"graphlib", "zoneinfo"}), frozenset({"_dummy_thread", "dummy_threading"})),
    (3, 10): (frozenset(), frozenset({"formatter", "parser", "symbol"})),
    (3, 11): (frozenset({"tomllib"}), frozenset({"binhex"})),
    (3, 12): (frozenset(), frozenset({"asynchat", "asyncore", "distutils", "imp", "smtpd"})),
    (3, 13): (
        frozenset(),
        frozenset(
            {
                "aifc",
                "audioop",
                "cgi",
                "cgitb",
                "chunk",
                "crypt",
                "imghdr",
                "lib2to3",
                "mailcap",
                "msilib",
                "nis",
                "nntplib",
                "ossaudiodev",
                "pipes",
                "sndhdr",
                "spwd",
                "sunau",
                "telnetlib",
                "uu",
                "xdrlib",
            }
        ),
    ),
    (3, 14): (frozenset({"annotationlib", "compression"}), frozenset()),
}


def parse_version(text: str) -> tuple[int, int]:
    """``"3.12"`` or ``"3.12.1"`` -> ``(3, 12)``; ValueError for anything else."""
    parts = text.strip().split(".")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a Python version (X.Y or X.Y.Z)")
    return int(parts[0]), int(parts[1])


def _check(version: tuple[int, int]) -> None:
    if not MIN_VERSION <= version <= MAX_VERSION:
        low = ".".join(map(str, MIN_VERSION))
        high = ".".join(map(str, MAX_VERSION))
        raise ValueError(
            f"Python {version[0]}.{version[1]} is not supported (from {low} to {high})"
        )


def stdlib_modules(
    target: tuple[int, int] | None = None,
    *,
    base: Iterable[str] | None = None,
    base_version: tuple[int, int] | None = None,
) -> frozenset[str]:
    """Top-level standard-library module names of Python *target* (default: running).

    *base* and *base_version* give the names known for one version (default: this
    interpreter's ``sys.stdlib_module_names``); the table bridges the gap to *target*.
    Raises ValueError for a target outside 3.8 ... 3.14 (unless it is the base version).
    """
    names = set(sys.stdlib_module_names if base is None else base)
    have = sys.version_info[:2] if base_version is None else base_version
    if target is None or target == have:
        return frozenset(names)
    _check(target)
    version = have
    while version < target:
        version = (version[0], version[1] + 1)
        added, removed = _CHANGES.get(version, (frozenset(), frozenset()))
        names = (names - removed) | added
    while version > target:
        added, removed = _CHANGES.get(version, (frozenset(), frozenset()))
        names = (names - added) | removed
        version = (version[0], version[1] - 1)
    return frozenset(names)


# Standard-library modules of Python 2 that Python 3 renamed or removed (PEP 3108).
_PYTHON2_ONLY = frozenset(
    {
        "__builtin__",
        "BaseHTTPServer",
        "CGIHTTPServer",
        "ConfigParser",
        "Cookie",
        "HTMLParser",
        "Queue",
        "SimpleHTTPServer",
        "SocketServer",
        "StringIO",
        "Tkinter",
        "UserDict",
        "commands",
        "cPickle",
        "cStringIO",
        "cookielib",
        "dummy_thread",
        "htmlentitydefs",
        "httplib",
        "md5",
        "repr",
        "sets",
        "sha",
        "thread",
        "urllib2",
        "urlparse",
        "xmlrpclib",
    }
)


def change_note(name: str, target: tuple[int, int]) -> str | None:
    """Why *name* is not in the standard library of *target* although it was or will be:
    ``"removed from the standard library in Python 3.12"`` or None."""
    if name in _PYTHON2_ONLY:
        return "a Python 2 standard-library module: this looks like Python 2 source"
    for version, (added, removed) in sorted(_CHANGES.items()):
        if name in removed and target >= version:
            return f"removed from the standard library in Python {version[0]}.{version[1]}"
        if name in added and target < version:
            return f"in the standard library only from Python {version[0]}.{version[1]} on"
    return None
