"""``python -m poncho_create``: the ``poncho_package_create`` command."""

from __future__ import annotations

from poncho_create.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
