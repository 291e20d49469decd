"""Errors raised by the poncho-testing helpers."""

from __future__ import annotations


class PonchoTestingError(Exception):
    """Root of the errors raised by poncho-testing."""


class BuildError(PonchoTestingError, RuntimeError):
    """A channel, package, environment or tarball could not be built."""
