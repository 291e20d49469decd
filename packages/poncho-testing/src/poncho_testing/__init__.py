"""Unpublished test helpers for the Poncho monorepo: local conda channel, wheelhouse, HTTP and git servers."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
