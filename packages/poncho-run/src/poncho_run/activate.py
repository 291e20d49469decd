"""What ``conda activate`` does to the environment variables, computed once and replayed.

`activate_base` sets what conda's activator sets: ``PATH`` with ``<prefix>/bin`` first (and
the previously active environment's ``bin`` removed), ``CONDA_PREFIX``,
``CONDA_DEFAULT_ENV``, ``CONDA_SHLVL`` (``CONDA_PREFIX_<n>`` keeps the previous one),
``CONDA_PROMPT_MODIFIER``; it unsets ``PYTHONPATH`` and ``PYTHONHOME``.

`compute_activation` then adds what the environment itself asks for: the variables of
``conda-meta/state`` (``conda env config vars``) and the effect of the
``etc/conda/activate.d/*.sh`` scripts, which it finds by sourcing them in ``sh`` between two
``env -0`` dumps. The result is stored relative to the prefix and to the variables' previous
values, so `apply_activation` can replay it for any later run, in any base environment, even
after the folder was moved; the scripts themselves run once per unpack. (Shell functions and
aliases the scripts define, and side effects other than variables, are not replayed.)

Applying is on the warm path: this module imports only ``os`` at load time.
"""

# Paths are str here: applying is on the warm path, where pathlib (which imports re) would
# cost more than the whole run.
# ruff: noqa: PTH113, PTH118, PTH119, PTH208

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["activate_base", "apply_activation", "compute_activation"]

# Template tokens: environment variables cannot hold NUL, so "\0P" and "\0O" are unambiguous.
_PREFIX = "\0P"
_OLD = "\0O"
_SEPARATORS = ":; "
# Variables a shell sets for itself; their change says nothing about the scripts.
_SHELL_OWN = frozenset({"_", "SHLVL", "PWD", "OLDPWD"})


def activate_base(prefix: str, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the variables ``conda activate <prefix>`` sets before its scripts run."""
    env = dict(base)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    bin_dir = os.path.join(prefix, "bin")
    old_prefix = env.get("CONDA_PREFIX") or None
    drop = {bin_dir}
    if old_prefix:
        drop.add(os.path.join(old_prefix, "bin"))
    path = env.get("PATH", os.defpath)
    env["PATH"] = os.pathsep.join([bin_dir, *(p for p in path.split(os.pathsep) if p not in drop)])
    if old_prefix != prefix:
        try:
            level = int(env.get("CONDA_SHLVL") or 0)
        except ValueError:
            level = 0
        if old_prefix:
            env[f"CONDA_PREFIX_{level}"] = old_prefix
        env["CONDA_SHLVL"] = str(level + 1)
    env.setdefault("CONDA_SHLVL", "1")
    env["CONDA_PREFIX"] = prefix
    env["CONDA_DEFAULT_ENV"] = prefix
    env["CONDA_PROMPT_MODIFIER"] = f"({os.path.basename(prefix)}) "
    return env


def apply_activation(
    prefix: str, activation: Mapping[str, Any], base: Mapping[str, str]
) -> dict[str, str]:
    """The full activated environment: `activate_base` plus the stored `activation`.

    `activation` is what `compute_activation` returned, possibly for another path of the
    same environment.
    """
    env = activate_base(prefix, base)
    for section in ("env_vars", "scripts"):
        change = activation.get(section) or {}
        for name in change.get("unset", ()):
            env.pop(name, None)
        for name, template in change.get("set", {}).items():
            env[name] = _expand(template, env.get(name, ""), prefix)
    return env


def compute_activation(prefix: str, base: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Find what the environment at `prefix` adds to `activate_base` (JSON-ready).

    Runs the ``etc/conda/activate.d/*.sh`` scripts (in name order, as conda does) once, in
    ``sh``; raises `RunError` if they cannot be run.
    """
    env = activate_base(prefix, os.environ if base is None else base)
    env_vars = _conda_env_vars(prefix)
    result: dict[str, Any] = {}
    if env_vars:
        result["env_vars"] = _diff(env, {**env, **env_vars}, prefix)
        env.update(env_vars)
    scripts = _activate_scripts(prefix)
    if scripts or os.path.isfile(os.path.join(prefix, "poncho", "set_env")):
        before, after = _source(prefix, scripts, env)
        result["scripts"] = _diff(before, after, prefix)
    return result


# -- computing -----------------------------------------------------------------------------


def _conda_env_vars(prefix: str) -> dict[str, str]:
    """The ``env_vars`` of ``conda-meta/state``, checked: a state file that is there must be
    what conda writes (``conda activate`` fails on anything else too), so that bad data is
    refused while unpacking, not by every later run."""
    import json

    from poncho_run.errors import RunError

    path = os.path.join(prefix, "conda-meta", "state")
    try:
        with open(path, "rb") as file:
            state = json.loads(file.read().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RunError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except RecursionError as exc:
        raise RunError(f"{path}: not a conda state file (JSON nested too deeply)") from exc
    except ValueError as exc:  # also UnicodeDecodeError
        raise RunError(f"{path}: not a conda state file (not JSON: {exc})") from exc
    if not isinstance(state, dict):
        raise RunError(f"{path}: not a conda state file (not a JSON object)")
    env_vars = state.get("env_vars", {})
    if not isinstance(env_vars, dict):
        raise RunError(f"{path}: env_vars must be an object of variable names to values")
    checked = {}
    for name, value in env_vars.items():
        if isinstance(value, (dict, list)) or value is None:
            raise RunError(f"{path}: env_vars[{_shown(name)}]: the value must be a string")
        text = str(value)
        problem = _env_problem(name, text)
        if problem:
            raise RunError(f"{path}: env_vars[{_shown(name)}]: {problem}")
        checked[name] = text
    return checked


def _env_problem(name: str, value: str) -> str | None:
    """Why `name`=`value` cannot be an environment variable (None if it can)."""
    if not name or "=" in name or "\0" in name:
        return "not a valid variable name (empty, or with '=' or NUL)"
    if "\0" in value:
        return "the value holds a NUL character"
    try:
        os.fsencode(name)
        os.fsencode(value)
    except UnicodeEncodeError:
        return "not encodable (a lone surrogate?)"
    return None


def _shown(name: str) -> str:
    return repr(name if len(name) <= 100 else f"{name[:50]}...{name[-50:]}")


def _activate_scripts(prefix: str) -> list[str]:
    folder = os.path.join(prefix, "etc", "conda", "activate.d")
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".sh"))
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names]


