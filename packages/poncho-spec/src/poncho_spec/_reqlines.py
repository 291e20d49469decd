"""Requirement lines as pip reads them, with pip's own parser (pip-requirements-parser, the
``import`` extra): parsing lines given as text, and what an option or a line that is no
requirement means for a spec.

Used by :mod:`poncho_spec.importers` (requirements files) and by :mod:`poncho_spec._pip`
(a pip entry that is a requirements-file line, ``-e .``). Imports nothing of the package.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["TEMP_PREFIX", "explain_pip_line", "from_text", "option_note"]

# requirements-file option -> what to do instead (notes, not errors)
_OPTION_NOTES = {
    "index_url": "give it to poncho_package_create --pip-index-url",
    "extra_index_urls": "a spec names no index; use --pip-index-url or --find-links",
    "find_links": "give it to poncho_package_create --find-links",
    "no_index": "give poncho_package_create --no-index",
    "trusted_hosts": "not needed: indexes are reached over https",
    "only_binary": "not kept: pip's defaults apply",
    "no_binary": "not kept: pip's defaults apply",
    "prefer_binary": "not kept: pip's defaults apply",
    "pre": "not kept: pin pre-release versions explicitly",
    "require_hashes": "not kept: the lock records the sha256 of every package installed",
    "use_feature": "not kept",
}
TEMP_PREFIX = "poncho-import-"
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(\s*=\s*|\s+)(\S+)(.*)$")


def option_note(key: str) -> str:
    """``--flag: what to do instead`` for a requirements-file option parsed as `key`."""
    flag = key.replace("_", "-")
    if key.endswith(("_urls", "_hosts")):
        flag = flag.removesuffix("s")
    return f"--{flag}: {_OPTION_NOTES.get(key, 'not kept')}"


def explain_pip_line(entry: str) -> str | None:
    """Why `entry`, read as a line of a requirements file, is no requirement a spec can
    hold: pip's own parser (pip-requirements-parser) names the option or the error. None
    when the ``import`` extra is missing or the parser has nothing to say."""
    if re.match(r"(-r|--requirement|-c|--constraint)\b", entry):  # never read the file
        return "a requirements-file include (-r/-c): give its requirements instead"
    try:
        parser = importlib.import_module("pip_requirements_parser")
    except ImportError:
        return None
    try:
        parsed = from_text(parser, entry, Path.cwd())
    except Exception:  # the parser's own failure: the caller's message stands
        return None
    for option in parsed.options:
        keys = [k for k in option.options if k not in ("requirements", "constraints")]
        if keys:
            return f"the requirements-file option {option_note(keys[0])}"
    for req in parsed.requirements:
        if req.is_editable:
            target = req.line.split(None, 1)[-1] if " " in req.line else req.line[2:]
            return f"an editable install (-e): give the path alone ({target.strip()!r})"
    for invalid in parsed.invalid_lines:
        return " ".join(str(invalid.error_message).split())
    return None


def from_text(parser: Any, text: str, folder: Path) -> Any:
    """Parse requirement lines given as text (an environment file's ``pip:`` list), with
    ``-r``/``-c`` paths relative to `folder` as pip reads them; nothing is written there."""
    lines = []
    for line in text.splitlines():
        match = _INCLUDE.match(line.strip())
        if match and not Path(match[3]).is_absolute():
            line = f"{match[1]} {folder / match[3]}{match[4]}"
        lines.append(line)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as temp:
        lines_file = Path(temp) / "pip.txt"
        lines_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return parser.RequirementsFile.from_file(str(lines_file), include_nested=True)
