"""``python -m poncho_analyze``."""

from __future__ import annotations

from poncho_analyze.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
