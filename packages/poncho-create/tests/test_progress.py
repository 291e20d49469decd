"""Progress events and the reporter that sends them."""

from __future__ import annotations

import logging
import threading

import pytest

from poncho_create.progress import PHASES, ProgressEvent, Reporter


def test_events_in_order() -> None:
    events: list[ProgressEvent] = []
    report = Reporter(events.append)
    report.start("pack", 100, "bytes", "3 files")
    report("pack", 50, 100, "bytes")
    report.finish("pack", 100, 100, "bytes", "done")
    assert events == [
        ProgressEvent("pack", 0, 100, "bytes", "3 files"),
        ProgressEvent("pack", 50, 100, "bytes"),
        ProgressEvent("pack", 100, 100, "bytes", "done", finished=True),
    ]
    assert "pack" in PHASES


def test_no_callback_is_fine() -> None:
    Reporter(None).start("solve", None, "specs")


def test_a_failing_callback_is_logged_once_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def broken(event: ProgressEvent) -> None:
        calls.append(event)
        raise RuntimeError("drawing failed")

    report = Reporter(broken)
    with caplog.at_level(logging.ERROR, logger="poncho_create.progress"):
        report.start("solve", None, "specs")
        report.finish("solve", 1, 1, "packages")
    assert len(calls) == 1
    assert "progress callback failed" in caplog.text


def test_thread_safe() -> None:
    """The callback never runs in two threads at once (rattler reports from its threads)."""
    inside = 0
    most_inside = 0
    second_entered = threading.Event()
    count = threading.Lock()
    seen: list[int] = []

    def callback(event: ProgressEvent) -> None:
        nonlocal inside, most_inside
        with count:
            inside += 1
            most_inside = max(most_inside, inside)
            if inside > 1:
                second_entered.set()
        # The first call waits for a second thread to come in: without the reporter's lock it
        # does at once; with it, only after this wait has timed out and this call has left.
        if len(seen) == 0:
            second_entered.wait(0.5)
        seen.append(event.done)
        with count:
            inside -= 1

    report = Reporter(callback)
    threads = [
        threading.Thread(target=lambda: [report("download", i, 100, "bytes") for i in range(100)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most_inside == 1
    assert len(seen) == 400
