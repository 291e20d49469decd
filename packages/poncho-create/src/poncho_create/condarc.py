"""Reading the user's conda configuration (``.condarc`` files) without a YAML library.

Used for where conda keeps named environments (``envs_dirs``) and, with ``--use-condarc``,
for channels (``channels``, ``channel_alias``, ``custom_channels``). Only the forms condarc
files use are read: ``key: value``, ``key: [a, b]``, ``key:`` followed by ``- item`` lines,
and ``key:`` followed by indented ``name: value`` lines; a key in another form is skipped
with a warning, never guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CondaConfig", "condarc_files", "parse_condarc", "read_condarc"]

log = logging.getLogger(__name__)

CondaConfig = dict[str, "str | list[str] | dict[str, str]"]

_KEY = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<rest>.*)$")
_ENTRY = re.compile(r"^\s+(?P<key>[^\s:#][^:#]*?)\s*:\s*(?P<value>.+)$")


def condarc_files(env: Mapping[str, str], home: Path) -> list[Path]:
    """The condarc files that exist, the most specific first (conda's search path, reversed:
    ``$CONDARC``, the active environment's, the user's, the system's)."""
    files = [Path("/etc/conda/.condarc"), Path("/etc/conda/condarc")]
    root = env.get("CONDA_ROOT")
    if root:
        files.append(Path(root) / ".condarc")
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    files += [
        xdg / "conda" / ".condarc",
        xdg / "conda" / "condarc",
        home / ".conda" / ".condarc",
        home / ".conda" / "condarc",
        home / ".condarc",
    ]
    prefix = env.get("CONDA_PREFIX")
    if prefix:
        files.append(Path(prefix) / ".condarc")
    if env.get("CONDARC"):
        files.append(Path(env["CONDARC"]))
    return list(reversed([f for f in files if f.is_file()]))


def parse_condarc(text: str, source: str = "condarc") -> CondaConfig:
    """The top-level settings of one condarc text: strings, lists of strings, and
    mappings of strings."""
    out: CondaConfig = {}
    lines = [line.split(" #")[0].rstrip() for line in text.splitlines()]
    i = 0
    while i < len(lines):
        match = _KEY.match(lines[i])
        i += 1
        if match is None:
            continue
        key, rest = match["key"], match["rest"].strip()
        if rest.startswith("["):
            if not rest.endswith("]"):
                log.warning("%s: %s: a list over several lines, ignored", source, key)
                continue
            out[key] = [_unquote(v) for v in rest[1:-1].split(",") if v.strip()]
        elif rest:
            out[key] = _unquote(rest)
        else:
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                if lines[i].strip():
                    block.append(lines[i])
                i += 1
            items = [line.strip() for line in block]
            if all(item.startswith("-") for item in items):
                out[key] = [_unquote(item[1:]) for item in items]
            elif all(_ENTRY.match(line) for line in block):
                out[key] = {
                    _unquote(m["key"]): _unquote(m["value"])
                    for m in (_ENTRY.match(line) for line in block)
                    if m is not None
                }
            else:
                log.warning("%s: %s: a form this reader does not know, ignored", source, key)
    return out


def read_condarc(env: Mapping[str, str], home: Path) -> tuple[CondaConfig, list[Path]]:
    """The settings of every condarc file merged as conda merges them: for a string the most
    specific file wins, lists are joined most specific first, mappings merged. Returns the
    settings and the files read (most specific first)."""
    merged: CondaConfig = {}
    files = condarc_files(env, home)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s: cannot read it, ignored (%s)", path, exc)
            continue
        for key, value in parse_condarc(text, str(path)).items():
            have = merged.get(key)
            if have is None:
                merged[key] = value
            elif isinstance(have, list) and isinstance(value, list):
                merged[key] = have + [v for v in value if v not in have]
            elif isinstance(have, dict) and isinstance(value, dict):
                merged[key] = {**value, **have}
    return merged, files


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