# Prints the environment, a lone NUL, then the environment after sourcing every script
# given as argument after the prefix (their own output goes to stderr), then the prefix's
# poncho/set_env, which tarballs of CCTools releases up to early 2023 carry (it sets the
# data variables from $1, the prefix).
_SOURCE_SCRIPT = (
    'env -0 && printf "\\0" && p=$1 && shift && for f do . "$f" >&2; done && '
    'if [ -f "$p/poncho/set_env" ]; then set -- "$p" && . "$p/poncho/set_env" >&2; fi && '
    "env -0"
)


def _source(
    prefix: str, scripts: list[str], env: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    import logging
    import subprocess

    from poncho_run.errors import RunError

    try:
        proc = subprocess.run(
            ["sh", "-c", _SOURCE_SCRIPT, "sh", prefix, *scripts],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise RunError(f"cannot run sh for the activate.d scripts: {exc}") from exc
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if stderr:
        logging.getLogger(__name__).info("activate.d scripts said: %s", stderr)
        stderr = stderr.splitlines()[-1].strip()  # an error message is one line: the last
    entries = proc.stdout.split(b"\0")
    if proc.returncode != 0 or b"" not in entries:
        names = ", ".join(os.path.basename(s) for s in scripts) or "poncho/set_env"
        raise RunError(
            f"activation scripts of {prefix} failed ({names}; sh exited with "
            f"status {proc.returncode}): {stderr or 'no message'}"
        )
    split = entries.index(b"")
    return _parse_env(entries[:split]), _parse_env(entries[split + 1 :])


def _parse_env(entries: list[bytes]) -> dict[str, str]:
    env = {}
    for entry in entries:
        name, sep, value = entry.partition(b"=")
        if sep:
            env[os.fsdecode(name)] = os.fsdecode(value)
    return env


def _diff(before: Mapping[str, str], after: Mapping[str, str], prefix: str) -> dict[str, Any]:
    changed = {
        name: _template(value, before.get(name, ""), prefix)
        for name, value in after.items()
        if name not in _SHELL_OWN and before.get(name) != value
    }
    removed = sorted(name for name in before if name not in after and name not in _SHELL_OWN)
    return {"set": dict(sorted(changed.items())), "unset": removed}


def _template(value: str, old: str, prefix: str) -> str:
    """`value` with the old value (where it stands as a whole list item) and the prefix
    replaced by tokens, so that it can be recomputed for another base and another path."""
    pieces: list[str | None] = []
    start = 0
    if old:
        index = value.find(old)
        while index != -1:
            end = index + len(old)
            if (index == 0 or value[index - 1] in _SEPARATORS) and (
                end == len(value) or value[end] in _SEPARATORS
            ):
                pieces.extend((value[start:index], None))
                start = end
                index = value.find(old, end)
            else:
                index = value.find(old, index + 1)
    pieces.append(value[start:])
    return "".join(_OLD if piece is None else piece.replace(prefix, _PREFIX) for piece in pieces)


def _expand(template: str, old: str, prefix: str) -> str:
    if "\0" not in template:
        return template
    parts = template.split("\0")
    out = [parts[0]]
    for part in parts[1:]:
        token, rest = part[:1], part[1:]
        if token == "P":
            out.append(prefix)
        elif old:
            out.append(old)
        elif rest[:1] in _SEPARATORS and rest:
            rest = rest[1:]  # no old value: drop the separator that joined it
        elif out[-1][-1:] in _SEPARATORS and out[-1]:
            out[-1] = out[-1][:-1]
        out.append(rest)
    return "".join(out)
