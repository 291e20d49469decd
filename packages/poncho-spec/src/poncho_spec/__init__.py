"""The Poncho environment spec: model, validation, canonical hash, JSON Schema."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
