"""Scripts that do not parse for the target get a spec and a warning (issue 22)."""

from __future__ import annotations

import json
import random
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from poncho_analyze import analyze
from poncho_analyze._tokens import recover_imports
from poncho_analyze.cli import main

LIBCST = f"libcst=={version('libcst')}"
PROG = "poncho_package_analyze"

PY2 = """\
import os
import libcst


def fetch(url):
    try:
        return os.stat(url)
    except OSError, err:
        print >>sys.stderr, "failed:", err


print "done"
"""
# Line 5 is indented with a tab, line 4 with eight spaces: Python 3 refuses the mix.
TABS = "import libcst\n\n\ndef f():\n        import json\n\treturn json\n"
TYPE_STATEMENT = "import libcst\n\ntype Pair = tuple[int, int]\n"


def _spec(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def _run(
    tmp_path: Path, text: str, *options: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, Path, str]:
    script = tmp_path / "task.py"
    script.write_text(text)
    out = tmp_path / "spec.json"
    code = main([str(script), str(out), "-q", *options])
    return code, out, capsys.readouterr().err


def test_python_2_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, PY2, capsys=capsys)
    assert code == 0
    assert LIBCST in out.read_text()
    running = "{}.{}".format(*sys.version_info[:2])  # the inspected Python: the spec's
    assert err == (
        f"{PROG}: warning: {tmp_path / 'task.py'}:8: this is Python 2 source (except X, e:), "
        f"which the spec's Python {running} cannot run (its imports were read without "
        "parsing it, best effort; --strict refuses such a script)\n"
    )
    out.unlink()
    code, out, err = _run(tmp_path, PY2, "--strict", capsys=capsys)
    assert code == 1 and not out.exists()
    assert f"{tmp_path / 'task.py'}:8:" in err and "this is Python 2 source" in err


def test_tabs_and_spaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, TABS, capsys=capsys)
    assert code == 0
    assert LIBCST in out.read_text()
    assert f"warning: {tmp_path / 'task.py'}:6: invalid syntax for Python 3." in err
    assert "inconsistent use of tabs and spaces in indentation" in err
    out.unlink()
    code, out, err = _run(tmp_path, TABS, "--strict", capsys=capsys)
    assert code == 1 and not out.exists()
    assert "inconsistent use of tabs and spaces" in err


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="only a 3.12 parser can tell which version it needs"
)
def test_newer_syntax_says_which_python_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(tmp_path, TYPE_STATEMENT, "--python", "3.11", capsys=capsys)
    assert code == 0
    spec = out.read_text()
    assert LIBCST in spec and '"python=3.11"' in spec
    assert (
        f"warning: {tmp_path / 'task.py'}:3: needs Python >= 3.12; the spec pins 3.11: "
        "use --python 3.12 (its imports were read without parsing it" in err
    )
    out.unlink()
    code, out, err = _run(tmp_path, TYPE_STATEMENT, "--python", "3.11", "--strict", capsys=capsys)
    assert code == 1 and not out.exists()
    assert "task.py:3:" in err and "needs Python >= 3.12 (--python 3.12)" in err
    # For the Python it needs: no warning at all.
    code, out, err = _run(tmp_path, TYPE_STATEMENT, "--python", "3.12", capsys=capsys)
    assert code == 0 and err == ""


def test_imports_in_a_broken_statement_come_from_the_tokens(tmp_path: Path) -> None:
    # The try statement holds the import and does not parse: the statement walk cannot
    # take it, the tokens can; its except catches ImportError, so libcst is optional
    # (pinned since installed) and the missing module is left out without a warning.
    script = tmp_path / "task.py"
    script.write_text(
        "try:\n    import libcst\n    import surely_not_here\n    print 'ok'\n"
        "except ImportError, e:\n    pass\n"
    )
    result = analyze([script])
    assert list(result.spec.pip) == [LIBCST]
    assert (
        len(result.warnings) == 1 and "task.py:4: this is Python 2 source" in (result.warnings[0])
    )


