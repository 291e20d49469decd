"""``python -m poncho``: the ``poncho`` umbrella command."""

from __future__ import annotations

from poncho.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
