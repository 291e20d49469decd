"""Git refs that are not commits (branches, tags, ``HEAD``) resolved once, at create time.

CCTools ignored ``ref``; a spec may name a branch. Every worker fetching "main" on its own
could get a different commit, so the commit the ref names when the environment is created
is recorded in the lock and written into the tarball's ``poncho/spec.json``: all workers
then check out the same commit. A remote that cannot be read now is left to fetch time
(with a warning): building an environment must not depend on a data server.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from poncho_create.lock import GitLockEntry, Lock
from poncho_spec import Spec

__all__ = ["carried_spec", "git_entries", "resolve_git_refs"]

log = logging.getLogger(__name__)

_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_TIMEOUT = 60.0


def resolve_git_refs(git: Mapping[str, object]) -> list[GitLockEntry]:
    """The commit of every git source (``{VAR: GitSource}``); full shas are kept as given."""
    out = []
    for var, source in git.items():
        remote, ref = str(getattr(source, "remote")), str(getattr(source, "ref"))  # noqa: B009
        if _FULL_SHA.fullmatch(ref):
            out.append(GitLockEntry(var, remote, ref, ref.lower()))
            continue
        commit = _ls_remote(remote, ref, f"git.{var}")
        if commit is None:
            continue
        log.warning(
            "git.%s: %r resolved to commit %s now, recorded in the lock and used by every "
            "worker (branches move: give the commit in the spec to rebuild the same data)",
            var,
            ref,
            commit,
        )
        out.append(GitLockEntry(var, remote, ref, commit))
    return out


def _ls_remote(remote: str, ref: str, key: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        log.warning("%s: git is not installed: %r is resolved at fetch time instead", key, ref)
        return None
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(
            [git, "ls-remote", "--", remote, ref, f"{ref}^{{}}"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        result = None
    if result is None or result.returncode != 0:
        why = "timed out" if result is None else (result.stderr.strip().splitlines() or ["?"])[-1]
        log.warning(
            "%s: cannot read %s now (%s): %r is resolved at fetch time", key, remote, why, ref
        )
        return None
    refs = {}
    for line in result.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name:
            refs[name.strip()] = sha.strip()
    for candidate in (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}"):
        for name in (f"{candidate}^{{}}", candidate):  # a tag's commit, not the tag object
            if name in refs:
                return refs[name]
    log.warning("%s: no branch or tag %r in %s now: resolved at fetch time", key, ref, remote)
    return None


def git_entries(spec: Spec, lock: Lock | None) -> list[GitLockEntry]:
    """The commit of each git source: from the lock when it has the same source, else
    resolved now."""
    if not spec.git:
        return []
    locked = {e.var: e for e in lock.git} if lock is not None else {}
    kept = [
        locked[var]
        for var, source in spec.git.items()
        if var in locked
        and locked[var].remote == source.remote
        and source.ref in (locked[var].ref, locked[var].commit)
    ]
    rest = {var: source for var, source in spec.git.items() if var not in {e.var for e in kept}}
    return kept + resolve_git_refs(rest)


def carried_spec(spec: Spec, git: Sequence[GitLockEntry]) -> Spec:
    """The spec a tarball carries (its ``poncho/spec.json``, whose hash its lock records):
    git refs replaced by the commits they named at create time, so that every worker fetches
    the same data."""
    if not git:
        return spec
    spec_dict = spec.to_dict()
    for entry in git:
        if entry.var in spec_dict.get("git", {}):
            spec_dict["git"][entry.var]["ref"] = entry.commit
    return Spec.from_dict(spec_dict, source="<spec>", base_dir=spec.base_dir)
