"""Git refs that are not commits are resolved once at create time (real repos, real git)."""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import GitLockEntry, Lock, create
from poncho_create.git_refs import resolve_git_refs
from poncho_spec import GitSource


def test_branches_tags_and_head_resolve_to_commits(
    git_repo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sources = {
        "MAIN": GitSource(git_repo.url, "main"),
        "TAG": GitSource(git_repo.url, "v1"),
        "DEV": GitSource(git_repo.url, "dev"),
        "TIP": GitSource(git_repo.url, "HEAD"),
        "SHA": GitSource(git_repo.url, git_repo.commits[0].upper()),
    }
    entries = {e.var: e for e in resolve_git_refs(sources)}
    assert entries["MAIN"].commit == git_repo.head
    assert entries["TAG"].commit == git_repo.tags["v1"]
    assert entries["DEV"].commit == git_repo.branches["dev"]
    assert entries["TIP"].commit == git_repo.head
    assert entries["SHA"].commit == git_repo.commits[0]
    assert "git.MAIN: 'main' resolved to commit" in caplog.text and "branches move" in caplog.text
    assert "git.SHA" not in caplog.text


def test_unreadable_remotes_and_unknown_refs_are_left_to_fetch_time(
    tmp_path: Path, git_repo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sources = {
        "GONE": GitSource((tmp_path / "nothing").as_uri(), "main"),
        "NOREF": GitSource(git_repo.url, "no-such-branch"),
    }
    assert resolve_git_refs(sources) == []
    assert "git.GONE: cannot read" in caplog.text
    assert "git.NOREF: no branch or tag 'no-such-branch'" in caplog.text


def test_without_git_the_ref_is_left_to_fetch_time(
    git_repo: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve_git_refs({"D": GitSource(git_repo.url, "main")}) == []
    assert "git is not installed" in caplog.text


def test_the_tarball_and_the_lock_record_the_commit(
    git_repo: Any, mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    spec = helpers.mini_spec(mini_channel)
    spec["git"] = {"DATA": {"remote": git_repo.url, "ref": "main"}}
    caplog.set_level(logging.WARNING)
    out = create(spec, tmp_path / "env.tar", lock_out=tmp_path / "lock.json", **build_dirs)
    lock = Lock.read(tmp_path / "lock.json")
    assert lock.git == (GitLockEntry("DATA", git_repo.url, "main", git_repo.head),)
    with tarfile.open(out) as tar:
        packed = json.loads(tar.extractfile("poncho/spec.json").read())  # type: ignore[union-attr]
    assert packed["git"]["DATA"] == {"remote": git_repo.url, "ref": git_repo.head}
    # main moves on; the tarball already made still names the old commit.
    git_repo.commit({"new.txt": "later"})
    assert git_repo.head != lock.git[0].commit


def test_a_relative_remote_is_stored_resolved_against_the_spec_folder(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Issue 26 item 6 (seam 8): resolved once, here, against the spec's folder (not the
    cwd), and stored so in the tarball's spec and lock; its hash names the resolved spec."""
    from poncho_spec import Spec, load_spec
    from poncho_testing import make_git_repo

    repo = make_git_repo(tmp_path / "t14" / "data" / "repo")
    make_git_repo(tmp_path / "data" / "repo")  # what the cwd would name
    spec = helpers.mini_spec(mini_channel)
    spec["git"] = {"REPO_DIR": {"remote": "../data/repo", "ref": "main"}}
    path = tmp_path / "t14" / "specs" / "spec.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(spec))
    monkeypatch.chdir(tmp_path / "t14")
    out = create(path, tmp_path / "rel.tar", lock_out=tmp_path / "lock.json", **build_dirs)
    with tarfile.open(out) as tar:
        packed = json.loads(tar.extractfile("poncho/spec.json").read())  # type: ignore[union-attr]
    assert packed["git"]["REPO_DIR"] == {"remote": str(repo.path), "ref": repo.head}
    lock = Lock.read(tmp_path / "lock.json")
    assert lock.git == (GitLockEntry("REPO_DIR", str(repo.path), "main", repo.head),)
    # The lock names the spec the tarball carries: the remote resolved, the ref its commit.
    assert lock.spec_hash == Spec.from_dict(packed).hash()
    assert lock.spec_hash != load_spec(path).hash()
