"""``python -m poncho_run``: the ``poncho_package_run`` command line."""

from __future__ import annotations

from poncho_run.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
