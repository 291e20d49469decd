"""Fixtures over poncho-testing's HTTP server and git repository (one copy of each in the
monorepo): a misbehaving server on 127.0.0.1 and a real repository with history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import RetryPolicy
from poncho_spec import Spec
from poncho_testing import GitRepo, ServedDirectory, make_git_repo, serve_directory
from poncho_testing.gitrepo import run_git as _run_git


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDirectory]:
    """poncho-testing's server on a folder of its own (outside the test's tmp_path, so that
    tests can check what is written there): ``add(path, data)`` -> URL, ``hits(path)``,
    ``fail(path, *modes)``, ``release()``."""
    with serve_directory(tmp_path_factory.mktemp("served")) as served:
        yield served


@pytest.fixture(scope="session")
def git_remote(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """poncho-testing's repository with ``data.txt`` = "v1" in its first commit (tag ``v1``,
    lightweight, and ``v1-annotated``), a second commit on ``main``, a branch ``dev``."""
    repo = make_git_repo(tmp_path_factory.mktemp("remote") / "repo", {"data.txt": "v1\n"})
    repo.tag("v1-annotated", repo.commits[0], message="first")
    return repo


@pytest.fixture
def policy() -> RetryPolicy:
    """Retries without the production backoff (tests stay fast)."""
    return RetryPolicy(retries=3, backoff=0.01, timeout=30)


@pytest.fixture
def make_spec() -> Any:
    """``make_spec(git={...}, http={...})`` -> a validated Spec."""

    def make(git: dict[str, Any] | None = None, http: dict[str, Any] | None = None) -> Spec:
        data: dict[str, Any] = {}
        if git:
            data["git"] = git
        if http:
            data["http"] = http
        return Spec.from_dict(data, source="test")

    return make


@pytest.fixture(scope="session")
def run_git() -> Any:
    """``run_git(folder, *args)`` -> stdout of ``git -C folder ARGS``, hermetic."""

    def run(folder: Path, *args: str) -> str:
        return _run_git(folder, *args)

    return run
