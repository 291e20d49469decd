"""Clone a git remote at a commit, with the `git` program.

A ref is turned into a commit before anything is cloned: a full commit sha is used as is; a
branch, tag or ``HEAD`` is resolved with ``git ls-remote`` (tags peeled to their commit, tags
winning over branches of the same name, as git itself does); an abbreviated sha that names
no ref is left for the clone to resolve. Git never prompts (``GIT_TERMINAL_PROMPT=0``):
a remote that needs credentials fails instead of hanging a worker. Every git command has a
deadline (the policy's, for one entry): past it, git and the helpers it started are killed
and the entry fails. Local paths and ``file://`` remotes work like any other.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from poncho_fetch.errors import FetchError, GitNotFound

__all__ = ["checkout", "git_executable", "is_full_sha", "resolve_ref"]

log = logging.getLogger(__name__)

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_ABBREV_SHA = re.compile(r"[0-9a-f]{4,63}")
_STDERR_TAIL = 500


def git_executable() -> str:
    """The path of the `git` program; GitNotFound if it is not on PATH."""
    found = shutil.which("git")
    if found is None:
        raise GitNotFound(
            "the spec has git entries but the 'git' program is not on PATH:"
            " install git on this machine (or fetch the data where git exists)"
        )
    return found


def is_full_sha(ref: str) -> bool:
    """Whether `ref` is a complete commit id (sha1 or sha256, lowercase hex)."""
    return _FULL_SHA.fullmatch(ref) is not None


DEFAULT_TIMEOUT = 1800.0
"""Seconds a git command may run when the caller gives no deadline."""


def resolve_ref(remote: str, ref: str, *, key: str, deadline: float | None = None) -> str | None:
    """The commit `ref` names on `remote`, or None for an abbreviated sha that is no ref.

    `deadline` is a ``time.monotonic()`` value. Raises FetchError when the remote cannot be
    read, has no such ref, or does not answer before the deadline.
    """
    if is_full_sha(ref):
        return ref
    out = _git(
        ["ls-remote", "--", remote, ref, f"{ref}^{{}}"],
        key=key,
        what="git ls-remote",
        deadline=deadline,
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name:
            refs[name.strip()] = sha.strip()
    for candidate in (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}"):
        for name in (f"{candidate}^{{}}", candidate):
            if name in refs:
                log.debug("%s: %s is %s on %s", key, ref, refs[name], remote)
                return refs[name]
    if _ABBREV_SHA.fullmatch(ref):
        return None
    raise FetchError(f"{key}: no branch, tag or commit {ref!r} in {remote}")


def checkout(
    remote: str, commit: str, dest: Path, *, key: str, deadline: float | None = None
) -> str:
    """Clone `remote` into the new folder `dest` and check out `commit` (detached).

    `commit` may be abbreviated. `deadline` (a ``time.monotonic()`` value) bounds the
    whole. Returns the full sha checked out.
    """
    clone = ["clone", "--quiet", "--no-checkout", "--", remote, str(dest)]
    _git(clone, key=key, what="git clone", deadline=deadline)
    where = ["-C", str(dest), "-c", "advice.detachedHead=false"]
    try:
        _git(
            [*where, "checkout", "--quiet", "--detach", commit, "--"],
            key=key,
            what="checkout",
            deadline=deadline,
        )
    except FetchError as exc:
        if "deadline" in str(exc):
            raise
        # A commit no branch or tag reaches: ask the remote for it by id (servers may refuse).
        log.debug("%s: %s not in the clone; fetching it by id", key, commit)
        _git(
            [*where, "fetch", "--quiet", "origin", commit],
            key=key,
            what=f"fetching {commit}",
            deadline=deadline,
        )
        _git(
            [*where, "checkout", "--quiet", "--detach", "FETCH_HEAD", "--"],
            key=key,
            what="checkout",
            deadline=deadline,
        )
    out = _git([*where, "rev-parse", "HEAD"], key=key, what="git rev-parse", deadline=deadline)
    return out.strip()


def _git(args: list[str], *, key: str, what: str, deadline: float | None = None) -> str:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GCM_INTERACTIVE", "never")
    argv = [git_executable(), *args]
    end = deadline if deadline is not None else time.monotonic() + DEFAULT_TIMEOUT
    try:
        # A session of its own: on timeout, the helpers git started (ssh, git-remote-https)
        # are killed with it.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,
        )
    except (OSError, ValueError, UnicodeError) as exc:  # no git; NUL or surrogate in an arg
        raise FetchError(f"{key}: cannot run git: {exc}") from None
    try:
        stdout, stderr = proc.communicate(timeout=max(end - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise FetchError(
            f"{key}: {what} not finished within the deadline; stopped (RetryPolicy.deadline, "
            "poncho_fetch --deadline)"
        ) from None
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        # One line: the last lines git wrote (its "fatal:" reason), never a screenful.
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        detail = " / ".join(lines[-3:])[-_STDERR_TAIL:] or f"exit status {proc.returncode}"
        raise FetchError(f"{key}: {what} failed: {detail}")
    return stdout


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # pragma: no cover - already gone
        pass
    proc.communicate()
