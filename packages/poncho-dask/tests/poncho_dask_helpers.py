"""Helpers for poncho-dask's tests (imported by name; conftest puts this folder on sys.path,
as pytest's importlib mode does not)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

SHOW_PREFIX = [
    "python",
    "-c",
    "import sys, poncho_demo_app; print(sys.prefix); print(poncho_demo_app.__file__)",
]


def on_each_worker(client: Any, func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``func(*args, **kwargs)`` run as a task on every worker: ``{address: result}``."""
    futures = {
        address: client.submit(func, *args, workers=[address], pure=False, **kwargs)
        for address in client.scheduler_info()["workers"]
    }
    return {address: future.result(timeout=120) for address, future in futures.items()}


def make_tarball(path: Path, files: dict[str, str]) -> Path:
    """A hand-made environment tarball (files under bin/ are executable)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            body = text.encode()
            info.size, info.mode = len(body), 0o755 if name.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(body))
    return path


def unpacks(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []
