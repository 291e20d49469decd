"""The lock says where each package came from, and every tarball's own ``poncho/spec.json`` +
``poncho/lock.json`` rebuild it (issue 26, seams 4, 5 and 6): one round trip per kind of
tarball create writes, comparing package names, versions and sources."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import Lock, PipError, create
from poncho_create.cli import main
from poncho_spec import load_spec

_MARK = 'import poncho_demo_piptop as m; print(getattr(m, "MARK", "from-the-wheelhouse"))'


def _impostor(path: Path, helpers: Any) -> Any:
    """A git repository holding a project named like a wheelhouse package, same version,
    other content: ``poncho-demo-piptop`` 0.1.0 whose module says ``MARK = "from-git"``."""
    from poncho_testing import make_git_repo

    project = helpers.make_project(path.parent / "impostor-src", "poncho-demo-piptop", "0.1.0")
    (project / "poncho_demo_piptop" / "__init__.py").write_text('MARK = "from-git"\n')
    files = {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    return make_git_repo(path, files)


def _own_files(tarball: Path, dest: Path) -> tuple[Path, Path]:
    """The tarball's ``poncho/spec.json`` and ``poncho/lock.json``, extracted into `dest`."""
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for name in ("spec.json", "lock.json"):
            member = tar.extractfile(f"poncho/{name}")
            assert member is not None
            (dest / name).write_bytes(member.read())
    return dest / "spec.json", dest / "lock.json"


def _packages(lock: Lock) -> set[tuple[str, ...]]:
    return {("conda", e.name, e.version, e.build) for e in lock.conda} | {
        ("pip", e.name, e.version, e.source, e.commit or "") for e in lock.pip
    }


def _marker(tarball: Path, dest: Path) -> str:
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True)
    result = subprocess.run(
        [str(dest / "bin" / "run_in_env"), "python", "-c", _MARK],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture
def pip_options(wheelhouse: Any, build_dirs: dict[str, Any]) -> dict[str, Any]:
    """Offline pip: the local wheelhouse is the index."""
    return {**build_dirs, "no_index": True, "find_links": [str(wheelhouse.path)]}


def _git_url(repo: Any) -> str:
    """The repository's ``git+file://localhost/`` URL, which every pip reads (pip before 22.3,
    as Python 3.10's bundled 23.0.1, refuses ``git+file:///``: an empty host)."""
    return "git+" + repo.url.replace("file:///", "file://localhost/", 1)


def test_a_git_package_named_like_an_index_package_is_replayed_from_git(
    local_channel: Any, helpers: Any, pip_options: dict[str, Any], tmp_path: Path
) -> None:
    """Dependency confusion (seam 6): the lock keeps ``git+URL`` and the commit, so the replay
    never takes the wheelhouse's package of the same name and version."""
    repo = _impostor(tmp_path / "impostor", helpers)
    requirement = f"poncho-demo-piptop @ {_git_url(repo)}@v1"
    spec = {"conda": {"channels": [local_channel.url],
                      "dependencies": ["python", {"pip": [requirement]}]}}  # fmt: skip
    first = create(spec, tmp_path / "a.tar", lock_out=tmp_path / "lock.json", **pip_options)
    # From the tarball's own spec and lock (a tarball made from a spec).
    spec_file, lock_file = _own_files(first, tmp_path / "x")
    again = create(spec_file, tmp_path / "b.tar", from_lock=lock_file,
                   lock_out=tmp_path / "again.json", **pip_options)  # fmt: skip
    assert _marker(first, tmp_path / "ua") == _marker(again, tmp_path / "ub") == "from-git"
    lock = Lock.read(tmp_path / "lock.json")
    assert Lock.read(tmp_path / "again.json") == lock == Lock.read(lock_file)
    assert [e.to_dict() for e in lock.pip] == [{
        "name": "poncho-demo-piptop", "version": "0.1.0", "sha256": None, "source": "vcs",
        "url": _git_url(repo), "commit": repo.tags["v1"]}]  # fmt: skip


def test_a_requirements_file_with_a_git_line_is_replayed_from_git(
    local_channel: Any, helpers: Any, pip_options: dict[str, Any], tmp_path: Path
) -> None:
    repo = _impostor(tmp_path / "impostor", helpers)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"poncho-demo-piptop @ {_git_url(repo)}@v1\n")
    options = {**pip_options, "channels": [local_channel.url], "override_channels": True}
    create(requirements, tmp_path / "a.tar", lock_out=tmp_path / "lock.json", **options)
    repo.commit({"poncho_demo_piptop/__init__.py": 'MARK = "moved on"\n'})
    again = create(requirements, tmp_path / "b.tar", from_lock=tmp_path / "lock.json", **options)
    assert _marker(again, tmp_path / "ub") == "from-git"
    assert [e.source for e in Lock.read(tmp_path / "lock.json").pip] == ["vcs"]


