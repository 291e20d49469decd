from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poncho_run import _state
from poncho_run._state import STATE_VERSION, read_state, state_path, write_state


def test_written_state_reads_back_with_its_version(tmp_path: Path) -> None:
    state = {"activation": {"scripts": {"set": {"A": "\0P/x:\0O"}, "unset": ["B"]}}, "data": True}
    write_state(str(tmp_path), state)
    assert read_state(str(tmp_path)) == {"state_version": STATE_VERSION, **state}
    names = sorted(p.name for p in (tmp_path / ".poncho-run").iterdir())
    assert names == ["state.json", "state.sh"]


def test_a_folder_without_state_is_not_ready(tmp_path: Path) -> None:
    assert read_state(str(tmp_path)) is None


@pytest.mark.parametrize(
    "text",
    [
        '{"state_version": 99}',
        "[1, 2]",
        "{not json",
        '{"state_version": 1} trailing',
        "",
        "NaN",
        '{"state_version": 1',  # issue 13 item 14
        "{bad",
        '{"state_version": 1, "a": [',
    ],
)
def test_a_state_file_of_another_version_or_damaged_is_not_ready(tmp_path: Path, text: str) -> None:
    path = Path(state_path(str(tmp_path)))
    path.parent.mkdir()
    path.write_text(text)
    assert read_state(str(tmp_path)) is None


def test_a_state_file_that_is_not_utf8_is_not_ready(tmp_path: Path) -> None:
    path = Path(state_path(str(tmp_path)))
    path.parent.mkdir()
    path.write_bytes(b'{"state_version": 1, "x": "\xff"}')
    assert read_state(str(tmp_path)) is None


DOCUMENTS = [
    {"a": [1, 2.5, -3e10, None, True, False, 'é\u0000\n"\\'], "b": {"c": {}}, "d": []},
    {"state_version": 1, "unicode": "\U0001f600 \u2028", "big": 10**30},
]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_the_fast_reader_agrees_with_json(doc: object) -> None:
    for text in (json.dumps(doc), json.dumps(doc, indent=1), " \n" + json.dumps(doc) + "\n"):
        assert _state._loads(text) == json.loads(text)


def test_the_fast_reader_imports_nothing_heavy(tmp_path: Path) -> None:
    import subprocess

    write_state(str(tmp_path), {"x": 1})
    code = (
        "import sys; from poncho_run._state import read_state; "
        f"assert read_state({str(tmp_path)!r})['x'] == 1; "
        "print(sorted(m for m in ('re', 'json', 'typing', 'pathlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_fast_reader_falls_back_to_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_state, "_scanner", lambda: None)
    assert _state._loads('{"a": 1}') == {"a": 1}


def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TypeError):
        write_state(str(tmp_path), {"x": object()})
    assert list((tmp_path / ".poncho-run").iterdir()) == []


# Calls _poncho_data_each with a callback that prints its arguments, one per line.
LIST_ENTRIES = """
. "$1/.poncho-run/state.sh"
show() { printf '[%s]' "$@"; echo; }
echo "recorded=${_poncho_data_recorded-}"
_poncho_data_each show
"""


def data_entries(state_dir: Path) -> str:
    proc = subprocess.run(
        ["sh", "-c", LIST_ENTRIES, "sh", str(state_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout


def test_recorded_data_entries_reach_the_shell_form(tmp_path: Path) -> None:
    write_state(str(tmp_path), {"data": True})
    assert not _state.record_data(str(tmp_path / "not-ready"), [])
    assert data_entries(tmp_path) == "recorded=\n"
    entries = [
        {"var": "TABLE", "key": "0123456789abcdef" * 2, "path": "data/it's a file\n.csv"},
        {"var": "REPO", "key": "fedcba9876543210" * 2, "path": "data"},
    ]
    assert _state.record_data(str(tmp_path), entries)
    assert not _state.record_data(str(tmp_path), entries), "already recorded: not rewritten"
    assert read_state(str(tmp_path)) == {"state_version": 1, "data": True, "data_entries": entries}
    assert data_entries(tmp_path) == (
        "recorded=1\n"
        f"[TABLE][{'0123456789abcdef' * 2}][data/it's a file\n.csv]\n"
        f"[REPO][{'fedcba9876543210' * 2}][data]\n"
    )


@pytest.mark.parametrize(
    "entry",
    [
        {"var": "1X", "key": "ab", "path": "data"},
        {"var": "X", "key": "../x", "path": "data"},
        {"var": "X", "key": "AB", "path": "data"},
        {"var": "X", "key": "ab", "path": "/etc/passwd"},
        {"var": "X", "key": "ab", "path": "data/../../x"},
        {"var": "X", "key": "ab", "path": ""},
        {"var": "X", "key": "ab"},
        "X",
    ],
)
def test_odd_data_entries_are_left_to_the_engine(tmp_path: Path, entry: object) -> None:
    write_state(str(tmp_path), {"data": True, "data_entries": [entry]})
    assert data_entries(tmp_path) == "recorded=\n"
