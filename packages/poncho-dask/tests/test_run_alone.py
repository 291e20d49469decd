"""The names from when the Dask integration lived in poncho-run keep working, and poncho-run
still never loads Dask by itself."""

from __future__ import annotations

import subprocess
import sys

import poncho_dask


def test_poncho_run_dask_is_poncho_dask() -> None:
    import poncho_run.dask

    assert set(poncho_run.dask.__all__) == set(poncho_dask.__all__) - {"__version__"}
    for name in poncho_run.dask.__all__:
        assert getattr(poncho_run.dask, name) is getattr(poncho_dask, name)


def test_poncho_run_alone_imports_nothing_of_dask() -> None:
    code = (
        "import sys, poncho_run, poncho_run.cli\n"
        "poncho_run.prepare, poncho_run.RunError, poncho_run.PreparedEnvironment\n"
        "roots = {'dask', 'distributed', 'cloudpickle', 'poncho_dask'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in roots))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
    # The same check sees them once poncho_run.dask is imported: it can fail.
    code = code.replace("poncho_run.cli\n", "poncho_run.cli, poncho_run.dask\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "distributed" in done.stdout and "poncho_dask" in done.stdout
