"""Reading pip's report: the lock entries of what it installed, and the locked hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from poncho_create import PipError, PipLockEntry
from poncho_create.local_inputs import content_digest
from poncho_create.pip_report import check_hashes, lock_entries


def test_lock_entries_from_a_report() -> None:
    report = {
        "install": [
            {
                "metadata": {"name": "old-pip", "version": "1"},
                "download_info": {"url": "https://i/x.whl", "archive_info": {"hash": "sha256=ab"}},
            },
            {"metadata": {"name": "no-info", "version": "2"}},
        ]
    }
    entries = lock_entries(report, set(), set())
    assert entries == [
        PipLockEntry("old-pip", "1", "ab", "index", "https://i/x.whl"),
        PipLockEntry("no-info", "2", None, "index"),
    ]
    with pytest.raises(PipError, match="locked pip package gone 3 was not installed"):
        check_hashes([PipLockEntry("gone", "3")], entries)


def test_each_source_is_told_apart(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "x.py").write_text("X = 1\n")
    wheel = tmp_path / "w-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")

    def item(name: str, info: dict[str, Any], direct: bool = True) -> dict[str, Any]:
        return {"metadata": {"name": name, "version": "1"}, "download_info": info,
                "is_direct": direct}  # fmt: skip

    git = {"vcs": "git", "requested_revision": "v1", "commit_id": "c" * 40}
    report = {
        "install": [
            item(
                "idx",
                {"url": "https://i/i.whl", "archive_info": {"hashes": {"sha256": "a"}}},
                False,
            ),
            item("url", {"url": "https://h/url.tar.gz", "archive_info": {"hash": "sha256=b"}}),
            item("vcs", {"url": "file:///repo", "vcs_info": git}),
            item("dir", {"url": folder.as_uri(), "dir_info": {}}),
            item("whl", {"url": wheel.as_uri(), "archive_info": {"hash": "sha256=d"}}),
            item("relocked", {"url": "https://i/r.whl", "archive_info": {"hash": "sha256=e"}}),
        ]
    }
    entries = {e.name: e for e in lock_entries(report, {wheel}, set(), {"https://i/r.whl"})}
    assert entries["idx"] == PipLockEntry("idx", "1", "a", "index", "https://i/i.whl")
    assert entries["url"] == PipLockEntry("url", "1", "b", "url", "https://h/url.tar.gz")
    assert entries["vcs"] == PipLockEntry("vcs", "1", None, "vcs", "git+file:///repo", "c" * 40)
    assert entries["dir"] == PipLockEntry(
        "dir", "1", content_digest(folder), "path", folder.as_uri()
    )
    assert entries["whl"] == PipLockEntry("whl", "1", "d", "path", wheel.as_uri())
    assert entries["relocked"].source == "index"  # a lock's index file, named by URL again
    assert content_digest(wheel) == hashlib.sha256(b"wheel").hexdigest()
    (folder / "x.py").write_text("X = 2\n")
    assert content_digest(folder) != entries["dir"].sha256


def test_a_changed_commit_or_digest_is_refused() -> None:
    want = PipLockEntry("six", "1.16.0", None, "vcs", "git+file:///r", "a" * 40)
    check_hashes([want], [want])
    with pytest.raises(PipError, match=r"six 1.16.0 changed: commit b+ now, a+ in the lock"):
        check_hashes(
            [want], [PipLockEntry("six", "1.16.0", None, "vcs", "git+file:///r", "b" * 40)]
        )
    path = PipLockEntry("mine", "1", "d" * 64, "path", "file:///p")
    with pytest.raises(PipError, match=r"mine 1 changed: sha256 e+ now"):
        check_hashes([path], [PipLockEntry("mine", "1", "e" * 64, "path", "file:///p")])