def test_a_locked_commit_that_is_gone_is_refused_by_name(
    local_channel: Any, helpers: Any, pip_options: dict[str, Any], tmp_path: Path
) -> None:
    repo = _impostor(tmp_path / "impostor", helpers)
    spec = {"conda": {"channels": [local_channel.url], "dependencies": [
        "python", {"pip": [f"poncho-demo-piptop @ {_git_url(repo)}@v1"]}]}}  # fmt: skip
    create(spec, tmp_path / "a.tar", lock_out=tmp_path / "lock.json", **pip_options)
    lock = json.loads((tmp_path / "lock.json").read_text())
    lock["pip"][0]["commit"] = "0" * 40
    (tmp_path / "bad.json").write_text(json.dumps(lock))
    with pytest.raises(PipError) as info:
        create(spec, tmp_path / "b.tar", from_lock=tmp_path / "bad.json", **pip_options)
    assert str(info.value).startswith(
        f"locked pip package poncho-demo-piptop 0.1.0 cannot be installed again from "
        f"{_git_url(repo)}@{'0' * 40}: pip install failed"
    )
    assert not (tmp_path / "b.tar").exists()


def test_a_tarball_with_git_data_refs_replays_from_its_own_spec_and_lock(
    git_repo: Any, mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Seam 5: the lock names the spec the tarball carries (refs resolved to commits), and
    ``create --json``, the carried spec and the lock give one hash."""
    spec = helpers.mini_spec(mini_channel)
    spec["git"] = {"DATA": {"remote": git_repo.url, "ref": "main"}}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    dirs = [f"--{k.replace('_', '-')}={v}" for k, v in build_dirs.items()]
    assert main([*dirs, "-q", "--json", "--lock-out", str(tmp_path / "lock.json"),
                 str(spec_path), str(tmp_path / "a.tar")]) == 0  # fmt: skip
    reported = json.loads(capsys.readouterr().out)["spec_hash"]
    spec_file, lock_file = _own_files(tmp_path / "a.tar", tmp_path / "x")
    lock = Lock.read(lock_file)
    assert reported == lock.spec_hash == load_spec(spec_file).hash()
    assert Lock.read(tmp_path / "lock.json") == lock
    git_repo.commit({"later.txt": "main moved on"})
    # Both the carried spec and the original spec (its ref now elsewhere) replay the lock,
    # and both take the locked commit.
    for name, given in (("b", spec_file), ("c", spec_path)):
        out = create(given, tmp_path / f"{name}.tar", from_lock=lock_file,
                     lock_out=tmp_path / f"{name}.json", **build_dirs)  # fmt: skip
        assert Lock.read(tmp_path / f"{name}.json") == lock
        again_spec, _ = _own_files(out, tmp_path / f"x{name}")
        assert load_spec(again_spec).hash() == lock.spec_hash


def test_a_tarball_packed_from_an_existing_env_replays_from_its_own_spec_and_lock(
    local_channel: Any, wheelhouse: Any, helpers: Any, pkgs_dir: Path,
    pip_options: dict[str, Any], tmp_path: Path,
) -> None:  # fmt: skip
    """Seam 4: the packed lock says where each pip package came from (an index by version,
    a repository and commit), so ``--from-lock`` rebuilds the same packages."""
    from poncho_testing import install_prefix

    prefix = tmp_path / "myenv"
    install_prefix(local_channel, ["python", "pip", "poncho-demo-app"], prefix,
                   pkgs_dir=pkgs_dir)  # fmt: skip
    gitproj = helpers.make_project(tmp_path / "gitproj-src", "poncho-seams-gitproj", "0.4.0")
    from poncho_testing import make_git_repo

    files = {str(p.relative_to(gitproj)): p.read_bytes() for p in gitproj.rglob("*") if p.is_file()}
    other = make_git_repo(tmp_path / "gitproj", files)
    pip = [str(prefix / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check",
           "install", "--no-index", "--find-links", str(wheelhouse.path)]  # fmt: skip
    subprocess.run([*pip, "poncho-demo-pipbase", f"{_git_url(other)}@v1"], check=True)
    packed = create(prefix, tmp_path / "packed.tar.gz")
    spec_file, lock_file = _own_files(packed, tmp_path / "x")
    again = create(spec_file, tmp_path / "again.tar.gz", from_lock=lock_file,
                   lock_out=tmp_path / "again.json", **pip_options)  # fmt: skip
    lock = Lock.read(lock_file)
    sources = {e.name: (e.source, e.url, e.commit) for e in lock.pip}
    assert sources == {
        "poncho-demo-pipbase": ("index", None, None),
        "poncho-seams-gitproj": ("vcs", _git_url(other), other.tags["v1"]),
    }
    assert f"poncho-seams-gitproj @ {_git_url(other)}@{other.tags['v1']}" in json.dumps(
        json.loads(spec_file.read_text())
    )
    rebuilt = Lock.read(tmp_path / "again.json")
    assert _packages(rebuilt) == _packages(lock)
    assert rebuilt.spec_hash == lock.spec_hash == load_spec(spec_file).hash()
    dest = tmp_path / "u"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(again), "-C", str(dest)], check=True)
    code = "import poncho_seams_gitproj as m; print(m.VALUE)"
    result = subprocess.run([str(dest / "bin" / "run_in_env"), "python", "-c", code],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == "poncho-seams-gitproj"


def test_a_local_folder_is_locked_by_its_content(
    local_channel: Any, helpers: Any, pip_options: dict[str, Any], tmp_path: Path
) -> None:
    helpers.make_project(tmp_path / "proj", "poncho-seams-local", "0.1.0")
    spec = {
        "conda": {"channels": [local_channel.url], "dependencies": ["python", {"pip": ["./proj"]}]}
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    create(spec_path, tmp_path / "a.tar", lock_out=tmp_path / "lock.json", **pip_options)
    (entry,) = Lock.read(tmp_path / "lock.json").pip
    assert (entry.source, entry.url) == ("path", (tmp_path / "proj").as_uri())
    assert entry.sha256 is not None and len(entry.sha256) == 64
    (tmp_path / "proj" / "poncho_seams_local" / "__init__.py").write_text("VALUE = 'edited'\n")
    with pytest.raises(
        PipError, match=r"locked pip package poncho-seams-local 0\.1\.0 changed: sha256"
    ):
        create(spec_path, tmp_path / "b.tar", from_lock=tmp_path / "lock.json", **pip_options)
    assert not (tmp_path / "b.tar").exists()


def test_a_tarballs_own_spec_with_a_local_folder_replays_from_wherever_it_is_extracted(
    local_channel: Any, helpers: Any, pip_options: dict[str, Any], tmp_path: Path
) -> None:
    """The carried spec says ``./proj``, relative to a project folder that the folder it was
    extracted to does not hold: the lock's path (and content digest) is the source."""
    helpers.make_project(tmp_path / "proj", "poncho-seams-local", "0.1.0")
    spec = {
        "conda": {"channels": [local_channel.url], "dependencies": ["python", {"pip": ["./proj"]}]}
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    first = create(spec_path, tmp_path / "a.tar", **pip_options)
    spec_file, lock_file = _own_files(first, tmp_path / "elsewhere" / "x")
    assert not (spec_file.parent / "proj").exists()
    again = create(spec_file, tmp_path / "b.tar", from_lock=lock_file,
                   lock_out=tmp_path / "again.json", **pip_options)  # fmt: skip
    assert Lock.read(tmp_path / "again.json").pip == Lock.read(lock_file).pip
    dest = tmp_path / "u"
    dest.mkdir()
    subprocess.run(["tar", "-xf", str(again), "-C", str(dest)], check=True)
    code = "import poncho_seams_local as m; print(m.VALUE)"
    result = subprocess.run([str(dest / "bin" / "run_in_env"), "python", "-c", code],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == "poncho-seams-local"
