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
# ruff: noqa: PTH103, PTH105, PTH108, PTH110, PTH118

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "PENDING_SUFFIX",
    "SHELL_STATE",
    "STATE_DIR",
    "STATE_VERSION",
    "folder_path",
    "publish_state",
    "read_state",
    "record_data",
    "shell_state",
    "state_path",
    "write_state",
]

STATE_DIR = ".poncho-run"
STATE_VERSION = 1
#: A state written but not yet published (``state.json.pending``): the folder is not ready.
PENDING_SUFFIX = ".pending"


#: The same state for the shell front end of ``poncho_package_run``: sourced, it sets
#: ``_poncho_state`` (the version), ``_poncho_data`` (1 if the spec names data) and defines
#: ``_poncho_apply``, which applies the stored activation for the prefix in
#: ``$_poncho_prefix`` (after the front end's own ``conda activate`` base variables). Once
#: a run has fetched the spec's data, it also sets ``_poncho_data_recorded=1`` and defines
#: ``_poncho_data_each``, which calls its argument with ``VAR KEY PATH`` for each entry (the
#: variable, the data cache key, the path inside the entry), stopping at the first failure:
#: the front end then serves the data from the cache itself (see `record_data`).
SHELL_STATE = "state.sh"


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


def write_state(prefix: str, state: dict[str, Any], *, pending: bool = False) -> None:
    """Write `state` (plus the version) for the environment at `prefix`, atomically.

    With `pending`, it is written beside the state file (``state.json.pending``) and the
    folder stays not ready until `publish_state`: an unpack writes it in the temporary
    sibling and publishes it only once the sibling has been renamed to its final name, so
    that no run takes the folder as ready while it is still the temporary link.
    """
    import json

    folder = os.path.join(prefix, STATE_DIR)
    os.makedirs(folder, exist_ok=True)
    data = {"state_version": STATE_VERSION, **state}
    suffix = PENDING_SUFFIX if pending else ""
    text = json.dumps(data, indent=1, sort_keys=True)
    shell = shell_state(data)
    if shell is None:  # the shell front end then hands the run to the Python engine
        for name in (SHELL_STATE, SHELL_STATE + PENDING_SUFFIX):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    else:
        _write(folder, SHELL_STATE + suffix, shell)
    # The JSON state last: it is what makes the folder ready for the Python side.
    _write(folder, "state.json" + suffix, text)


def _write(folder: str, name: str, text: str) -> None:
    from poncho_core.fs import atomic_write

    # The umask's mode (not mkstemp's 0600): other users of a shared folder read it.
    atomic_write(os.path.join(folder, name), text)


def record_data(prefix: str, entries: list[dict[str, str]]) -> bool:
    """Add to the state of the ready environment at `prefix` where the data of its spec is
    in the node's data cache: `entries` are ``{"var", "key", "path"}`` (the variable, the
    poncho-fetch cache key, the path inside the entry). The shell front end then serves
    later warm runs from the cache itself: it finds the cache folder, holds each entry in
    use and sets the variables, as poncho-fetch would, and hands over to the engine when an
    entry is missing.

    Returns whether the state was rewritten: not when it already says so, nor when the
    folder is not ready or its state cannot be written (another user's shared folder).
    """
    state = read_state(prefix)
    if state is None or state.get("data_entries") == entries:
        return False
    state = {k: v for k, v in state.items() if k != "state_version"}
    state["data_entries"] = entries
    try:
        write_state(prefix, state)  # each file replaced whole: readers see old or new
    except OSError:
        return False
    return True


def publish_state(prefix: str) -> bool:
    """Make the pending state of `prefix` its state (the folder becomes ready); return
    whether there was one."""
    path = state_path(prefix)
    shell = os.path.join(prefix, STATE_DIR, SHELL_STATE)
    if not os.path.exists(path + PENDING_SUFFIX):
        return False
    try:
        os.replace(shell + PENDING_SUFFIX, shell)
    except FileNotFoundError:
        pass
    try:
        os.replace(path + PENDING_SUFFIX, path)
    except FileNotFoundError:
        return False
    return True


# -- the shell form ------------------------------------------------------------------------

_SEPARATORS = ":; "


