"""``python -m poncho_spec``: the same as the ``poncho_spec`` command."""

from __future__ import annotations

from poncho_spec.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
