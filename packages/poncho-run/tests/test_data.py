from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import poncho_run.data
from poncho_run import prepare
from poncho_run._state import read_state
from poncho_run.data import data_environ, spec_has_data
from poncho_run.errors import RunError
from poncho_run_helpers import hand_env_members, make_tar, member

TABLE = b"a,b\n1,2\n"

# Prints the data variable's content, and whether this process holds a file of the data cache's
# locks folder open (the in-use lock that protects the data from eviction).
SHOW = """
import os
print(open(os.environ["TABLE"]).read().splitlines()[1])
paths = []
for fd in os.listdir("/proc/self/fd"):
    try:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:  # the descriptor listdir used
        pass
print(any("/locks/" in path for path in paths))
"""


def spec_with_data(url: str) -> dict[str, Any]:
    return {
        "conda": {"channels": ["conda-forge"], "dependencies": ["python"]},
        "http": {
            "TABLE": {
                "type": "file",
                "url": f"{url}/table.csv",
                "sha256": hashlib.sha256(TABLE).hexdigest(),
            }
        },
    }


def env_with_spec(tmp_path: Path, spec: dict[str, Any] | str) -> Path:
    text = spec if isinstance(spec, str) else json.dumps(spec)
    members = [*hand_env_members(), member("poncho/spec.json", text.encode())]
    return make_tar(tmp_path / "data-env.tar.gz", members)


def write_spec(prefix: Path, spec: dict[str, Any] | str) -> None:
    (prefix / "poncho").mkdir(parents=True)
    (prefix / "poncho" / "spec.json").write_text(
        spec if isinstance(spec, str) else json.dumps(spec)
    )


def test_environments_with_and_without_data(tmp_path: Path) -> None:
    assert not spec_has_data(str(tmp_path))
    write_spec(tmp_path / "plain", {"conda": ["python"]})
    assert not spec_has_data(str(tmp_path / "plain"))
    write_spec(tmp_path / "data", spec_with_data("http://127.0.0.1:9"))
    assert spec_has_data(str(tmp_path / "data"))
    write_spec(tmp_path / "bad", '{"http": {"X": {"type": "weird"}}}')
    with pytest.raises(RunError, match=r"(?s)spec is not valid: .*http\.X\.type"):
        spec_has_data(str(tmp_path / "bad"))