def test_function_and_notebook_cells(tmp_path: Path) -> None:
    script = tmp_path / "task.py"
    script.write_text("import json\n\n\ndef job():\n    import libcst\n    print 'x'\n")
    result = analyze([script], function="job")
    assert list(result.spec.pip) == [LIBCST]
    notebook = tmp_path / "nb.ipynb"
    cells = [
        {"cell_type": "code", "source": "import json\n"},
        {"cell_type": "code", "source": "import libcst\nprint 'x'\n"},
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    result = analyze([notebook])
    assert list(result.spec.pip) == [LIBCST]
    assert result.warnings[0].startswith(f"{notebook}:cell 2:2: this is Python 2 source")


def test_the_tokens_of_python_2_source() -> None:
    found = recover_imports(
        "import os, urllib2 as u\n"
        "def fetch(u):\n"
        "    try:\n"
        "        import cPickle as pickle\n"
        "    except ImportError, e:\n"
        "        import pickle\n"
        "    print >>sys.stderr, 'import nothing'\n"
        "print 'done'; import re\n"
        "from . import sibling\n"
        "from ..pkg.mod import (a,\n"
        "    b as c)\n"
        "from __future__ import print_function\n"
        "x = __import__('dyn'); y = __import__(name)\n"
        "if TYPE_CHECKING: import typed\n"
        "try: import opt\n"
        "except: pass\n"
        "class K:\n"
        "\tdef m(self):\n"
        "\t\tfrom importlib import import_module\n"
        "\t\timport_module('plugin')\n",
        path="p.py",
    )
    got = [(i.display, i.names, i.line, i.scope, i.optional, i.dynamic) for i in found.imports]
    fetch, method = (("def", "fetch"),), (("class", "K"), ("def", "m"))
    assert got == [
        ("os", (), 1, (), False, False),
        ("urllib2", (), 1, (), False, False),
        ("cPickle", (), 4, fetch, True, False),
        ("pickle", (), 6, fetch, False, False),
        ("re", (), 8, (), False, False),
        (".sibling", ("sibling",), 9, (), False, False),
        ("..pkg.mod", ("a", "b"), 10, (), False, False),
        ("dyn", (), 13, (), False, True),
        ("opt", (), 15, (), True, False),
        ("importlib", ("import_module",), 19, method, False, False),
        ("plugin", (), 20, method, False, True),
    ]
    assert [(i.module, why) for i, why in found.dropped] == [
        ("typed", "under `if TYPE_CHECKING:`, for type checkers only")
    ]
    assert found.notes == ("p.py:13: dynamic import with a computed name, not followed",)
    assert found.functions == frozenset({fetch, method})
    top = recover_imports(
        "import a\ndef f():\n    import b\nclass C:\n    import c\n", toplevel=True
    )
    assert [i.module for i in top.imports] == ["a"]


@pytest.mark.parametrize(
    ("text", "modules"),
    [
        (TABS, ["libcst", "json"]),
        ("import os\ns = '''never closed\nimport json\n", ["os", "json"]),
        ("if x:\n        import a\n    import b\nimport c\n", ["a", "b", "c"]),
        ("import a\nx = 1\0\nimport b\n", ["a", "b"]),
        ("import a\nx = `y`\ny = 0755 + 10L\nimport b\n", ["a", "b"]),
        ("import a\n$ @ ?\nimport b\n", ["a", "b"]),
    ],
)
def test_the_tokens_survive_what_stops_tokenize(text: str, modules: list[str]) -> None:
    assert [i.module for i in recover_imports(text).imports] == modules


def test_the_tokens_never_raise() -> None:
    import poncho_analyze

    pieces = ["\t", " ", "\n", "(", ")", "'", '"', "'''", "\\", "\0", ":", ";", "`", "\r"]
    pieces += ["import x", "from . import y", "__import__(", "try:", "except", "é", "0755"]
    rng = random.Random(22)
    for source in sorted(Path(poncho_analyze.__file__).parent.glob("*.py"))[:12]:
        base = list(source.read_text())
        for _ in range(15):
            text = base.copy()
            for _ in range(rng.randint(1, 20)):
                text.insert(rng.randrange(len(text) + 1), rng.choice(pieces))
            recover_imports("".join(text), path=source.name)
