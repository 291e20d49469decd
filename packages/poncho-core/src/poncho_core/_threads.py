"""Small thread helpers of the extractors: how many cores this process may use, and a
call made for every item of a list on a few threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["cores", "each"]

_FEW = 64  # fewer items: called in this thread


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def each(call: Callable[..., object], items: Sequence[tuple[Any, ...]], workers: int) -> None:
    """``call(*item)`` for every item, on `workers` threads (work made of system calls,
    which run without the GIL: a node store's links); the first error is raised once no
    thread runs, and stops the others at their next item."""
    if workers <= 1 or len(items) < _FEW:
        for item in items:
            call(*item)
        return
    errors: list[BaseException] = []

    def run(part: Sequence[tuple[Any, ...]]) -> None:
        try:
            for item in part:
                if errors:
                    return
                call(*item)
        except BaseException as exc:  # raised by the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(items[n::workers],)) for n in range(workers)]
    try:
        for thread in threads:
            thread.start()
    finally:
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    if errors:
        raise errors[0]
