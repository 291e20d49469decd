"""Ship a Python program's exact environment to the machines that run it."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