def shell_state(state: dict[str, Any]) -> str | None:
    """The shell form of `state` (see `SHELL_STATE`), or None if its activation cannot be
    written as plain shell assignments (a variable name the shell cannot assign)."""
    lines = [
        "# poncho-run state, sourced by poncho_package_run's shell front end; do not edit",
        f"_poncho_state={STATE_VERSION}",
        f"_poncho_data={1 if state.get('data') else 0}",
        # The archive DIR was unpacked from: a warm run given -e checks its size and mtime
        # (anything else goes to the engine, which checks its content).
        f"_poncho_archive_size={_int(state, 'size')}",
        f"_poncho_archive_mtime={_int(state, 'mtime')}",
        f"_poncho_archive_sha256={_text(state, 'sha256')}",
        f"_poncho_archive_path={_text(state, 'path')}",
        "_poncho_apply() {",
    ]
    activation = state.get("activation") or {}
    for section in ("env_vars", "scripts"):
        change = activation.get(section) or {}
        for name in change.get("unset", ()):
            if not _is_name(name):
                return None
            lines.append(f"    unset {name}")
        for name, template in change.get("set", {}).items():
            if not _is_name(name):
                return None
            lines.append(f"    {name}={_shell_value(name, template)}; export {name}")
    lines += ["    :", "}"]
    entries = _data_calls(state.get("data_entries"))
    if entries is not None:
        lines += ["_poncho_data_recorded=1", "_poncho_data_each() {", *entries, "    :", "}"]
    lines.append("")
    return "\n".join(lines)


def _data_calls(entries: Any) -> list[str] | None:
    """The body of ``_poncho_data_each`` for the recorded data `entries`, or None if there
    are none or one is not as `record_data` writes it (the engine then serves the data)."""
    if not isinstance(entries, list) or not entries:
        return None
    calls = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        var, key, path = entry.get("var"), entry.get("key"), entry.get("path")
        if not (isinstance(var, str) and _is_name(var)):
            return None
        if not (isinstance(key, str) and key and all(c in "0123456789abcdef" for c in key)):
            return None
        if not isinstance(path, str) or not _inside(path):
            return None
        calls.append(f'    "$1" {var} {key} {_quote(path)} &&')
    return calls


def _inside(path: str) -> bool:
    """Whether `path` is a relative path that stays inside the folder it is relative to."""
    return (
        bool(path) and "\0" not in path and not path.startswith("/") and ".." not in path.split("/")
    )


def _int(state: dict[str, Any], key: str) -> str:
    archive = state.get("archive")
    value = archive.get(key) if isinstance(archive, dict) else None
    return str(value) if isinstance(value, int) else ""


def _text(state: dict[str, Any], key: str) -> str:
    archive = state.get("archive")
    value = archive.get(key) if isinstance(archive, dict) else None
    return _quote(value) if isinstance(value, str) else ""


def _is_name(name: str) -> bool:
    return (
        bool(name)
        and not name[0].isdigit()
        and all(c == "_" or ("a" <= c.lower() <= "z") or c.isdigit() for c in name)
        and name.isascii()
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'" if text else ""


def _shell_value(name: str, template: str) -> str:
    """The shell word that `activate._expand` computes for `template` ("\\0P" is the
    prefix, "\\0O" the variable's value before; a separator next to an empty old value
    is dropped)."""
    parts = template.split("\0")
    literal = parts[0]
    words: list[str] = []
    for part in parts[1:]:
        token, rest = part[:1], part[1:]
        if token == "P":
            words += [_quote(literal), '"$_poncho_prefix"']
            literal = rest
        elif rest[:1] in _SEPARATORS and rest:
            words += [_quote(literal), f'"${{{name}:+${{{name}}}{rest[0]}}}"']
            literal = rest[1:]
        elif literal[-1:] in _SEPARATORS and literal:
            words += [_quote(literal[:-1]), f'"${{{name}:+{literal[-1]}${{{name}}}}}"']
            literal = rest
        else:
            words += [_quote(literal), f'"${{{name}-}}"']
            literal = rest
    words.append(_quote(literal))
    return "".join(words) or "''"


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


def folder_path(folder: str | os.PathLike[str]) -> str:
    """The absolute path of an unpack folder DIR, as every reader and writer names it: the
    user's links above it are kept, but DIR itself, when it is a link to a folder (`-u
    link`), is that folder (its lock then sits beside it; the shell front end does the
    same with ``cd -P``)."""
    path = os.path.abspath(folder)  # noqa: PTH100 (not resolve(): keep the user's links)
    if os.path.islink(path) and os.path.isdir(path):  # noqa: PTH112, PTH114 (no pathlib import)
        target = os.readlink(path)  # noqa: PTH115
        # Not the protocol's own link DIR -> DIR.poncho-tmp-* (an unpack under way, or the
        # leftover of a killed one, which the next unpacker removes).
        if not os.path.basename(target).startswith(os.path.basename(path) + ".poncho-tmp-"):  # noqa: PTH119
            return os.path.realpath(path)
    return path
