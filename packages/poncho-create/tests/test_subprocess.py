"""run_streamed: output read as it comes, and nothing left running when the caller gives up."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from poncho_create._subprocess import run_streamed

GRANDCHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
print("ready", flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent, the ended child, no longer reaps it).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_lines_come_as_they_are_printed_and_the_status_is_kept() -> None:
    seen: list[str] = []
    code = "import sys; print('one', flush=True); print('two', file=sys.stderr); sys.exit(3)"
    result = run_streamed([sys.executable, "-c", code], on_line=seen.append)
    assert result.returncode == 3
    assert seen == ["one", "two"]
    assert result.stdout == "one\ntwo\n"


def test_a_missing_program_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        run_streamed([str(tmp_path / "nothing-here")])


def test_giving_up_ends_the_child_and_its_children() -> None:
    pids: list[int] = []

    def on_line(line: str) -> None:
        if line.isdigit():
            pids.append(int(line))
        elif line == "ready":
            raise KeyboardInterrupt  # what Ctrl-C or the CLI's SIGTERM handler does

    with pytest.raises(KeyboardInterrupt):
        run_streamed([sys.executable, "-c", GRANDCHILD], on_line=on_line)
    assert len(pids) == 1
    deadline = time.monotonic() + 10
    while _alive(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pids[0]), "the grandchild was left running"
