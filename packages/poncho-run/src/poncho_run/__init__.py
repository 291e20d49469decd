"""Unpack, activate and run commands in a packed Poncho/conda-pack environment."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
