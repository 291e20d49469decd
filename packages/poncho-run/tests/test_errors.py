from __future__ import annotations

import pickle

import pytest

from poncho_run import errors

ERRORS = [
    errors.RunError("x"),
    errors.EnvironmentNotFound("x"),
    errors.UnsupportedArchive("x"),
    errors.UnpackError("x"),
    errors.UnsafeArchive("m", "why"),
    errors.LockTimeout("/d", 1.5, "/d.poncho.lock"),
    errors.CommandNotFound("cmd"),
    errors.CommandNotExecutable("cmd", "why"),
    errors.WrongArchive("/d", "b.tar.gz", "a.tar.gz"),
    errors.NotAnEnvironment("/d"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling(error: errors.RunError) -> None:
    """Errors cross process boundaries (the Dask plugin, multiprocessing) intact."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.exit_status == error.exit_status


def test_messages_name_what_went_wrong() -> None:
    assert str(errors.CommandNotFound("foo")) == "foo: command not found in the environment"
    assert str(errors.CommandNotExecutable("foo", "Permission denied")) == (
        "foo: cannot execute: Permission denied"
    )
    assert "'a/../b': path with '..'" in str(errors.UnsafeArchive("a/../b", "path with '..'"))
