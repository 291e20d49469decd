"""Find a Python program's third-party imports and write a pinned Poncho spec."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
