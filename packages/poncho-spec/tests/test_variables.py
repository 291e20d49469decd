"""Variable names that change how processes start are reserved (issue 13 clean-up)."""

from __future__ import annotations

import pytest

from poncho_spec import InvalidSpec, Spec
from poncho_spec._variables import RESERVED_VARIABLES, reserved_reason


@pytest.mark.parametrize(
    ("var", "why"),
    [
        ("LD_AUDIT", "dynamic loader"),
        ("LD_PRELOAD", "dynamic loader"),
        ("LD_BIND_NOW", "dynamic loader"),
        ("DYLD_INSERT_LIBRARIES", "dynamic loader"),
        ("BASH_ENV", "shells start"),
        ("ENV", "shells start"),
        ("BASH_FUNC_ls%%", "shells start"),
        ("PYTHONSTARTUP", "Python starts"),
        ("PYTHONPATH", "Python starts"),
        ("PYTHONUSERBASE", "Python starts"),
        ("GIT_SSH_COMMAND", "how git starts"),
        ("GIT_CONFIG_GLOBAL", "how git starts"),
        ("PERL5OPT", "interpreter or tool"),
        ("PATH", "the environment needs it"),
    ],
)
def test_reserved_names_say_why(var: str, why: str) -> None:
    reason = reserved_reason(var)
    assert reason is not None and why in reason


@pytest.mark.parametrize("var", ["DATA", "LD", "ld_preload", "MY_PYTHONPATH", "GITHUB_DATA"])
def test_ordinary_names_are_free(var: str) -> None:
    assert reserved_reason(var) is None


def test_every_listed_name_is_reserved() -> None:
    assert all(reserved_reason(var) for var in RESERVED_VARIABLES)


@pytest.mark.parametrize("var", ["LD_AUDIT", "BASH_ENV", "PYTHONSTARTUP", "GIT_SSH_COMMAND"])
def test_the_validator_refuses_them_with_the_reason(var: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict({"http": {var: {"url": "https://x.org/f"}}})
    (problem,) = info.value.problems
    assert problem.path == f"http.{var}"
    assert problem.message.startswith(f"{var!r} is reserved: it changes how")
    assert problem.message.endswith("; pick another name")
