"""Real git repositories in temporary folders, made with the ``git`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuildError

#: Default content of the first commit; the second commit changes ``data/values.txt``.
DEFAULT_FILES: Mapping[str, str | bytes] = {
    "README.md": "# demo data repository\n",
    "data/values.txt": "1\n2\n3\n",
}


def git_env() -> dict[str, str]:
    """An environment for ``git`` that ignores the user's and the system's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Poncho Testing",
        GIT_AUTHOR_EMAIL="poncho-testing@example.invalid",
        GIT_COMMITTER_NAME="Poncho Testing",
        GIT_COMMITTER_EMAIL="poncho-testing@example.invalid",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def run_git(repo: Path, *args: str) -> str:
    """Run ``git -C repo ARGS`` hermetically; its stdout, stripped."""
    git = shutil.which("git")
    if git is None:
        raise BuildError("git not found on PATH")
    try:
        result = subprocess.run(
            [git, "-C", str(repo), *args],
            check=True,
            capture_output=True,
            text=True,
            env=git_env(),
        )
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"git {' '.join(args)} failed: {exc.stderr.strip()}") from exc
    return result.stdout.strip()


@dataclass
class GitRepo:
    """A git repository on disk.

    ``url`` is its ``file://`` URL (for clone/fetch), ``commits`` the commits of ``main``
    oldest first, ``branches`` and ``tags`` map names to commit ids.
    """

    path: Path
    commits: list[str] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The repository's ``file://`` URL."""
        return self.path.as_uri()

    @property
    def head(self) -> str:
        """The last commit of ``main``."""
        return self.commits[-1]

    def commit(
        self, files: Mapping[str, str | bytes], message: str = "update", *, branch: str = "main"
    ) -> str:
        """Write ``files`` on ``branch``, commit them and return the new commit id."""
        run_git(self.path, "checkout", "-q", branch)
        try:
            _write(self.path, files)
            run_git(self.path, "add", "-A")
            run_git(self.path, "commit", "-q", "-m", message)
            sha = run_git(self.path, "rev-parse", "HEAD")
        finally:
            run_git(self.path, "checkout", "-q", "main")
        self.branches[branch] = sha
        if branch == "main":
            self.commits.append(sha)
        return sha

    def tag(self, name: str, commit: str | None = None, *, message: str | None = None) -> str:
        """Tag ``commit`` (default: the head of ``main``) as ``name``; return the commit.

        With ``message``, the tag is annotated (a tag object that ``ls-remote`` peels with
        ``^{}``), else lightweight.
        """
        sha = commit or self.head
        annotate = ["-a", "-m", message] if message is not None else []
        run_git(self.path, "tag", *annotate, name, sha)
        self.tags[name] = sha
        return sha


def make_git_repo(path: str | Path, files: Mapping[str, str | bytes] | None = None) -> GitRepo:
    """Create a repository at ``path`` (missing or empty folder) with some history.

    ``main`` has two commits: ``files`` (default :data:`DEFAULT_FILES`), then a change to
    ``data/values.txt``; tag ``v1`` points at the first; branch ``dev`` has one more commit
    (a ``dev.txt``) on top of ``main``. The work tree is left on ``main``.
    """
    root = Path(path).resolve()
    if root.exists() and any(root.iterdir()):
        raise BuildError(f"{root}: not empty, cannot make a git repository there")
    root.mkdir(parents=True, exist_ok=True)
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "config", "commit.gpgsign", "false")
    repo = GitRepo(path=root)
    initial = dict(DEFAULT_FILES if files is None else files)
    _write(root, initial)
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "--allow-empty", "-m", "first commit")
    first = run_git(root, "rev-parse", "HEAD")
    repo.commits.append(first)
    repo.branches["main"] = first
    repo.tag("v1", first)
    repo.commit({"data/values.txt": "1\n2\n3\n4\n"}, "second commit")
    run_git(root, "branch", "dev")
    repo.commit({"dev.txt": "work in progress\n"}, "dev commit", branch="dev")
    return repo


def _write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
