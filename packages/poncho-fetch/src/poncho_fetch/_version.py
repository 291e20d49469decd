"""The distribution's version, in a module that imports nothing (http.py sends it)."""

__version__ = "0.1.0"
