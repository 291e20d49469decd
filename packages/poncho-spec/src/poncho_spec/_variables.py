"""Variable names a spec's git and http entries may not take, and why.

Each entry sets an environment variable to the path of downloaded data, in the task's
environment and in every process it starts. So a name that the environment itself needs
(``PATH``) would break it, and a name that changes how a process starts would let the
data, which comes from a server, decide what runs: ``LD_PRELOAD``/``LD_AUDIT`` load a
library into every program, ``BASH_ENV``/``ENV`` run a script in every shell,
``PYTHONSTARTUP``/``PYTHONPATH``/``PYTHONHOME``/``PYTHONUSERBASE`` run code in every Python,
``GIT_SSH_COMMAND``/``GIT_EXEC_PATH``/``GIT_CONFIG_*`` run commands in every git (poncho-fetch
itself runs git). Whole families are reserved by prefix, since new members appear with new
releases of the loader, Python or git; the names below are the rest.
"""

from __future__ import annotations

__all__ = ["RESERVED_PREFIXES", "RESERVED_VARIABLES", "reserved_reason"]

_NEEDED = "the environment needs it"
_LOADER = "it changes how the dynamic loader starts every program"
_SHELL = "it changes how shells start (they run or read what it names)"
_PYTHON = "it changes how Python starts (the interpreter reads PYTHON* variables)"
_GIT = "it changes how git starts and what it runs (poncho-fetch and your task may run git)"
_OTHER = "it changes how an interpreter or tool starts (it loads code from what it names)"

_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "PATH",
            "HOME",
            "PWD",
            "SHELL",
            "USER",
            "TMPDIR",
            "LANG",
            "CONDA_PREFIX",
            "CONDA_DEFAULT_ENV",
        ),
        _NEEDED,
    ),
    **dict.fromkeys(("GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES"), _LOADER),
    **dict.fromkeys(
        (
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "BASHOPTS",
            "IFS",
            "PS4",
            "PROMPT_COMMAND",
            "CDPATH",
            "GLOBIGNORE",
        ),
        _SHELL,
    ),
    **dict.fromkeys(
        (
            "PERL5LIB",
            "PERL5OPT",
            "PERLLIB",
            "RUBYOPT",
            "RUBYLIB",
            "NODE_OPTIONS",
            "NODE_PATH",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "SSH_ASKPASS",
        ),
        _OTHER,
    ),
}

RESERVED_VARIABLES: frozenset[str] = frozenset(
    {
        *_NAMES,
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "LD_AUDIT",
        "GIT_SSH_COMMAND",
    }
)
"""Names refused one by one (the prefixes below refuse more)."""

RESERVED_PREFIXES: dict[str, str] = {
    "LD_": _LOADER,
    "DYLD_": _LOADER,
    "PYTHON": _PYTHON,
    "GIT_": _GIT,
    "BASH_FUNC_": _SHELL,
}
"""Families of names refused, with the reason."""


def reserved_reason(var: str) -> str | None:
    """Why `var` cannot name a data variable, or None if it can."""
    if var in _NAMES:
        return _NAMES[var]
    for prefix, reason in RESERVED_PREFIXES.items():
        if var.startswith(prefix):
            return reason
    return None
