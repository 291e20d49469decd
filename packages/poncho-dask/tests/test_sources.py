"""Functions sent by value carry their source: a traceback made in the environment shows it.

The functions here are made as a notebook or a script on another machine makes them: code
compiled from text that this process's `linecache` holds but no file has, in a module that
cannot be imported (so cloudpickle sends them by value). The environment runs on this
machine, so only the source sent along can give it their lines.
"""

from __future__ import annotations

import functools
import io
import linecache
import pickle
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from poncho_dask import PonchoEnvironment, RemoteError, _sources, run_function
from poncho_dask._sources import dumps_with_sources, source_of

CELL_A = """\
def scaled(value):
    return helper(value) * 2
"""
CELL_B = """\
# the helper's own file


def helper(value):
    raise ValueError("bad value " + value)
"""


def compiled(filename: str, source: str, name: str, **names: Any) -> Callable[..., Any]:
    """The function `name` of `source`, compiled as from `filename` (which does not exist)."""
    namespace: dict[str, Any] = {"__name__": "poncho_dask_test_cell", "__file__": filename}
    namespace.update(names)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


@pytest.fixture
def cells(tmp_path: Path) -> Iterator[tuple[Callable[..., Any], str, str]]:
    """``scaled`` (file A) calling ``helper`` (file B); neither file exists."""
    file_a, file_b = str(tmp_path / "nowhere" / "cell_a.py"), str(tmp_path / "nowhere" / "b.py")
    helper = compiled(file_b, CELL_B, "helper")
    yield compiled(file_a, CELL_A, "scaled", helper=helper), file_a, file_b
    linecache.cache.pop(file_a, None)
    linecache.cache.pop(file_b, None)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["here", "as-a-worker-receives-it", "in-a-partial"])
def test_the_remote_traceback_shows_the_lines_of_functions_sent_by_value(
    here: dict[str, PonchoEnvironment], cells: tuple[Callable[..., Any], str, str], how: str
) -> None:
    scaled, file_a, file_b = cells
    if how == "as-a-worker-receives-it":
        # What a worker gets from the client: cloudpickle 3.1.3 and later name its code
        # "<dynamic-code>" (older ones keep the file name).
        scaled = cloudpickle.loads(cloudpickle.dumps(scaled))
    elif how == "in-a-partial":
        scaled = functools.partial(cloudpickle.loads(cloudpickle.dumps(scaled)))
    with pytest.raises(RemoteError) as info:
        run_function(scaled, "zork", env=here["cp"])
    text = info.value.remote_traceback
    assert (info.value.stage, info.value.message) == ("call", "bad value zork")
    assert f'File "{file_a}", line 2, in scaled\n    return helper(value) * 2\n' in text
    raising = '    raise ValueError("bad value " + value)\n'
    assert f'File "{file_b}", line 5, in helper\n{raising}' in text
    assert "<dynamic-code>" not in text


def test_only_the_functions_sent_by_value_carry_their_source(
    cells: tuple[Callable[..., Any], str, str],
) -> None:
    scaled, file_a, file_b = cells
    data = dumps_with_sources(("obj", sysconfig.get_config_var, (scaled,), {}), 5)
    stream = io.BytesIO(data)
    assert pickle.load(stream) == {file_a: CELL_A, file_b: CELL_B}
    kind, by_reference, args, _ = pickle.load(stream)
    assert kind == "obj"
    assert by_reference is sysconfig.get_config_var
    assert args[0].__name__ == "scaled"
    nothing = dumps_with_sources(("ref", "os:getpid", (), {}), 5)
    assert pickle.load(io.BytesIO(nothing)) == {}


def test_a_source_is_found_by_the_code_or_the_module_file(
    cells: tuple[Callable[..., Any], str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scaled, file_a, _ = cells
    assert source_of(scaled) == (file_a, CELL_A)
    # The code's file name lost (as cloudpickle 3.1.3 loses it): the module's __file__.
    code = scaled.__code__.replace(co_filename="<dynamic-code>")
    renamed = type(scaled)(code, scaled.__globals__)
    assert source_of(renamed) == (file_a, CELL_A)
    assert source_of(type(scaled)(code, {"__name__": "no_file"})) is None
    unknown: dict[str, Any] = {"__name__": "nowhere"}
    exec(compile("def f():\n    pass\n", "<unknown>", "exec"), unknown)
    assert source_of(unknown["f"]) is None
    # Code made by exec in a module with a file is not given that file's lines.
    made: dict[str, Any] = {"__name__": "poncho_dask_test_cell", "__file__": file_a}
    exec(compile("def g():\n    pass\n", "<string>", "exec"), made)
    assert source_of(made["g"]) is None
    monkeypatch.setattr(_sources, "MAX_SOURCE_CHARS", len(CELL_A) - 1)
    assert source_of(scaled) is None  # too large to be code: not sent
