"""Reading pip's report: the lock entries of what it installed, and the locked hashes."""

from __future__ import annotations

import pytest

from poncho_create import PipError, PipLockEntry
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
