"""Fuzzing (issue 13): whatever the spec text, the library raises only its documented errors
and the CLI prints ``poncho_spec: error:`` lines naming the file, never a traceback, and
leaves nothing behind.

The short profile runs with the normal suite; ``nox -s fuzz`` runs the long one
(``PONCHO_FUZZ=long``, 10,000 examples per test) and counts outcomes into
``$PONCHO_FUZZ_REPORT`` (docs/dev/robustness.md has the figures).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from poncho_spec import InvalidSpec, Spec, dumps_spec, loads_spec
from poncho_spec.cli import main
from spec_strategies import FUZZ, spec_texts

OUTCOMES: Counter[str] = Counter()
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?")  # what a ~USER may be


@pytest.fixture(scope="module", autouse=True)
def _report() -> object:
    """Append this module's outcome counts to $PONCHO_FUZZ_REPORT (JSON lines)."""
    yield
    report = os.environ.get("PONCHO_FUZZ_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"suite": "poncho_spec", **OUTCOMES}) + "\n")


def _std_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    """Streams that fail like the real ones: stdout strict UTF-8, stderr backslashreplace."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    return out, err


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


@FUZZ
@given(text=spec_texts)
@example(text='{"pip": ["~="]}')  # issue 22: loaded, but is no path anywhere
@example(text='{"conda": [{"pip": ["~=1.0"]}]}')
@example(text='{"pip": ["~/../x"]}')  # issue 22: its canonical form was the requirement "x"
def test_load_hash_and_canonical_reload(text: str) -> None:
    with tempfile.TemporaryDirectory() as base:
        try:
            spec = loads_spec(text, source="s.json", base_dir=base)
        except InvalidSpec as exc:
            OUTCOMES["api invalid"] += 1
            assert exc.problems
            assert all(line.startswith("s.json: ") for line in str(exc).splitlines())
            str(exc).encode("utf-8")  # printable anywhere
            return
        OUTCOMES["api valid"] += 1
        spec.hash()
        dumps_spec(spec).encode("utf-8")
        canonical = spec.canonical_json()
        assert loads_spec(canonical, base_dir=base).canonical_json() == canonical
        assert Spec.from_dict(json.loads(text), base_dir=base) == spec
        try:
            paths = spec.pip_local_paths()
        except InvalidSpec as exc:  # only ~user of another machine (a well-formed user name)
            users = [entry[1:].split("/")[0] for entry in spec.pip if entry.startswith("~")]
            assert "no such user" in str(exc)
            assert all(_USER.fullmatch(user) for user in users if user), str(exc)
        else:  # the canonical form names the same paths
            again = loads_spec(canonical, base_dir=base).pip_local_paths()
            assert set(again.values()) == set(paths.values())
        assert os.listdir(base) == []


@FUZZ
@given(text=spec_texts, command=st.sampled_from(["validate", "hash", "show"]))
def test_cli(text: str, command: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.json"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        output = Path(folder) / "out.json"
        argv = [command, str(path)] + (["-o", str(output)] if command == "show" else [])
        out, err = _std_streams()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        stdout, stderr = _text(out), _text(err)
        lines = stderr.splitlines()
        errors = [line for line in lines if line.startswith("poncho_spec: error: ")]
        warnings = [line for line in lines if line.startswith("poncho_spec: warning: ")]
        assert len(errors) + len(warnings) == len(lines), stderr  # no traceback, no noise
        left = sorted(p.name for p in Path(folder).iterdir())
        if status == 1:
            OUTCOMES[f"cli {command} error"] += 1
            assert errors and stdout == ""
            assert all(line.startswith(f"poncho_spec: error: {path}: ") for line in errors)
            assert left == ["spec.json"]  # no output, no temporary file
            return
        assert status == 0 and not errors, stderr
        OUTCOMES[f"cli {command} ok"] += 1
        if command == "show":
            assert left == ["out.json", "spec.json"]
            assert load(output) == loads_spec(text, base_dir=folder)
        elif command == "hash":
            assert stdout == loads_spec(text, base_dir=folder).hash() + "\n"
        else:
            assert stdout == f"{path}: OK\n"


def load(path: Path) -> Spec:
    return loads_spec(path.read_text(encoding="utf-8"), base_dir=path.parent)
