from __future__ import annotations

import io
from pathlib import Path

import pytest

from poncho_analyze.errors import ScriptMetadataError, SourceError
from poncho_analyze.sources import decode_python, notebook_cells, read_script, script_metadata


def test_notebook_code_cells_without_magics(data: Path) -> None:
    cells = notebook_cells((data / "notebook.ipynb").read_bytes(), "notebook.ipynb")
    assert [n for n, _ in cells] == [2, 4, 5]
    assert cells[0][1] == "pass\nimport yaml\npass\npass\npass\n"
    assert cells[1][1] == "\ndef go():\n    import sklearn\n    pass\n"


def test_read_script_python_and_notebook(data: Path) -> None:
    script = read_script(data / "all_forms.py")
    assert script.cells[0][0] is None and script.directory == data
    notebook = read_script(str(data / "notebook.ipynb"))
    assert len(notebook.cells) == 3 and notebook.metadata is None


def test_stdin_python_and_notebook(
    data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    script = read_script("-", stdin=io.StringIO("import a\n"))
    assert script.path == "<stdin>" and script.directory == tmp_path
    assert script.cells == ((None, "import a\n"),)
    nb = read_script("-", stdin=io.StringIO((data / "notebook.ipynb").read_text()))
    assert [n for n, _ in nb.cells] == [2, 4, 5]
    monkeypatch.setattr("sys.stdin", io.StringIO("import b\n"))
    assert read_script("-").cells == ((None, "import b\n"),)


def test_coding_line_and_bom() -> None:
    assert decode_python(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n", "a.py").endswith("'\u00e9'\n")
    assert decode_python(b"\xef\xbb\xbfimport a\n", "a.py") == "import a\n"
    with pytest.raises(SourceError, match=r"a\.py: cannot decode"):
        decode_python(b"x = '\xff'\n", "a.py")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a Jupyter notebook \\(invalid JSON"),
        ('{"no": "cells"}', "no 'cells' list"),
        ('{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1: 'source' is not text"),
    ],
)
def test_bad_notebooks(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(SourceError, match=message):
        read_script(path)


def test_unreadable_scripts(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_script(tmp_path / "missing.py")
    with pytest.raises(SourceError, match="is a folder"):
        read_script(tmp_path)
    plain = tmp_path / "plain.py"
    plain.write_text("import a\n")
    with pytest.raises(SourceError, match="cannot read"):
        read_script(plain / "under_a_file.py")


def test_pep723_metadata(data: Path) -> None:
    meta = read_script(data / "pep723.py").metadata
    assert meta is not None
    assert meta.requires_python == ">=3.10"
    assert meta.dependencies[0] == "demo-pep723-dep>=1.0"
    assert script_metadata("import a\n", "a.py") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("# dependencies = [\n", "invalid TOML"),
        ("# dependencies = 'x'\n", "'dependencies' must be a list"),
        ("# requires-python = 3\n", "'requires-python' must be a string"),
        ('# dependencies = ["not a req !"]\n', "dependency 'not a req !'"),
        ('# requires-python = "three"\n', "is not a version specifier"),
    ],
)
def test_bad_pep723_metadata(body: str, message: str) -> None:
    text = f"# /// script\n{body}# ///\n"
    with pytest.raises(ScriptMetadataError, match=message):
        script_metadata(text, "a.py")


def test_two_metadata_blocks_are_an_error(tmp_path: Path) -> None:
    block = "# /// script\n# dependencies = []\n# ///\n"
    with pytest.raises(ScriptMetadataError, match="more than one"):
        script_metadata(block + "\n" + block, "a.py")
    nb = tmp_path / "two.ipynb"
    cell = {"cell_type": "code", "source": block}
    nb.write_text(__import__("json").dumps({"cells": [cell, cell]}))
    with pytest.raises(ScriptMetadataError, match="more than one"):
        read_script(nb)
