"""The errors of poncho_dask: their messages, and they survive pickling (client <-> worker)."""

from __future__ import annotations

import pickle

from poncho_dask import CommandFailed, RemoteError
from poncho_run import RunError


def test_errors_pickle_and_explain_themselves() -> None:
    assert "killed by signal 200" in str(CommandFailed(["x"], -200, "", "", "e"))
    killed = CommandFailed(["sleep", "9"], -9, "", b"", "e")
    assert "killed by signal SIGKILL (9) (no stderr)" in str(killed)
    long = CommandFailed(["x"], 2, "", "a" * 9000 + "END", "e")
    assert str(long).endswith("a" * 100 + "END") and "[...]" in str(long)
    remote = RemoteError("e", "f", "load", "ImportError", "", "", "a hint")
    for err in (killed, long, remote, CommandFailed(["x"], 200, "", "", "e")):
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err) and str(copy) == str(err)
    assert str(remote) == "environment 'e' could not load f: ImportError\n(a hint)"
    assert isinstance(remote, RunError)