def test_only_the_data_keys_are_read_unless_the_spec_names_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run uses the spec for its data alone: a spec naming none is not loaded (its conda
    and pip sections, even invalid ones, are the builder's), as the copied runner's engine,
    which has no poncho-spec, reads it; one that is not a JSON object is refused."""
    loaded: list[object] = []
    real = poncho_run.data._load
    monkeypatch.setattr(poncho_run.data, "_load", lambda path: loaded.append(path) or real(path))
    write_spec(tmp_path / "odd", {"conda": {"channels": ["https://[]/"], "packages": []}})
    assert not spec_has_data(str(tmp_path / "odd"))
    assert loaded == []
    write_spec(tmp_path / "data", spec_with_data("http://127.0.0.1:9"))
    assert spec_has_data(str(tmp_path / "data"))
    assert loaded == [tmp_path / "data" / "poncho" / "spec.json"]
    write_spec(tmp_path / "array", "[1, 2]")
    with pytest.raises(RunError, match=r"spec is not valid: .*array/poncho/spec\.json: not a JSON"):
        spec_has_data(str(tmp_path / "array"))


def test_no_data_means_no_variables(tmp_path: Path) -> None:
    with data_environ(str(tmp_path)) as env:
        assert env == {}
    write_spec(tmp_path / "plain", {"conda": ["python"]})
    with data_environ(str(tmp_path / "plain")) as env:
        assert env == {}


def test_data_is_fetched_from_the_spec_in_the_environment(tmp_path: Path, http_server: Any) -> None:
    (http_server.root / "table.csv").write_bytes(TABLE)
    tarball = env_with_spec(tmp_path, spec_with_data(http_server.url))
    env = prepare(tarball, unpack_to=tmp_path / "env")
    assert env.has_data
    with env.data(tmp_path / "cache") as variables:
        assert Path(variables["TABLE"]).read_bytes() == TABLE
        assert Path(variables["TABLE"]).is_relative_to(tmp_path / "cache")


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poncho_run", *argv], capture_output=True, text=True, check=False
    )


def test_the_command_sees_the_data_and_holds_it_in_use(tmp_path: Path, http_server: Any) -> None:
    (http_server.root / "table.csv").write_bytes(TABLE)
    tarball = env_with_spec(tmp_path, spec_with_data(http_server.url))
    cache = str(tmp_path / "cache")
    target = str(tmp_path / "env")
    temporary = cli("-e", str(tarball), "--data-cache", cache, "python", "-c", SHOW)
    # In a temporary folder the wrapper holds the lock while the command runs.
    assert (temporary.returncode, temporary.stdout) == (0, "1,2\nFalse\n"), temporary.stderr
    for _ in ("cold", "warm"):  # the command replaces the wrapper and inherits the lock
        proc = cli("-e", str(tarball), "-d", target, "--data-cache", cache, "python", "-c", SHOW)
        assert (proc.returncode, proc.stdout) == (0, "1,2\nTrue\n"), proc.stderr
    assert len(http_server.requests) == 1, "fetched once, then cached"


def test_no_data_skips_fetching(tmp_path: Path, http_server: Any) -> None:
    tarball = env_with_spec(tmp_path, spec_with_data(http_server.url))  # nothing is served
    show = "import os; print(os.environ.get('TABLE'))"
    for extra in ([], ["-d", str(tmp_path / "env")], ["-d", str(tmp_path / "env")]):
        proc = cli("-e", str(tarball), *extra, "--no-data", "python", "-c", show)
        assert (proc.returncode, proc.stdout) == (0, "None\n"), proc.stderr
    assert http_server.requests == []


def test_data_that_cannot_be_fetched_runs_nothing(tmp_path: Path, http_server: Any) -> None:
    tarball = env_with_spec(tmp_path, spec_with_data(http_server.url))  # 404
    proc = cli(
        "-e", str(tarball), "--data-cache", str(tmp_path / "c"), "touch", str(tmp_path / "ran")
    )
    assert proc.returncode == 1 and proc.stderr.startswith("poncho_package_run: error: ")
    assert "table.csv" in proc.stderr and not (tmp_path / "ran").exists()


def test_a_relative_git_remote_is_never_resolved_against_the_cwd(tmp_path: Path) -> None:
    """Issue 26 item 6 (seam 8): a tarball whose spec kept a relative remote (older create)
    is refused with a message, whatever repository the task's folder would name."""
    from poncho_testing import make_git_repo

    make_git_repo(tmp_path / "data" / "repo")
    spec = {"git": {"REPO_DIR": {"remote": "../data/repo", "ref": "main"}}}
    tarball = env_with_spec(tmp_path, spec)
    (tmp_path / "cwd").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "poncho_run", "-e", str(tarball), "--data-cache",
         str(tmp_path / "c"), "touch", str(tmp_path / "ran")],
        capture_output=True, text=True, check=False, cwd=tmp_path / "cwd",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "git.REPO_DIR: the remote '../data/repo' is a relative path" in proc.stderr
    assert "build the environment again" in proc.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "c" / "entries").exists()


def test_an_invalid_spec_in_the_tarball_is_an_error(tmp_path: Path) -> None:
    tarball = env_with_spec(tmp_path, '{"http": {"X": {"type": "weird"}}}')
    proc = cli("-e", str(tarball), "true")
    assert proc.returncode == 1
    assert "the environment's spec is not valid" in proc.stderr


def test_a_kept_folder_records_where_its_data_is_for_the_shell(
    tmp_path: Path, http_server: Any, git_repo: Any
) -> None:
    """Where each entry sits in the cache is written into the state of a kept folder when
    every cache key depends on the spec alone: not for a git branch, which each run resolves
    again; never for a temporary folder."""
    (http_server.root / "table.csv").write_bytes(TABLE)
    cache = tmp_path / "cache"
    for ref, recorded in (("main", False), (git_repo.head, True)):
        spec = spec_with_data(http_server.url)
        spec["git"] = {"REPO": {"remote": git_repo.url, "ref": ref}}
        tarball = env_with_spec(tmp_path, spec)
        env = prepare(tarball, unpack_to=tmp_path / ref)
        with env.data(cache) as variables:
            pass
        entries = read_state(str(env.prefix)).get("data_entries")  # type: ignore[union-attr]
        if not recorded:
            assert entries is None
            continue
        assert sorted(e["var"] for e in entries) == ["REPO", "TABLE"]
        for entry in entries:
            path = cache / "entries" / entry["key"] / entry["path"]
            assert str(path) == variables[entry["var"]]
    with prepare(tarball) as temporary, temporary.data(cache):
        assert "data_entries" not in (read_state(str(temporary.prefix)) or {})
