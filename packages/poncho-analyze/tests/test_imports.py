from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from poncho_analyze.errors import ParseFailed
from poncho_analyze.imports import FileImports, Import, find_imports, matches_function, scan_files


def _names(result: FileImports) -> list[str]:
    return [i.display for i in result.imports]


def _read(data: Path, name: str) -> str:
    return (data / name).read_text()


def test_every_form_is_found(data: Path) -> None:
    result = find_imports(_read(data, "all_forms.py"), path="all_forms.py")
    assert _names(result) == [
        "os.path",
        "alpha.beta",
        "gamma",
        "delta",
        "eta.theta",
        "typing",
        "not_type_checking",
        "ujson",
        "json",
        "windows_only",
        "posix_only",
        "in_function",
        "inner.mod",
        "in_nested",
        "in_class_body",
        "in_method",
        "dunder_import",
        "via_importlib.sub",
        "suppressed",
    ]
    by_name = {i.display: i for i in result.imports}
    assert by_name["ujson"].optional and by_name["suppressed"].optional
    assert not by_name["json"].optional
    assert by_name["delta"].names == ("epsilon", "zeta")
    assert by_name["delta"].candidates == ("delta.epsilon", "delta.zeta", "delta")
    assert by_name["eta.theta"].names == ("*",)
    assert by_name["in_nested"].scope == (("def", "work"), ("def", "nested"))
    assert by_name["in_method"].location == "all_forms.py:44"
    assert by_name["dunder_import"].dynamic and by_name["dunder_import"].line == 45
    assert by_name["in_class_body"].in_function is False
    assert result.notes == ("all_forms.py:47: dynamic import with a computed name, not followed",)


def test_toplevel_leaves_out_functions_and_classes(data: Path) -> None:
    result = find_imports(_read(data, "all_forms.py"), toplevel=True)
    names = _names(result)
    assert "in_function" not in names and "in_class_body" not in names
    assert "posix_only" in names and "suppressed" in names


@pytest.mark.parametrize("name", ["all_forms.py", "newer_syntax.py", "tricky.py"])
@pytest.mark.parametrize("toplevel", [False, True])
def test_fast_and_whole_parses_agree(data: Path, name: str, toplevel: bool) -> None:
    text = _read(data, name)
    fast = find_imports(text, path=name, toplevel=toplevel)
    whole = find_imports(text, path=name, toplevel=toplevel, fast=False)
    assert fast.imports == whole.imports
    assert fast.functions <= whole.functions


def test_newer_syntax_parses_on_any_interpreter(data: Path) -> None:
    text = _read(data, "newer_syntax.py")
    if sys.version_info < (3, 12):
        with pytest.raises(SyntaxError):
            ast.parse(text)
    result = find_imports(text, path="newer_syntax.py")
    assert _names(result) == ["numpy_like", "generic_helper", "pep695", "risky", "matched"]
    assert [i.line for i in result.imports] == [2, 8, 14, 20, 25]
    assert result.imports[3].optional  # except* ImportError


def test_tricky_strings_and_layouts(data: Path) -> None:
    result = find_imports(_read(data, "tricky.py"), path="tricky.py")
    assert _names(result) == [
        "real_one",
        "real_two",
        "real_three",
        "real_one_liner",
        "real_four",
        "real_five",
        "real_six",
        "real_seven",
    ]
    assert [i.line for i in result.imports] == [6, 19, 23, 28, 34, 42, 46, 48]


def test_relative_imports() -> None:
    result = find_imports("from . import a, b\nfrom ..pkg.mod import c\nimport_module('.x')\n")
    assert [(i.module, i.level, i.display) for i in result.imports] == [
        ("", 1, ".a,b"),
        ("pkg.mod", 2, "..pkg.mod"),
        ("x", 1, ".x"),
    ]
    assert result.imports[0].top == "a"


def test_type_checking_variants_and_future() -> None:
    text = (
        "from __future__ import annotations\nimport typing\n"
        "if typing.TYPE_CHECKING:\n    import a\nif not TYPE_CHECKING:\n    import b\n"
    )
    assert _names(find_imports(text)) == ["typing", "b"]


def test_guards_do_not_reach_into_functions() -> None:
    text = "try:\n    def f():\n        import a\nexcept ImportError:\n    pass\n"
    (imp,) = find_imports(text).imports
    assert not imp.optional


def test_dynamic_import_arguments() -> None:
    text = (
        "__import__(name='kw')\nimportlib.import_module(package='p', name='named')\n"
        "import_module(package='only')\n__import__()\nx.__import__('attr')\n"
        "import_module('a' 'b')\nimportlib.import_module(b'bytes')\n"
        "for m in [__import__('in_for')]:\n    pass\n"
        "with open(importlib.import_module('in_with').path) as f:\n    pass\n"
        "while __import__('in_while'):\n    break\n"
        "match __import__('in_match'):\n    case _ if __import__('in_guard'):\n        pass\n"
        "try:\n    pass\nexcept __import__('in_except').Error:\n    pass\n"
        "@__import__('in_decorator').wrap\ndef f(a=__import__('in_default')) -> None:\n    pass\n"
        "class C(__import__('in_base').Base):\n    pass\n"
    )
    result = find_imports(text)
    assert _names(result) == [
        "kw",
        "named",
        "attr",
        "ab",
        "in_for",
        "in_with",
        "in_while",
        "in_match",
        "in_guard",
        "in_except",
        "in_decorator",
        "in_default",
        "in_base",
    ]
    assert len(result.notes) == 1  # the bytes name


