from __future__ import annotations

import pickle

import pytest

from poncho_run import errors
from poncho_spec import PonchoError

ERRORS = [
    (errors.RunError("x"), Exception, 1),
    (errors.EnvironmentNotFound("x"), FileNotFoundError, 1),
    (errors.UnsupportedArchive("x"), ValueError, 1),
    (errors.UnpackError("x"), OSError, 1),
    (errors.UnsafeArchive("m", "why"), ValueError, 1),
    (errors.LockTimeout("/d", 1.5, "/d.poncho.lock"), TimeoutError, 75),
    (errors.CommandNotFound("cmd"), FileNotFoundError, 127),
    (errors.CommandNotExecutable("cmd", "why"), PermissionError, 126),
]


@pytest.mark.parametrize(("error", "builtin", "status"), ERRORS, ids=lambda e: type(e).__name__)
def test_errors_are_poncho_errors_with_a_builtin_base_and_an_exit_status(
    error: errors.RunError, builtin: type[Exception], status: int
) -> None:
    assert isinstance(error, PonchoError) and isinstance(error, builtin)
    assert error.exit_status == status


@pytest.mark.parametrize(("error", "builtin", "status"), ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling(error: errors.RunError, builtin: type, status: int) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)


def test_messages_name_what_went_wrong() -> None:
    assert str(errors.CommandNotFound("foo")) == "foo: command not found in the environment"
    assert str(errors.CommandNotExecutable("foo", "Permission denied")) == (
        "foo: cannot execute: Permission denied"
    )
    assert "'a/../b': path with '..'" in str(errors.UnsafeArchive("a/../b", "path with '..'"))
