"""``poncho_package_create`` on a real terminal: tmux drives a real build (the local channel,
a pip phase from the wheelhouse) on an 80- and a 40-column terminal, and what the terminal
shows at the end is checked line by line: nothing wrapped or cut, no leftovers of a
redrawn bar, every phase on one line of its own with its time."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

DONE = "__poncho_test_done__"
# A finished phase: its verb, maybe a bar, amounts or a message, and its time at the end.
PHASE = re.compile(
    r"^(cache|solving|downloading|installing|pip installing|packing)\b.*\(\d+\.\d s\)$"
)


def drive(columns: int, command: list[str], cwd: Path, timeout: float = 600) -> list[str]:
    """Run *command* in a tmux window *columns* wide; return the lines it shows at the end
    (wrapped lines joined, so that a line too wide for the terminal shows as one)."""
    socket = cwd / "tmux.sock"
    tmux = ["tmux", "-S", str(socket)]
    shell = f"{shlex.join(command)} 2>&1; echo {DONE} $?; sleep 600"
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    env.pop("COLUMNS", None)
    subprocess.run(
        [*tmux, "-f", "/dev/null", "new-session", "-d", "-x", str(columns), "-y", "60",
         "-c", str(cwd), "sh", "-c", shell],
        check=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            if DONE in screen or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    assert DONE in screen, f"no end within {timeout} s:\n{screen}"
    lines = screen.rstrip("\n").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


@pytest.mark.parametrize("columns", [80, 40])
def test_create_on_a_terminal_of_width(
    columns: int, local_channel: Any, wheelhouse: Any, tmp_path: Path
) -> None:
    spec = {
        "conda": {
            "channels": [local_channel.url],
            "dependencies": ["python", "poncho-demo-app", {"pip": ["poncho-demo-pipbase"]}],
        },
        "prefix": "/home/me/envs/demo",  # ignored, with a warning longer than 80 columns
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    exe = Path(sysconfig.get_path("scripts"), "poncho_package_create")
    out = tmp_path / "env.tar.gz"
    command = [str(exe), "spec.json", str(out), "--no-index", "--find-links",
               str(wheelhouse.path), "--pkgs-dir", str(tmp_path / "pkgs")]  # fmt: skip
    lines = drive(columns, command, tmp_path)
    assert lines[-1] == f"{DONE} 0", "\n".join(lines)
    assert lines[-2] == str(out)
    shown = [line.rstrip() for line in lines[:-2] if line.strip()]
    # Log lines (the spec's top-level prefix is warned about; its local channel only under
    # -v) are as long as their message and wrap like any text; they must come whole, on lines
    # of their own, never inside a bar.
    warnings = [line for line in shown if line.startswith("poncho_package_create: warning: ")]
    assert len(warnings) == 1 and warnings[0].endswith("decides where environments are built)")
    assert not re.search(r"\d%|\[#|\(\d+\.\d s\)", warnings[0]), warnings[0]
    shown = [line for line in shown if line not in warnings]
    too_wide = [line for line in shown if len(line) >= columns]
    assert not too_wide, f"wrapped or cut at {columns} columns:\n" + "\n".join(shown)
    strange = [line for line in shown if not PHASE.match(line)]
    assert not strange, f"cut or garbled at {columns} columns:\n" + "\n".join(shown)
    phases = [PHASE.match(line).group(1) for line in shown]  # type: ignore[union-attr]
    for phase in ("solving", "installing", "pip installing", "packing"):
        assert phases.count(phase) == 1, f"{phase} at {columns} columns:\n" + "\n".join(shown)
    assert out.stat().st_size > 0
