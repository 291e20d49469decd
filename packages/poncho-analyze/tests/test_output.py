"""No command line overwrites a user's script (ux-walkthrough F1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from poncho_analyze._output import output_problem, script_problem
from poncho_analyze.cli import main

TASK = "import json\nimport libcst\n"


def _files(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.is_file()}


def test_swapped_arguments_leave_the_script_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "task.py").write_text(TASK)
    assert main([str(tmp_path / "task.py"), str(tmp_path / "spec.json"), "-q"]) == 0
    before = _files(tmp_path)
    capsys.readouterr()
    code = main([str(tmp_path / "spec.json"), str(tmp_path / "task.py")])
    assert code == 2
    assert _files(tmp_path) == before
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("poncho_package_analyze: error: ")
    assert "spec.json: a SCRIPT cannot be a .json file; were SCRIPT and OUTPUT swapped?" in err


def test_a_forgotten_output_leaves_the_last_script_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.py").write_text(TASK)
    (tmp_path / "b.py").write_text("import libcst\nprint('b')\n")
    before = _files(tmp_path)
    assert main([str(tmp_path / "a.py"), str(tmp_path / "b.py")]) == 2
    assert _files(tmp_path) == before
    err = capsys.readouterr().err
    assert "b.py: OUTPUT is a Python file; refusing to write a spec over it" in err
    assert "--force writes it anyway" in err


@pytest.mark.parametrize("name", ["new.py", "notes.ipynb", "UPPER.PY"])
def test_a_script_name_is_refused_even_when_new(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.py").write_text(TASK)
    assert main([str(tmp_path / "a.py"), str(tmp_path / name)]) == 2
    assert not (tmp_path / name).exists()
    assert "OUTPUT is a " in capsys.readouterr().err


def test_force_writes_over_a_python_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(TASK)
    (tmp_path / "b.py").write_text("print('b')\n")
    assert main([str(tmp_path / "a.py"), str(tmp_path / "b.py"), "--force", "-q"]) == 0
    assert "conda" in json.loads((tmp_path / "b.py").read_text())


@pytest.mark.parametrize(
    "content",
    ["hello\n", '{"name": "tool", "scripts": {"x": "y"}}', "[1, 2]", "\x00\x01binary"],
)
def test_an_existing_file_that_is_no_spec_is_kept(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.py").write_text(TASK)
    out = tmp_path / "out.txt"
    out.write_text(content)
    assert main([str(tmp_path / "a.py"), str(out)]) == 2
    assert out.read_text() == content
    assert "out.txt: OUTPUT exists and is not a spec; refusing to overwrite it" in (
        capsys.readouterr().err
    )
    assert main([str(tmp_path / "a.py"), str(out), "--force", "-q"]) == 0
    assert "conda" in json.loads(out.read_text())


@pytest.mark.parametrize(
    "content",
    [
        "",
        "\n  \n",
        "{}",
        '{"conda": {"channels": ["x"], "dependencies": ["python=3.11"]}}',
        # CCTools' analyzer: conda env export's keys
        '{"name": "base", "prefix": "/x", "conda": {"dependencies": []}}',
        # an old spec that no longer validates is still a spec
        '{"conda": {"dependencies": 5}}',
    ],
)
def test_an_existing_spec_or_empty_file_is_rewritten(tmp_path: Path, content: str) -> None:
    (tmp_path / "a.py").write_text(TASK)
    out = tmp_path / "spec.json"
    out.write_text(content)
    assert main([str(tmp_path / "a.py"), str(out), "-q"]) == 0
    assert "libcst" in out.read_text()


def test_parsl_call_with_its_empty_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsl: ``poncho_package_analyze exec_parsl_function.py - tmp.yaml --extra-pkg P``,
    # tmp.yaml being a NamedTemporaryFile it has just created (empty).
    monkeypatch.chdir(tmp_path)
    Path("exec_parsl_function.py").write_text("import json\n")
    Path("tmp.yaml").write_bytes(b"")
    monkeypatch.setattr("sys.stdin", io.StringIO("import libcst\n"))
    argv = ["exec_parsl_function.py", "-", "tmp.yaml", "--extra-pkg", "libcst", "-q"]
    assert main(argv) == 0
    assert "libcst" in Path("tmp.yaml").read_text()


def test_the_checks_alone() -> None:
    assert script_problem(["-", "a.py", "b.ipynb"]) is None
    assert script_problem(["a.py", "X.JSON"]) is not None
    assert output_problem("-") is None
    assert output_problem("spec.yaml") is None  # does not exist
    assert output_problem("x.py", force=True) is None
    assert output_problem("/dev/null") is None  # not a regular file: written in place
    assert output_problem("x.pyw") is not None
