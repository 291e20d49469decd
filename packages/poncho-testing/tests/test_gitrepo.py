"""make_git_repo makes real repositories that git can clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from poncho_testing import BuildError, GitRepo, make_git_repo
from poncho_testing.gitrepo import git_env, run_git


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=git_env()
    ).stdout.strip()


def test_fixture_repo_has_history(git_repo: GitRepo, tmp_path: Path) -> None:
    assert len(git_repo.commits) == 2 and git_repo.head == git_repo.commits[-1]
    assert git_repo.tags == {"v1": git_repo.commits[0]}
    assert git_repo.branches["main"] == git_repo.head
    assert git_repo.branches["dev"] not in git_repo.commits
    assert git_repo.url.startswith("file:///")
    refs = git("ls-remote", git_repo.url)
    assert f"{git_repo.head}\trefs/heads/main" in refs
    assert f"{git_repo.branches['dev']}\trefs/heads/dev" in refs
    git("clone", "-q", git_repo.url, str(tmp_path / "clone"))
    assert (tmp_path / "clone" / "data" / "values.txt").read_text() == "1\n2\n3\n4\n"
    assert not (tmp_path / "clone" / "dev.txt").exists()
    git("checkout", "-q", "v1", cwd=tmp_path / "clone")
    assert (tmp_path / "clone" / "data" / "values.txt").read_text() == "1\n2\n3\n"


def test_new_commits_move_branches(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "r", files={"a.bin": b"\x00\x01", "b/c.txt": "c"})
    old = repo.head
    new = repo.commit({"a.bin": b"\x02"}, "third")
    assert repo.commits == [repo.commits[0], old, new]
    assert run_git(repo.path, "rev-parse", "main") == new
    assert (repo.path / "a.bin").read_bytes() == b"\x02"
    dev = repo.commit({"x": "y"}, branch="dev")
    assert repo.branches["dev"] == dev and repo.head == new
    assert run_git(repo.path, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert repo.tag("v2") == new


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with pytest.raises(BuildError, match="not empty"):
        make_git_repo(tmp_path)


def test_git_failures_are_build_errors(git_repo: GitRepo) -> None:
    with pytest.raises(BuildError, match="git rev-parse no-such-ref failed"):
        run_git(git_repo.path, "rev-parse", "no-such-ref")


def test_annotated_tag_is_peeled_by_ls_remote(git_repo: GitRepo) -> None:
    assert git_repo.tag("v1-a", git_repo.commits[0], message="first") == git_repo.commits[0]
    refs = git("ls-remote", git_repo.url, "v1-a", "v1-a^{}")
    tag_object, peeled = (line.split("\t")[0] for line in refs.splitlines())
    assert peeled == git_repo.commits[0] and tag_object != peeled
    assert git("cat-file", "-t", tag_object, cwd=git_repo.path) == "tag"