def test_syntax_error_names_file_line_and_column(data: Path) -> None:
    with pytest.raises(ParseFailed, match=r"^broken\.py:\d+:\d+: invalid syntax"):
        find_imports(_read(data, "broken.py"), path="broken.py", fast=False)
    # The fast path parses only what may import; the broken function holds no import.
    assert _names(find_imports(_read(data, "broken.py"))) == ["fine"]


def test_unterminated_string_falls_back_to_a_whole_parse(data: Path) -> None:
    with pytest.raises(ParseFailed, match=r"unterminated\.py:1"):
        find_imports(_read(data, "unterminated.py"), path="unterminated.py")


def test_skeleton_that_does_not_parse_falls_back(data: Path) -> None:
    with pytest.raises(ParseFailed, match="cell 3"):
        find_imports("@dec\nimport x\n", path="nb.ipynb", cell=3)


def test_windows_line_ends() -> None:
    result = find_imports("import a\r\nif x:\r\n    import b\r\n")
    assert [(i.module, i.line) for i in result.imports] == [("a", 1), ("b", 3)]


def test_files_without_imports_are_not_parsed(data: Path) -> None:
    assert find_imports(_read(data, "no_imports.py")) == FileImports()
    assert find_imports("x = 1\nif x:\n    y = 2\n# import in a comment\n") == FileImports()


def test_matches_function() -> None:
    scope = (("class", "Model"), ("def", "fit"), ("def", "inner"))
    assert matches_function(scope, "fit")
    assert matches_function(scope, "inner")
    assert matches_function(scope, "Model.fit")
    assert matches_function(scope, "fit.inner")
    assert not matches_function(scope, "Model")
    assert not matches_function(scope, "Other.fit")


def test_import_location_in_a_notebook() -> None:
    imp = Import("a", path="nb.ipynb", line=2, cell=4)
    assert imp.location == "nb.ipynb:cell 4:2"


def test_scan_files_in_one_and_in_several_processes(data: Path, tmp_path: Path) -> None:
    files = []
    for i in range(6):
        file = tmp_path / f"m{i}.py"
        file.write_text(f"import mod{i}\n")
        files.append(file)
    files.append(data / "notebook.ipynb")
    alone = scan_files(files, workers=1)
    shared = scan_files(files, workers=2)
    assert alone == shared
    assert list(shared) == [str(f) for f in files]
    assert _names(shared[str(files[3])]) == ["mod3"]
    assert _names(shared[str(data / "notebook.ipynb")]) == ["yaml", "sklearn"]


def test_scan_files_picks_processes_by_size(tmp_path: Path) -> None:
    from poncho_analyze.imports import _worker_count

    small = [str(tmp_path / "a.py")]
    assert _worker_count(small, None) == 1
    many = [str(tmp_path / f"{i}.py") for i in range(100)]
    assert _worker_count(many, None) == 1  # missing files weigh nothing
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 200_000)
    assert _worker_count([str(big)] * 100, None) >= 1
    assert _worker_count(small, 3) == 3


def test_scan_files_raises_parse_errors_from_workers(tmp_path: Path, data: Path) -> None:
    files = [data / "unterminated.py", data / "all_forms.py"]
    with pytest.raises(ParseFailed):
        scan_files(files, workers=2)
    assert scan_files([]) == {}


def _python_files() -> list[Path]:
    data = Path(__file__).parent / "data"
    files = sorted(data.rglob("*.py"))
    return [f for f in files if f.name not in ("broken.py", "unterminated.py", "legacy_report.py")]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_the_ast_and_libcst_walks_agree(path: Path) -> None:
    from poncho_analyze import _ast_walk, _cst_walk
    from poncho_analyze._conditions import Target

    text = path.read_text()
    for target in (None, Target((3, 9)), Target((3, 13))):
        fast = _ast_walk.collect(text, str(path), None, toplevel=False, target=target)
        if fast is None:  # newer syntax than this interpreter's: libcst alone
            continue
        whole = _cst_walk.parse_whole(text, str(path), None, False, target)
        skeleton = _cst_walk.parse_skeleton(text, str(path), None, False, target)
        assert fast.imports == whole.imports
        assert fast.functions == whole.functions and fast.notes == whole.notes
        assert [i for i, _ in fast.dropped] == [i for i, _ in whole.dropped]
        assert skeleton is None or [i.module for i in skeleton.imports] == [
            i.module for i in fast.imports
        ]
