"""``python -m poncho_fetch``: same as the ``poncho_fetch`` command."""

from __future__ import annotations

from poncho_fetch.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
