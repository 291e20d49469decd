from __future__ import annotations

import subprocess
import sys

import poncho_spec


def test_public_api() -> None:
    assert set(poncho_spec.__all__) == {
        "DEFAULT_CHANNELS", "CondaSection", "GitSource", "HttpSource", "InvalidSpec",
        "PonchoError", "Problem", "Spec", "SpecNotFound", "__version__", "dump_spec",
        "dumps_spec", "json_schema", "load_spec", "loads_spec",
    }  # fmt: skip
    for name in poncho_spec.__all__:
        assert getattr(poncho_spec, name) is not None


def test_import_is_cheap() -> None:
    """Workers import poncho_spec for every task: no rattler, packaging or jsonschema, and
    loading a spec without pip entries does not need packaging either."""
    code = (
        "import sys, poncho_spec\n"
        "heavy = {'rattler', 'packaging', 'jsonschema', 'tempfile', 'difflib'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        'spec = poncho_spec.loads_spec(\'{"git": {"D": {"remote": "https://x.org/r"}}}\')\n'
        "spec.hash()\n"
        "assert 'packaging' not in sys.modules and 'rattler' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_doctest_in_module_docstring() -> None:
    import doctest

    assert doctest.testmod(poncho_spec).failed == 0
