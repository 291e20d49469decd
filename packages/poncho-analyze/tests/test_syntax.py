from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from poncho_analyze import analyze
from poncho_analyze._syntax import check_syntax
from poncho_analyze.errors import ParseFailed

RUNNING = sys.version_info[:2]

# Shaped after a Python 2 era utility script.
PY2_SCRIPT = """\
import os
import urllib2


def fetch(url):
    try:
        return urllib2.urlopen(url).read()
    except urllib2.URLError, err:
        print >>sys.stderr, "failed:", err


print "done"
"""


def test_a_syntax_error_outside_the_imports_is_reported(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text("import json\n\n\ndef f(:\n    return json\n")
    with pytest.raises(ParseFailed, match=rf"^{job}:4:7: invalid syntax for Python 3\.\d+: "):
        analyze([job], strict=True)


def test_python_2_source_is_named(tmp_path: Path) -> None:
    job = tmp_path / "legacy.py"
    job.write_text(PY2_SCRIPT)
    with pytest.raises(ParseFailed) as err:
        analyze([job], strict=True)
    assert str(err.value).startswith(f"{job}:8:")
    assert "this is Python 2 source (except X, e:)" in str(err.value)
    # a print statement alone, outside any import statement (the fast path skips it)
    with pytest.raises(ParseFailed, match=r":3:1: this is Python 2 source \(a print statement\)"):
        check_syntax("import os\n\nprint 'x'\n", "p.py", (3, 12))
    with pytest.raises(ParseFailed, match=r"Python 2 source \(an octal literal like 0755\)"):
        check_syntax("import os\nos.chmod('f', 0755)\n", "p.py", (3, 12))


def test_errors_are_collected_after_the_other_files_are_explained(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("import json\n")
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx = = 1\n")
    with pytest.raises(ParseFailed, match=r"bad\.py:2:") as err:
        analyze([good, bad], strict=True)
    assert [d.module for d in err.value.decisions] == ["json"]


@pytest.mark.skipif(RUNNING < (3, 10), reason="match needs 3.10")
def test_an_older_target_grammar() -> None:
    text = "import json\nmatch json:\n    case _:\n        pass\n"
    check_syntax(text, "m.py", (3, 10))
    with pytest.raises(ParseFailed, match=r"m\.py:\d+:\d+: invalid syntax for Python 3\.9: "):
        check_syntax(text, "m.py", (3, 9))


def test_notebook_cells_are_checked_one_by_one(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    cells = [
        {"cell_type": "code", "source": "import json\nawait asyncio.sleep(0)\n"},
        {"cell_type": "code", "source": "x = (\n"},
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    with pytest.raises(ParseFailed, match=rf"^{notebook}:cell 2:1:5: invalid syntax"):
        analyze([notebook], strict=True)


def test_newer_syntax_than_the_running_python_is_left_to_libcst() -> None:
    # PEP 695 generics (3.12): the running parser may not know them; libcst does.
    check_syntax("type Pair[T] = tuple[T, T]\n", "new.py", (3, 14))
    with pytest.raises(ParseFailed, match=r"null"):
        check_syntax("x = 1\0\n", "nul.py", (3, 12))
