"""Progress events: what `create` is doing and how far it got.

The library reports through a callback and never draws anything; the CLI turns the events
into a one-line bar on a terminal or plain log lines otherwise (see `poncho_create._render`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PHASES", "ProgressCallback", "ProgressEvent", "Reporter", "counted"]

log = logging.getLogger(__name__)

PHASES = ("cache", "solve", "download", "install", "pip", "pack")
"""The phases of a build, in order (``cache`` only on a cache hit)."""


def counted(amount: int, unit: str) -> str:
    """``1 requirement``, ``3 requirements``: `unit` is the plural, as events carry it."""
    if amount == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{amount} {unit}"


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: `done` of `total` `unit` in `phase` (total None if unknown).

    A phase starts with ``done == 0`` and ends with an event whose `finished` is True.
    `message` is a short human text such as ``"12 packages"``. A note (phase ``layer``:
    what the build did with its conda layer) is one finished event whose `detail` holds
    the facts as data.
    """

    phase: str
    done: int
    total: int | None
    unit: str
    message: str = ""
    finished: bool = False
    detail: Mapping[str, Any] | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class Reporter:
    """Sends events to an optional callback; thread-safe (rattler reports from its threads).

    A failing callback is logged once and then ignored: progress must never break a build.
    """

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def __call__(
        self,
        phase: str,
        done: int,
        total: int | None,
        unit: str,
        message: str = "",
        *,
        finished: bool = False,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Report one event (no-op without a callback)."""
        if self._callback is None:
            return
        event = ProgressEvent(phase, done, total, unit, message, finished, detail)
        with self._lock:
            try:
                self._callback(event)
            except Exception:
                log.exception("progress callback failed; progress reporting turned off")
                self._callback = None

    def start(self, phase: str, total: int | None, unit: str, message: str = "") -> None:
        """Report the start of a phase."""
        self(phase, 0, total, unit, message)

    def finish(
        self, phase: str, done: int, total: int | None, unit: str, message: str = ""
    ) -> None:
        """Report the end of a phase."""
        self(phase, done, total, unit, message, finished=True)

    def note(self, phase: str, message: str, detail: Mapping[str, Any]) -> None:
        """Report a fact about the build (not a phase): `detail` holds it as data."""
        self(phase, 1, 1, "notes", message, finished=True, detail=detail)
