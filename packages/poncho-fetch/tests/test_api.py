from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import ChecksumMismatch, RetryPolicy, env_lines, fetch


def test_fetch_returns_paths_and_holds_nothing(
    server: Any, git_remote: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    spec = make_spec(
        http={
            "F": {
                "url": server.add("x.csv", b"a,b\n"),
                "sha256": hashlib.sha256(b"a,b\n").hexdigest(),
            }
        },
        git={"R": {"remote": str(git_remote.path), "ref": "v1"}},
    )
    env = fetch(spec, tmp_path / "c", policy=policy)
    assert Path(env["F"]).read_bytes() == b"a,b\n"
    assert (Path(env["R"]) / "data.txt").read_text() == "v1\n"
    assert list(env) == ["R", "F"]
    # Nothing is in use once fetch() returns: everything can be evicted.
    from poncho_fetch import DataCache

    assert len(DataCache(tmp_path / "c").clear()) == 2


def test_fetch_uses_the_default_cache_dir(
    server: Any, tmp_path: Path, make_spec: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PONCHO_FETCH_CACHE", str(tmp_path / "default"))
    env = fetch(make_spec(http={"F": {"url": server.add("x.bin", b"x")}}))
    assert env["F"].startswith(str(tmp_path / "default"))


def test_empty_spec(tmp_path: Path, make_spec: Any) -> None:
    assert fetch(make_spec(), tmp_path / "c") == {}


def test_env_lines_shell_quoting(tmp_path: Path) -> None:
    env = {"A": "/plain/path", "B": "/it's here/$HOME"}
    assert env_lines(env) == ["A=/plain/path", "B=/it's here/$HOME"]
    lines = env_lines(env, shell=True)
    assert lines[0] == "export A='/plain/path'"
    script = "\n".join([*lines, 'printf "%s\\n" "$A" "$B"'])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == list(env.values())


# -- the issue's scenarios, with poncho-testing's shared fixtures ------------------------


def _tarball(folder: Path, dest: Path) -> bytes:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return dest.read_bytes()


def test_shared_fixtures_file_and_gzip_tar(
    http_server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    (http_server.root / "table.csv").write_bytes(b"a,b\n1,2\n")
    src = tmp_path / "dataset"
    (src / "inner").mkdir(parents=True)
    (src / "inner" / "x.txt").write_text("x")
    data = _tarball(src, http_server.root / "dataset.tar.gz")
    spec = make_spec(
        http={
            "TABLE": {
                "url": f"{http_server.url}/table.csv",
                "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
            },
            "DATASET": {
                "url": f"{http_server.url}/dataset.tar.gz",
                "type": "tar",
                "compression": "gzip",
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        }
    )
    http_server.drop_next(2, "truncate")  # the connection drops half-way, twice
    env = fetch(spec, tmp_path / "c", policy=policy)
    assert Path(env["TABLE"]).read_bytes() == b"a,b\n1,2\n"
    assert (Path(env["DATASET"]) / "dataset" / "inner" / "x.txt").read_text() == "x"
    assert http_server.dropped == 2


def test_shared_fixtures_bad_checksum(
    http_server: Any, tmp_path: Path, make_spec: Any, policy: RetryPolicy
) -> None:
    (http_server.root / "table.csv").write_bytes(b"changed on the server")
    url = f"{http_server.url}/table.csv"
    spec = make_spec(http={"TABLE": {"url": url, "sha256": "0" * 64}})
    with pytest.raises(ChecksumMismatch, match=r"^http\.TABLE: sha256 mismatch"):
        fetch(spec, tmp_path / "c", policy=policy)


def test_shared_fixtures_git_repo_at_a_commit(
    git_repo: Any, tmp_path: Path, make_spec: Any
) -> None:
    spec = make_spec(
        git={
            "FIRST": {"remote": git_repo.url, "ref": git_repo.commits[0]},
            "DEV": {"remote": str(git_repo.path), "ref": "dev"},
        }
    )
    env = fetch(spec, tmp_path / "c")
    first = subprocess.run(
        ["git", "-C", env["FIRST"], "rev-parse", "HEAD"], capture_output=True, text=True
    )
    assert first.stdout.strip() == git_repo.commits[0]
    assert (Path(env["DEV"]) / "dev.txt").exists()
    assert not (Path(env["FIRST"]) / "dev.txt").exists()
