"""Build a conda environment from a Poncho spec and pack it into a relocatable tarball."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
