"""The lock: round trip, validation of every field, reading from a prefix, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poncho_create import CondaLockEntry, Lock, LockError, PipLockEntry
from poncho_create.lock import conda_entries_from_prefix


def sample() -> Lock:
    return Lock(
        platform="linux-64",
        spec_hash="f" * 64,
        channels=("file:///ch",),
        conda=(
            CondaLockEntry(
                "zlib", "1.3", "h0", "file:///ch/", "file:///ch/linux-64/z.conda", "a" * 64
            ),
            CondaLockEntry("abc", "1", "0", "file:///ch/", "file:///ch/noarch/abc.conda", None),
        ),
        pip=(PipLockEntry("b", "2", None, "path"), PipLockEntry("a", "1", "c" * 64, "index")),
    )


def test_round_trip_and_sorted_entries(tmp_path: Path) -> None:
    lock = sample()
    assert [e.name for e in lock.conda] == ["abc", "zlib"]
    assert [e.name for e in lock.pip] == ["a", "b"]
    path = tmp_path / "sub" / "lock.json"
    lock.write(path)
    assert Lock.read(path) == lock
    data = json.loads(path.read_text())
    assert list(data) == ["lock_version", "platform", "spec_hash", "channels", "conda", "pip"]
    assert data["lock_version"] == 1
    assert data["pip"][1] == {
        "name": "b", "version": "2", "sha256": None, "source": "path", "url": None,
    }  # fmt: skip
    assert path.read_text().endswith("}\n")


def test_every_problem_is_reported_at_once() -> None:
    bad = {
        "lock_version": 7,
        "platform": "",
        "channels": "x",
        "conda": [{"name": "a"}, 3],
        "pip": [{"name": "p", "version": "1", "source": "ftp", "sha256": 5}, "x"],
    }
    with pytest.raises(LockError) as info:
        Lock.from_dict(bad, source="l.json")
    text = str(info.value)
    for piece in (
        "l.json: lock_version must be 1",
        "l.json: platform: must be a non-empty string",
        "spec_hash: must be a non-empty string",
        "channels: must be a list of strings",
        "conda[0].version: must be a non-empty string",
        "conda[1]: must be an object",
        "pip[0].source: must be one of index, url, vcs, path, installed",
        "pip[0].sha256: must be a string or null",
        "pip[1]: must be an object",
    ):
        assert piece in text
    with pytest.raises(LockError, match="a lock is a JSON object"):
        Lock.from_dict([], source="l.json")
    with pytest.raises(LockError, match="conda: must be a list"):
        Lock.from_dict({**sample().to_dict(), "conda": {}})


def test_reading_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="cannot read lock file"):
        Lock.read(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(LockError, match="not valid JSON"):
        Lock.read(broken)


def test_conda_entries_from_a_prefix(tmp_path: Path) -> None:
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    (meta / "a-1-0.json").write_text(
        json.dumps(
            {
                "name": "a",
                "version": "1",
                "build": "0",
                "channel": "https://c/x",
                "url": "https://c/x/noarch/a-1-0.conda",
                "sha256": "d" * 64,
            }
        )
    )
    (meta / "b-2-0.json").write_text(json.dumps({"name": "b", "version": "2", "build": "0"}))
    (meta / "history").write_text("")
    entries = conda_entries_from_prefix(tmp_path)
    assert entries == [
        CondaLockEntry("a", "1", "0", "https://c/x", "https://c/x/noarch/a-1-0.conda", "d" * 64),
        CondaLockEntry("b", "2", "0", "", "", None),
    ]


def test_git_entries_round_trip_and_are_checked(tmp_path: Path) -> None:
    from poncho_create import GitLockEntry

    lock = Lock(
        "linux-64",
        "h",
        git=(GitLockEntry("B", "r", "main", "c2"), GitLockEntry("A", "r", "v1", "c1")),
    )
    assert [e.var for e in lock.git] == ["A", "B"]
    lock.write(tmp_path / "lock.json")
    assert Lock.read(tmp_path / "lock.json") == lock
    assert "git" not in Lock("linux-64", "h").to_dict()
    with pytest.raises(LockError) as info:
        Lock.from_dict({"lock_version": 1, "platform": "p", "spec_hash": "h",
                        "git": [{"var": "A", "remote": "r", "ref": "main"}, 3]})  # fmt: skip
    assert str(info.value).splitlines() == [
        "lock: git[0].commit: must be a non-empty string",
        "lock: git[1]: must be an object",
    ]


def test_pip_sources_round_trip_and_old_locks_still_read(tmp_path: Path) -> None:
    vcs = PipLockEntry("six", "1.16.0", None, "vcs", "git+file:///r", "c" * 40)
    url = PipLockEntry("u", "1", "d" * 64, "url", "https://h/u-1.tar.gz")
    lock = Lock("linux-64", "h", pip=(vcs, url))
    lock.write(tmp_path / "lock.json")
    assert Lock.read(tmp_path / "lock.json") == lock
    data = json.loads((tmp_path / "lock.json").read_text())
    assert data["pip"][0]["commit"] == "c" * 40 and "commit" not in data["pip"][1]
    assert [e.origin() for e in lock.pip] == [f"git+file:///r@{'c' * 40}", "https://h/u-1.tar.gz"]
    # A lock written before the sources were told apart: no url, no commit, "installed".
    old = {"lock_version": 1, "platform": "linux-64", "spec_hash": "h", "channels": [],
           "conda": [], "pip": [{"name": "a", "version": "1", "sha256": None,
                                 "source": "installed"},
                                {"name": "b", "version": "2", "sha256": None,
                                 "source": "path"}]}  # fmt: skip
    assert [e.origin() for e in Lock.from_dict(old).pip] == ["installed", "path"]
    with pytest.raises(LockError) as info:
        bad = [{"name": "v", "version": "1", "source": "vcs"},
               {"name": "w", "version": "1", "source": "url"}]  # fmt: skip
        Lock.from_dict({**old, "pip": bad})
    assert str(info.value).splitlines() == [
        "lock: pip[0].url: a vcs source needs one",
        "lock: pip[0].commit: a vcs source needs one",
        "lock: pip[1].url: a url source needs one",
    ]
