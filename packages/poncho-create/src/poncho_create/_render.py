"""Drawing progress events for the CLI: a one-line bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from poncho_create.progress import ProgressEvent, counted

__all__ = ["LineRenderer", "TerminalRenderer", "human"]

_VERBS = {
    "cache": "cache",
    "solve": "solving",
    "download": "downloading",
    "install": "installing",
    "pip": "pip installing",
    "pack": "packing",
}


def human(amount: int, unit: str) -> str:
    """``12.3 MB`` for bytes, ``3 packages`` (``1 package``) for anything else."""
    if unit != "bytes":
        return counted(amount, unit)
    value = float(amount)
    for suffix in ("B", "kB", "MB", "GB"):
        if value < 1000 or suffix == "GB":
            return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _amounts(event: ProgressEvent) -> str:
    if event.total is None:
        return human(event.done, event.unit) if event.done else ""
    if event.unit == "bytes":
        return f"{human(event.done, 'bytes')} / {human(event.total, 'bytes')}"
    return f"{event.done}/{counted(event.total, event.unit)}"


def _note(event: ProgressEvent, started: dict[str, float]) -> bool:
    """A cache hit (the "cache" phase ending as it starts, with no wait): shown as its
    message alone ("cache hit: PATH"), not as a bar or a phase with a duration."""
    return (
        event.phase == "cache"
        and event.finished
        and event.phase not in started
        and bool(event.message)
    )


class LineRenderer:
    """Plain log lines: one when a phase starts and one when it ends (for logs and CI)."""

    def __init__(self, stream: TextIO, prog: str) -> None:
        self._stream = stream
        self._prog = prog
        self._started: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        """Write a line at the start and at the end of each phase."""
        if event.detail is not None:  # a note for --json; -v logs it in words
            return
        verb = _VERBS.get(event.phase, event.phase)
        if _note(event, self._started):
            self._write(event.message)
        elif event.finished:
            now = time.monotonic()
            took = now - self._started.pop(event.phase, now)
            detail = event.message or _amounts(event)
            self._write(f"{verb}: done{', ' + detail if detail else ''} ({took:.1f} s)")
        elif event.phase not in self._started:
            self._started[event.phase] = time.monotonic()
            detail = event.message or _amounts(event)
            self._write(f"{verb}{': ' + detail if detail else ''} ...")

    def _write(self, text: str) -> None:
        self._stream.write(f"{self._prog}: {text}\n")
        self._stream.flush()


class TerminalRenderer:
    """A one-line bar redrawn in place (``\\r``); each finished phase leaves one line with
    its time. Phases that run at once are drawn one after the other, in the order they
    started, each on its own line. Every line fits the terminal's width: at narrow widths
    the bar goes first, then the message, then the amounts; words are never cut."""

    def __init__(
        self, stream: TextIO, width: int | None = None, min_interval: float = 0.05
    ) -> None:
        self._stream = stream
        self._width = max(width or shutil.get_terminal_size((80, 24)).columns, 10)
        self._min_interval = min_interval
        self._last_draw = -float("inf")
        self._dirty = False
        self._started: dict[str, float] = {}
        self._order: list[str] = []  # the running phases, oldest (the drawn one) first
        self._latest: dict[str, ProgressEvent] = {}  # the last event of a waiting phase
        self._ended: dict[str, str] = {}  # the final line of a phase that ended waiting

    def __call__(self, event: ProgressEvent) -> None:
        """Redraw the bar (at most every `min_interval` seconds; always at a phase's ends)."""
        if event.detail is not None:  # a note for --json; -v logs it in words
            return
        now = time.monotonic()
        if _note(event, self._started):  # e.g. "cache hit: PATH", in words, whole
            self.close()
            self._stream.write(event.message + "\n")
            self._stream.flush()
            return
        started = self._started.setdefault(event.phase, now)
        if event.phase not in self._order:
            self._order.append(event.phase)
        if event.phase != self._order[0]:
            # Phases running at once (conda's download and install) take turns: the line
            # is the oldest one's; a later phase is drawn on its own line once it ends.
            if event.finished:
                self._started.pop(event.phase, None)
                self._ended[event.phase] = self._fit(event, f"({now - started:.1f} s)")
            else:
                self._latest[event.phase] = event
            return
        if not event.finished and event.done and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        took = f"({now - started:.1f} s)" if event.finished else ""
        self._draw(self._fit(event, took), event.finished)
        if event.finished:
            self._started.pop(event.phase, None)
            self._order.pop(0)
            self._next()

    def _draw(self, text: str, finished: bool) -> None:
        self._stream.write("\r" + text.ljust(self._width - 1))
        if finished:
            self._stream.write("\n")
        self._dirty = not finished
        self._stream.flush()

    def _next(self) -> None:
        """Draw the phases waiting for the line: the ended ones, then the next running one."""
        while self._order:
            phase = self._order[0]
            if phase in self._ended:
                self._draw(self._ended.pop(phase), True)
                self._order.pop(0)
                continue
            latest = self._latest.pop(phase, None)
            if latest is not None:
                self._draw(self._fit(latest, ""), False)
            return

    def _fit(self, event: ProgressEvent, took: str) -> str:
        """The richest line that fits: bar, amounts, message and time, dropping parts from
        the least useful one when the terminal is narrow."""
        room = self._width - 1
        verb = _VERBS.get(event.phase, event.phase)
        fraction: float | None = 1.0 if event.finished else None
        if event.total:
            fraction = min(1.0, event.done / event.total)
        percent = f"{fraction:4.0%}" if fraction is not None else "    "
        amounts, message = _amounts(event), event.message
        # One bar width for the whole run, from the terminal's width (no jumping bars).
        width = min(30, room - 56)
        head = f"{verb:<15} "
        tails = [
            "  ".join(p for p in parts if p)
            for parts in ([amounts, message, took], [amounts, took], [took])
        ]
        if width >= 10:  # with the bar, giving up the message first
            for tail in tails:
                filled = int(width * (fraction or 0.0))
                line = f"{head}[{'#' * filled}{'-' * (width - filled)}] {percent} {tail}"
                if len(line.rstrip()) <= room:
                    return line.rstrip()
        for tail in tails:  # too narrow for a bar
            line = " ".join(p for p in (verb, percent.strip(), tail) if p)
            if len(line) <= room:
                return line
        return verb[:room]

    def close(self) -> None:
        """End an unfinished bar line (e.g. after an error) so later text starts clean,
        after the lines of the phases that ended while waiting for it."""
        if self._dirty:
            self._stream.write("\n")
            self._dirty = False
        for phase in self._order:
            if phase in self._ended:
                self._stream.write(self._ended[phase] + "\n")
        self._order, self._latest, self._ended = [], {}, {}
        self._stream.flush()
