"""The example of docs/dask.md runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_the_example_in_the_docs_runs(tarballs: dict[str, Path], tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "dask.md"
    example = re.search(r"```python\n(.*?)```", docs.read_text(), re.DOTALL)
    assert example is not None
    script = tmp_path / "dask_example.py"
    script.write_text(example.group(1))
    done = subprocess.run(
        [sys.executable, str(script), str(tarballs["cp"])],
        env={**os.environ, "PONCHO_DASK_DIR": str(tmp_path / "envs")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, *means, failed = done.stdout.splitlines()
    prefix = first.removeprefix("environment prefix: ")
    assert Path(prefix).parent == tmp_path / "envs"
    assert means == [f"mean {m} computed by {prefix}/bin/python" for m in (2, 5, 8)]
    assert failed == "failed as expected, status 1 - no input file given"
