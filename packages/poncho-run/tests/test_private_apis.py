"""Canaries for the private CPython APIs poncho-run uses where they measurably matter.

Each test fails loudly if the private API changes shape, before users see a subtle bug:
- ``_signal`` (the C module under ``signal``): the exec path restores SIGPIPE/SIGXFSZ with it
  without importing ``enum`` (``import signal`` costs a few ms on each warm run);
- ``_json.make_scanner``: the state file is read with the C scanner and a context object of
  our own, without importing ``json.decoder``'s machinery (and with NaN refused).
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from poncho_run import _state


def test_signal_c_module_has_what_the_exec_path_uses() -> None:
    import _signal

    assert _signal.SIG_DFL == signal.SIG_DFL
    assert _signal.SIGPIPE == signal.SIGPIPE
    assert _signal.SIGXFSZ == signal.SIGXFSZ
    assert callable(_signal.signal)


def test_restoring_signals_through_the_c_module_takes_effect() -> None:
    """Python starts with SIGPIPE ignored; after _restore_signals it is the default again
    (what the exec'd command inherits)."""
    probe = (
        "import signal; from poncho_run import process;"
        "before = signal.getsignal(signal.SIGPIPE); process._restore_signals();"
        "print(before == signal.SIG_IGN, signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_json_c_scanner_accepts_our_context() -> None:
    scan = _state._scanner()
    assert scan is not None, "_json.make_scanner is gone: _state falls back to json.loads"
    assert scan('{"a": [1, 2.5, "x", true, null]}', 0) == ({"a": [1, 2.5, "x", True, None]}, 32)


def test_state_reader_refuses_nan_through_the_c_scanner() -> None:
    with pytest.raises(ValueError, match="NaN is not allowed"):
        _state._loads('{"a": NaN}')
    assert _state._loads(' {"b": {"c": "d"}} ') == {"b": {"c": "d"}}
