from __future__ import annotations

from pathlib import Path

import pytest

from poncho_analyze._scanner import ScanError, mentions_import, skeleton

DATA = Path(__file__).parent / "data"


def test_skeleton_keeps_only_statements_that_may_import() -> None:
    text = (DATA / "tricky.py").read_text()
    pruned = skeleton(text)
    assert "fake_from_docstring" not in pruned.text
    assert "no_imports_here" not in pruned.text
    assert "import real_four" in pruned.text
    assert "value = (" not in pruned.text
    assert pruned.import_lines == (6, 19, 23, 28, 34, 42, 46, 48)
    assert len(pruned.line_map) == pruned.text.count("\n")


def test_skeleton_fills_emptied_blocks_with_pass() -> None:
    text = "try:\n    import a\nexcept ImportError:\n    a = None\n    b = 2\n"
    pruned = skeleton(text)
    assert pruned.text == "try:\n    import a\nexcept ImportError:\n    pass\n"
    assert pruned.line_map == (1, 2, 3, 3)


def test_toplevel_drops_functions_and_classes() -> None:
    text = "import a\ndef f():\n    import b\nclass C:\n    import c\nif x:\n    import d\n"
    assert skeleton(text, toplevel=True).text == "import a\nif x:\n    import d\n"


def test_match_as_a_name_is_a_simple_statement() -> None:
    text = "match = __import__('m')\nmatch(x)\n"
    assert skeleton(text).text == "match = __import__('m')\n"


def test_decorated_definition_is_kept_with_its_decorators() -> None:
    text = "@a\n@b(1)\ndef f():\n    import x\n"
    assert skeleton(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        'x = """never closed\nimport fake\n',
        "x = 'open\nimport y\n",
        'x = f"{a\n',
        "  import indented_first\n",
        "def f(a=__import__('x')):  \n# no body\n",
        "@dec(__import__('x'))\n",
        "x = f'{a)}' # import\n",
        "x = f'{a:{b' # import\n",
        "if x\n    import y\n",
    ],
)
def test_doubtful_text_raises_scan_error(text: str) -> None:
    with pytest.raises(ScanError):
        skeleton(text)


def test_fstrings_of_every_kind_are_skipped() -> None:
    text = (
        'a = f"{x:{w}}{{}} {y!r} \\N{DASH} {"q"} {d["k"]}"\n'
        "b = rf'\\{x}' + t'{x}' + F'''{x:'>3}\n'''\n"
        'c = f"{ (lambda: 1)() } {x # comment\n}"\n'
        "import real\n"
    )
    assert skeleton(text).text == "import real\n"


def test_mentions_import() -> None:
    assert mentions_import("x = __import__('a')")
    assert mentions_import("importlib.import_module('a')")
    assert not mentions_import("ImportError")
