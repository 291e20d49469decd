"""The error hierarchy: every error is a PonchoError and a CreateError, with its builtin."""

from __future__ import annotations

import pytest

from poncho_create import errors
from poncho_spec import PonchoError


@pytest.mark.parametrize("name", errors.__all__)
def test_hierarchy(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.CreateError) and issubclass(cls, PonchoError)
    assert str(cls("message")) == "message"


def test_builtins() -> None:
    assert issubclass(errors.ChannelError, OSError)
    assert issubclass(errors.PackageNotFound, LookupError)
    assert issubclass(errors.LockError, ValueError)
