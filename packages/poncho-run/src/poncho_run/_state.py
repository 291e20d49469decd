"""The state file an unpacked environment keeps: ``<prefix>/.poncho-run/state.json``.

Written once per unpack (after relocation and activation, atomically, as the last step), read
by every later run. Its presence is what makes a folder "ready": a warm run reads it and
runs the command without taking any lock or looking at the tarball.

This module is on the warm path: it imports nothing beyond what the interpreter has loaded
at startup (the ``json`` package would pull in ``re``; the C scanner it wraps is used
directly, with ``json`` as the fallback where that scanner does not exist).
"""

# Paths are str here: on the warm path, where pathlib (which imports re) would cost more than
# the whole run.
# ruff: noqa: PTH103, PTH105, PTH108, PTH118

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["STATE_DIR", "STATE_VERSION", "read_state", "state_path", "write_state"]

STATE_DIR = ".poncho-run"
STATE_VERSION = 1


def state_path(prefix: str) -> str:
    """Where the state file of the environment at `prefix` lives."""
    return os.path.join(prefix, STATE_DIR, "state.json")


def read_state(prefix: str) -> dict[str, Any] | None:
    """The state of the environment at `prefix`, or None if it is not (yet) ready.

    A file of another state version, or one that cannot be parsed, counts as not ready: the
    caller then recomputes it under the lock.
    """
    try:
        with open(state_path(prefix), "rb") as file:
            text = file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        state = _loads(text)
    except (ValueError, SystemError, RecursionError):  # the C scanner raises SystemError
        # on some truncated documents (issue 13 item 14)
        return None
    if not isinstance(state, dict) or state.get("state_version") != STATE_VERSION:
        return None
    return state


def write_state(prefix: str, state: dict[str, Any]) -> None:
    """Write `state` (plus the version) for the environment at `prefix`, atomically."""
    import json
    import tempfile

    folder = os.path.join(prefix, STATE_DIR)
    os.makedirs(folder, exist_ok=True)
    data = {"state_version": STATE_VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix="state.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=1, sort_keys=True)
        os.replace(tmp, state_path(prefix))
    except BaseException:
        os.unlink(tmp)
        raise


def _loads(text: str) -> Any:
    scanner = _scanner()
    if scanner is None:
        import json

        return json.loads(text)
    text = text.strip(" \t\n\r")
    try:
        value, end = scanner(text, 0)
    except StopIteration as exc:
        raise ValueError("not JSON") from exc
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value


class _Context:
    # The attributes json.scanner.c_make_scanner reads from a JSONDecoder.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str]

    def __init__(self) -> None:
        self.memo = {}

    @staticmethod
    def parse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed here")


def _scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - CPython always has it
        return None
    scan: Callable[[str, int], tuple[Any, int]] = make_scanner(_Context())  # type: ignore[arg-type]
    return scan
