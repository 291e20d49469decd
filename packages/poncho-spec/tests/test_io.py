from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from poncho_spec import InvalidSpec, SpecNotFound, dump_spec, dumps_spec, load_spec, loads_spec
from poncho_spec.io import write_text

TEXT = '{"conda": {"dependencies": ["python=3.11", {"pip": ["./pkg"]}]}}'


def test_load_file_sets_source_and_base_dir(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(TEXT)
    spec = load_spec(path)
    assert spec.source == str(path)
    assert spec.base_dir == tmp_path.resolve()
    assert spec.pip == ("./pkg",)
    assert load_spec(str(path)) == spec


def test_load_relative_path_base_dir_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "spec.json").write_text(TEXT)
    monkeypatch.chdir(tmp_path)
    spec = load_spec("sub/spec.json")
    assert spec.source == "sub/spec.json"
    assert spec.base_dir == (tmp_path / "sub").resolve()


def test_load_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(TEXT))
    spec = load_spec("-")
    assert spec.source == "<stdin>"
    assert spec.base_dir is None
    assert spec.conda.dependencies == ("python=3.11",)


def test_load_stdin_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"conda": 1}'))
    with pytest.raises(InvalidSpec, match=r"^<stdin>: conda: must be an object, got a number$"):
        load_spec("-")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(SpecNotFound) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: spec file not found"
    assert isinstance(info.value, FileNotFoundError)


def test_folder_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="is a folder, not a spec file"):
        load_spec(tmp_path)


def test_unreadable_file_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spec.json"
    path.write_text(TEXT)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(InvalidSpec) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: cannot read: Permission denied"


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{\n  "conda": {\n    "dependencies": ["python" "numpy"]\n  }\n}\n')
    with pytest.raises(InvalidSpec) as info:
        load_spec(path)
    assert str(info.value) == (
        f"{path}: invalid JSON at line 3, column 31: Expecting ',' delimiter"
    )
    assert info.value.problems[0].path == ""


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_bytes(b'{"pip": ["caf\xe9"]}')
    with pytest.raises(InvalidSpec, match=r"spec.json: not UTF-8 text: invalid continuation byte"):
        load_spec(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert load_spec(path).conda.dependencies == ("python=3.11",)


def test_loads_bytes_and_bad_bytes() -> None:
    assert loads_spec(TEXT.encode()).pip == ("./pkg",)
    with pytest.raises(InvalidSpec, match="not UTF-8 text"):
        loads_spec(b'{"pip": ["\xff\xfe\xfa"]}', source="b")


def test_loads_top_level_not_object() -> None:
    with pytest.raises(InvalidSpec, match=r"^x: a spec must be a JSON object, got an array$"):
        loads_spec("[1]", source="x")


def test_dumps_is_modern_form() -> None:
    spec = loads_spec('{"conda": {"packages": ["python"]}, "pip": ["dill"]}')
    text = dumps_spec(spec)
    assert text.endswith("}\n")
    assert json.loads(text) == {
        "conda": {"channels": ["conda-forge"], "dependencies": ["python", {"pip": ["dill"]}]}
    }


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    spec = loads_spec(TEXT)
    path = tmp_path / "out.json"
    dump_spec(spec, path)
    assert load_spec(path) == spec
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_dump_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(0o600)
    dump_spec(loads_spec(TEXT), str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == dumps_spec(loads_spec(TEXT))


def test_dump_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    dump_spec(loads_spec(TEXT), "-")
    assert capsys.readouterr().out == dumps_spec(loads_spec(TEXT))


def test_failed_write_leaves_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    path.write_text("old content")

    def fail(self: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text(path, "new content")
    assert path.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
