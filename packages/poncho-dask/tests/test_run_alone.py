"""poncho-run never loads Dask by itself: the plugin is this distribution, which only
poncho_dask's users import."""

from __future__ import annotations

import subprocess
import sys


def test_poncho_run_alone_imports_nothing_of_dask() -> None:
    code = (
        "import sys, poncho_run, poncho_run.cli\n"
        "poncho_run.prepare, poncho_run.RunError, poncho_run.PreparedEnvironment\n"
        "roots = {'dask', 'distributed', 'cloudpickle', 'poncho_dask'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in roots))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
    # The same check sees them once poncho_dask is imported: it can fail.
    code = code.replace("poncho_run.cli\n", "poncho_run.cli, poncho_dask\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "distributed" in done.stdout and "poncho_dask" in done.stdout
