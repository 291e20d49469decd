"""A realistic large environment: the local channel's python and pip plus real wheels from
PyPI (numpy, scipy, pandas, scikit-learn, matplotlib and their dependencies).

The wheels are downloaded once, with ``pip download --only-binary=:all:`` for the channel's
Python, into a wheelhouse kept in the benchmarks' cache (``$PONCHO_BENCH_CACHE/
wheels-pyX.Y``, see `_build.bench_cache`) and reused by every later run: the benchmarks may
use the package registries, the tests may not. Without the network and without that
wheelhouse, :class:`_build.Unavailable` says so in one line and the rows are skipped.

The environment is built from a spec with ``poncho_package_create`` (``--find-links
<wheelhouse> --no-index``, the default compression level), as a user builds one.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from _build import Unavailable, bench_cache, create

REAL_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "matplotlib")

_COMPLETE = "poncho-bench-wheelhouse.json"


def wheelhouse(python_version: str) -> Path:
    """The wheelhouse for Python `python_version` (``"3.11.7"``), downloaded on first use.

    A folder is complete once its marker file names the same packages: a download that
    failed half-way leaves nothing behind (it goes to a temporary folder renamed into
    place)."""
    major_minor = ".".join(python_version.split(".")[:2])
    folder = bench_cache() / f"wheels-py{major_minor}"
    marker = folder / _COMPLETE
    if marker.exists() and json.loads(marker.read_text())["packages"] == list(REAL_PACKAGES):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".wheels-"))
    try:
        argv = [
            *_pip(),
            "download",
            "--only-binary=:all:",
            "--python-version", major_minor,
            "--dest", str(tmp),
            "--disable-pip-version-check",
            "--timeout", "20",
            "--retries", "2",
            *REAL_PACKAGES,
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise Unavailable(
                f"no wheelhouse in {folder} and pip download failed (no network?): {last}"
            )
        wheels = sorted(path.name for path in tmp.glob("*.whl"))
        info = {"packages": list(REAL_PACKAGES), "python": major_minor, "wheels": wheels}
        (tmp / _COMPLETE).write_text(json.dumps(info, indent=1) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _pip() -> list[str]:
    """pip as a command: this Python's, else the wheel ensurepip bundles (a uv-made venv
    has no pip; pip runs from its wheel file)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    bundled = Path(sysconfig.get_paths()["stdlib"]) / "ensurepip" / "_bundled"
    wheels = sorted(bundled.glob("pip-*.whl"))
    if not wheels:
        raise Unavailable(f"no pip for this Python (none in {bundled}) to download wheels")
    return [sys.executable, str(wheels[-1] / "pip")]


def real_spec(channel_url: str) -> dict[str, Any]:
    """The spec: python and pip from the local channel, the real packages through pip."""
    return {
        "conda": {
            "channels": [channel_url],
            "dependencies": ["python", "pip", {"pip": list(REAL_PACKAGES)}],
        }
    }


def build_real_env(channel: Any, workdir: Path) -> tuple[Path, float]:
    """Build the real environment's tarball (default level, ``.tar.gz``) into `workdir`
    from empty caches; return it and the seconds the build took. Raises Unavailable when
    its wheels cannot be had."""
    wheels = wheelhouse(channel.python_version)
    spec = workdir / "real-spec.json"
    spec.write_text(json.dumps(real_spec(channel.url), indent=1))
    output = workdir / "real.tar.gz"
    options = ["--find-links", str(wheels), "--no-index"]
    seconds = create(spec, output, workdir / "real-caches", options)
    shutil.rmtree(workdir / "real-caches", ignore_errors=True)
    return output, seconds
