"""Fetch the data a Poncho spec names (git, http) into a node-local cache."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
