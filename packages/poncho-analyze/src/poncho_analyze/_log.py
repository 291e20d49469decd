"""Loggers that import :mod:`logging` only when something is logged.

``logging`` brings ``threading``, ``traceback`` and more: a few milliseconds of the
command's start, which matter when the whole analysis takes a few tens.  The command
says how records should look (:func:`configure`); the first record applies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["configure", "get_logger"]

_wanted: dict[str, Any] | None = None


def configure(**basic_config: Any) -> None:
    """``logging.basicConfig(**basic_config)``, applied when the first record comes
    (at once if :mod:`logging` is already in use)."""
    global _wanted
    import sys

    if "logging" in sys.modules:
        sys.modules["logging"].basicConfig(**basic_config)
        return
    _wanted = basic_config


def _dropped(level: int) -> bool:
    """Whether a record at *level* is dropped, known without importing :mod:`logging`:
    nobody imported it (so nobody configured it: records below WARNING go nowhere) and
    the command asked for a higher level than *level*."""
    import sys

    if "logging" in sys.modules:
        return False
    wanted = 30 if _wanted is None else _wanted.get("level", 30)  # WARNING
    return isinstance(wanted, int) and level < wanted


class _Lazy:
    def __init__(self, name: str) -> None:
        self._name = name

    def debug(self, msg: str, *args: Any) -> None:
        if not _dropped(10):
            self.__getattr__("debug")(msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        if not _dropped(20):
            self.__getattr__("info")(msg, *args)

    def __getattr__(self, attr: str) -> Any:
        global _wanted
        import logging

        if _wanted is not None:
            logging.basicConfig(**_wanted)
            _wanted = None
        return getattr(logging.getLogger(self._name), attr)


def get_logger(name: str) -> logging.Logger:
    """A logger for *name* that imports :mod:`logging` on first use."""
    return _Lazy(name)  # type: ignore[return-value]
