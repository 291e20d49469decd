from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import FetchError, GitNotFound
from poncho_fetch.git import checkout, git_executable, is_full_sha, resolve_ref


def test_full_sha_is_used_as_is_without_asking_the_remote(tmp_path: Path) -> None:
    sha = "a" * 40
    assert resolve_ref(str(tmp_path / "no-such-remote"), sha, key="git.X") == sha
    assert is_full_sha("b" * 64)
    assert not is_full_sha("B" * 40)


@pytest.mark.parametrize(
    ("ref", "index"),
    [("main", -1), ("refs/heads/main", -1), ("HEAD", -1), ("v1", 0), ("refs/tags/v1", 0),
     ("v1-annotated", 0), ("refs/tags/v1-annotated", 0)],
)  # fmt: skip
def test_branches_and_tags_resolve_to_commits(git_remote: Any, ref: str, index: int) -> None:
    # An annotated tag resolves to the commit, not to the tag object.
    assert resolve_ref(str(git_remote.path), ref, key="git.X") == git_remote.commits[index]
    assert resolve_ref(git_remote.url, ref, key="git.X") == git_remote.commits[index]


def test_abbreviated_sha_is_left_to_the_clone(git_remote: Any) -> None:
    assert resolve_ref(git_remote.url, git_remote.commits[0][:10], key="git.X") is None


def test_unknown_ref(git_remote: Any) -> None:
    with pytest.raises(FetchError, match=r"git\.X: no branch, tag or commit 'nope' in"):
        resolve_ref(git_remote.url, "nope", key="git.X")


def test_unreadable_remote(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"git\.X: git ls-remote failed: "):
        resolve_ref(str(tmp_path / "missing"), "main", key="git.X")


@pytest.mark.parametrize("which", ["path", "url"])
def test_checkout_an_old_commit(git_remote: Any, tmp_path: Path, which: str) -> None:
    remote = str(git_remote.path) if which == "path" else git_remote.url
    dest = tmp_path / "co"
    assert checkout(remote, git_remote.commits[0], dest, key="git.X") == git_remote.commits[0]
    assert (dest / "data.txt").read_text() == "v1\n"
    assert not (dest / "data" / "values.txt").exists()  # added by the second commit


def test_checkout_abbreviated_sha(git_remote: Any, tmp_path: Path) -> None:
    got = checkout(git_remote.url, git_remote.commits[0][:8], tmp_path / "co", key="git.X")
    assert got == git_remote.commits[0]
    assert (tmp_path / "co" / "data.txt").read_text() == "v1\n"


def test_commit_no_ref_reaches_is_fetched_by_id(
    git_remote: Any, tmp_path: Path, run_git: Any
) -> None:
    repo = tmp_path / "repo"
    run_git(tmp_path, "clone", "-q", str(git_remote.path), str(repo))
    (repo / "data.txt").write_text("dangling\n")
    run_git(repo, "commit", "-q", "-am", "dangling")
    dangling = run_git(repo, "rev-parse", "HEAD")
    run_git(repo, "reset", "-q", "--hard", "HEAD~1")  # no ref reaches it any more
    got = checkout(str(repo), dangling, tmp_path / "co", key="git.X")
    assert got == dangling
    assert (tmp_path / "co" / "data.txt").read_text() == "dangling\n"


def test_missing_commit(git_remote: Any, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"git\.X: fetching 0000000"):
        checkout(git_remote.url, "0" * 40, tmp_path / "co", key="git.X")


def test_git_not_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitNotFound, match="'git' program is not on PATH"):
        git_executable()
    with pytest.raises(GitNotFound):
        resolve_ref("/x", "main", key="git.X")


def test_a_git_server_that_stalls_is_given_up_at_the_deadline(server: Any) -> None:
    # Issue 12 item 6: git ran without a timeout. The server sends headers, then nothing.
    server.fail("repo/info/refs?service=git-upload-pack", "stall")
    timer = threading.Timer(60, server.release)  # a broken deadline fails, never hangs
    timer.start()
    try:
        with pytest.raises(FetchError) as info:
            resolve_ref(server.url_for("repo"), "main", key="git.X", deadline=time.monotonic() + 1)
    finally:
        timer.cancel()
    assert str(info.value) == (
        "git.X: git ls-remote not finished within the deadline; stopped "
        "(RetryPolicy.deadline, poncho_fetch --deadline)"
    )
    assert server.hits("repo/info/refs?service=git-upload-pack") == 1


def test_a_checkout_past_its_deadline_stops(git_remote: Any, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"^git\.X: git clone not finished within the deadline"):
        checkout(git_remote.url, git_remote.head, tmp_path / "co", key="git.X", deadline=0)


@pytest.mark.parametrize("ref", ["ma\ud800in", "a\x00b"])
def test_a_ref_no_process_can_take_is_a_fetch_error(git_remote: Any, ref: str) -> None:
    # Issue 13 item 20: UnicodeEncodeError (validation refuses these refs too).
    with pytest.raises(FetchError, match=r"^git\.X: cannot run git: "):
        resolve_ref(git_remote.url, ref, key="git.X")
