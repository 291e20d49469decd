"""poncho_core._threads: a call for every item on a few threads, errors raised once none runs."""

from __future__ import annotations

import threading
import time

import pytest

from poncho_core._threads import cores, each


def test_each_calls_every_item_once_on_the_threads_asked() -> None:
    seen: list[tuple[int, int]] = []
    threads: set[int] = set()
    lock = threading.Lock()

    def call(number: int, twice: int) -> None:
        time.sleep(0.001)  # let the other thread run
        with lock:
            seen.append((number, twice))
            threads.add(threading.get_ident())

    items = [(n, 2 * n) for n in range(200)]
    each(call, items, 2)
    assert sorted(seen) == items
    assert len(threads) == 2 and threading.get_ident() not in threads
    seen.clear()
    threads.clear()
    each(call, items[:10], 2)  # a few: in this thread
    assert sorted(seen) == items[:10] and threads == {threading.get_ident()}


def test_each_raises_the_first_error_once_no_thread_runs() -> None:
    called: list[int] = []

    def call(number: int) -> None:
        if number == 7:
            raise OSError("no room")
        called.append(number)

    before = threading.active_count()
    with pytest.raises(OSError, match="no room"):
        each(call, [(n,) for n in range(500)], 3)
    assert threading.active_count() == before  # every thread ended first
    assert 7 not in called and len(called) < 499  # the others stopped at an item
    assert cores() >= 1
