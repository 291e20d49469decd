"""Packing an existing conda environment (a folder or a name): real envs from the local channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import create
from poncho_create.cli import main
from poncho_create.existing import EditablePackages

# A build backend that can also make PEP 660 editable wheels (pip install -e), offline.
_EDITABLE_BACKEND = """\
import base64, hashlib, pathlib, zipfile

ROOT = pathlib.Path(__file__).resolve().parent
NAME, VERSION = "poncho-edit-me", "0.3.0"
DIST = "poncho_edit_me-0.3.0.dist-info"


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(directory, files):
    meta = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
    files[DIST + "/METADATA"] = meta.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[DIST + "/WHEEL"] = wheel.encode()
    record = "".join(f"{p},{_digest(d)},{len(d)}\\n" for p, d in files.items())
    files[DIST + "/RECORD"] = (record + DIST + "/RECORD,,\\n").encode()
    name = "poncho_edit_me-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(directory) / name, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    source = (ROOT / "poncho_edit_me" / "__init__.py").read_bytes()
    return _wheel(wheel_directory, {"poncho_edit_me/__init__.py": source})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    pth = (str(ROOT) + "\\n").encode()
    return _wheel(wheel_directory, {"__editable__.poncho_edit_me-0.3.0.pth": pth})
"""


def _pip(prefix: Path, *args: str) -> None:
    subprocess.run(
        [str(prefix / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q",
         "install", "--no-index", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def _user_env(prefix: Path, local_channel: Any, wheelhouse: Any, pkgs_dir: Path) -> Path:
    """A conda env as users have them: conda packages, and a pip package on top."""
    from poncho_testing import install_prefix

    install_prefix(
        local_channel, ["python", "pip", "poncho-demo-app", "poncho-demo-activate"], prefix,
        pkgs_dir=pkgs_dir,
    )  # fmt: skip
    _pip(prefix, "--find-links", str(wheelhouse.path), "poncho-demo-piptop")
    return prefix


@pytest.fixture(scope="module")
def user_env(
    tmp_path_factory: pytest.TempPathFactory, local_channel: Any, wheelhouse: Any, pkgs_dir: Path
) -> Path:
    return _user_env(tmp_path_factory.mktemp("user") / "myenv", local_channel, wheelhouse, pkgs_dir)


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_packs_an_env_folder_into_an_existing_empty_output(
    user_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(user_env)
    out = tmp_path / "out.tar.gz"
    out.write_bytes(b"")  # Parsl's TaskVine executor hands over an existing, empty file
    assert main([str(user_env), str(out), "-q"]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    assert _snapshot(user_env) == before  # the user's environment is not written to

    dest = tmp_path / "unpacked"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(out), "-C", str(dest)], check=True)
    spec = json.loads((dest / "poncho" / "spec.json").read_text())
    deps = spec["conda"]["dependencies"]
    assert any(
        d.startswith("poncho-demo-app=") and d.count("=") == 2 for d in deps if isinstance(d, str)
    )
    assert deps[-1] == {"pip": ["poncho-demo-pipbase==0.1.0", "poncho-demo-piptop==0.1.0"]}
    lock = json.loads((dest / "poncho" / "lock.json").read_text())
    assert {"python", "pip", "poncho-demo-app", "poncho-demo-core"} <= {
        e["name"] for e in lock["conda"]
    }
    assert {e["name"]: e["source"] for e in lock["pip"]} == {
        "poncho-demo-pipbase": "index", "poncho-demo-piptop": "index",
    }  # fmt: skip
    assert lock["channels"] == spec["conda"]["channels"] != []
    # The tarball runs: run_in_env activates it, conda and pip packages both import.
    code = (
        "import poncho_demo_app, poncho_demo_piptop, os; print(os.environ['PONCHO_DEMO_ACTIVATED'])"
    )
    result = subprocess.run(
        [str(dest / "bin" / "run_in_env"), "python", "-c", code],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "yes"
    app = subprocess.run(
        [str(dest / "bin" / "run_in_env"), "poncho-demo-app"], capture_output=True, text=True
    )
    assert "poncho-demo-app" in app.stdout


def test_the_derived_spec_builds_the_same_packages(
    user_env: Path, tmp_path: Path, local_channel: Any, wheelhouse: Any, pkgs_dir: Path
) -> None:
    from poncho_spec import load_spec

    out = create(user_env, tmp_path / "env.tar", lock_out=tmp_path / "lock.json")
    with tarfile.open(out) as tar:
        member = tar.extractfile("poncho/spec.json")
        assert member is not None
        (tmp_path / "spec.json").write_bytes(member.read())
    spec = load_spec(tmp_path / "spec.json")  # a valid spec
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert lock["spec_hash"] == spec.hash()
    pinned = {d.split("=")[0]: d for d in spec.conda.dependencies}
    for entry in lock["conda"]:
        assert pinned[entry["name"]] == f"{entry['name']}={entry['version']}={entry['build']}"
    assert spec.conda.channels == (local_channel.url,)
    # It builds: its name=version=build pins reach the solver in a form the solver reads.
    create(
        tmp_path / "spec.json", tmp_path / "again.tar", lock_out=tmp_path / "again.json",
        pkgs_dir=pkgs_dir, tmp_dir=tmp_path, no_index=True, find_links=[str(wheelhouse.path)],
    )  # fmt: skip
    again = json.loads((tmp_path / "again.json").read_text())
    assert [(e["name"], e["version"], e["build"]) for e in again["conda"]] == [
        (e["name"], e["version"], e["build"]) for e in lock["conda"]
    ]


def test_by_name_through_the_condarc_envs_dirs(
    user_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    condarc = tmp_path / "condarc"
    condarc.write_text(f"envs_dirs:\n  - {tmp_path / 'nothing'}\n  - {user_env.parent}\n")
    monkeypatch.setenv("CONDARC", str(condarc))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("CONDA_PREFIX", "CONDA_EXE", "CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    out = create("myenv", tmp_path / "byname.tar.gz")
    with tarfile.open(out) as tar:
        assert "bin/run_in_env" in tar.getnames()


def test_editable_installs_are_packed_or_left_out(
    tmp_path: Path, local_channel: Any, wheelhouse: Any, pkgs_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    prefix = _user_env(tmp_path / "env", local_channel, wheelhouse, pkgs_dir)
    project = tmp_path / "project"
    (project / "poncho_edit_me").mkdir(parents=True)
    (project / "poncho_edit_me" / "__init__.py").write_text("VALUE = 1\n")
    (project / "backend.py").write_text(_EDITABLE_BACKEND)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    _pip(prefix, "-e", str(project))
    out = tmp_path / "out.tar.gz"

    # By default, an installed copy of its source (tests/test_existing_editable.py).
    assert main([str(prefix), str(out), "-q"]) == 0
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert [n for n in names if n.endswith("poncho_edit_me/__init__.py")]
    assert not [n for n in names if "__editable__" in n]

    assert main([str(prefix), str(out), "--ignore-editable-packages"]) == 0
    assert "leaving out the editable packages poncho-edit-me" in capsys.readouterr().err
    with tarfile.open(out) as tar:
        names = tar.getnames()
        spec = json.loads(tar.extractfile("poncho/spec.json").read())  # type: ignore[union-attr]
    assert not [n for n in names if "edit_me" in n]
    assert spec["conda"]["dependencies"][-1]["pip"] == [
        "poncho-demo-pipbase==0.1.0", "poncho-demo-piptop==0.1.0",
    ]  # fmt: skip


def test_setup_py_develop_egg_links_count_as_editable(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path
) -> None:
    from poncho_testing import install_prefix

    prefix = tmp_path / "env"
    install_prefix(local_channel, ["python"], prefix, pkgs_dir=pkgs_dir)
    site = next(prefix.glob("lib/python*/site-packages"))
    (site / "oldstyle.egg-link").write_text(f"{tmp_path}\n.")
    with pytest.raises(EditablePackages, match="oldstyle"):
        create(prefix, tmp_path / "out.tar.gz")
    out = create(prefix, tmp_path / "out.tar.gz", ignore_editable_packages=True)
    with tarfile.open(out) as tar:
        assert not [n for n in tar.getnames() if n.endswith(".egg-link")]


def test_a_virtualenv_is_told_to_analyze_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert main([str(venv), str(tmp_path / "o.tar.gz")]) == 1
    err = capsys.readouterr().err
    assert "virtual environment, not a conda environment" in err
    assert "poncho_package_analyze --interpreter" in err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main([str(plain), str(tmp_path / "o.tar.gz")]) == 1
    assert "neither a spec file nor a conda environment" in capsys.readouterr().err


def test_unknown_names_and_missing_spec_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CONDARC", raising=False)
    assert main(["nosuchenv", "o.tar.gz"]) == 1
    err = capsys.readouterr().err
    assert "nosuchenv: no such spec file, and no conda environment of that name in" in err
    assert str(tmp_path / ".conda" / "envs") in err
    assert main(["missing.json", "o.tar.gz"]) == 1
    assert "missing.json" in capsys.readouterr().err


def test_env_packing_needs_output_and_ignores_build_options(
    user_env: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from poncho_create import CreateError

    with pytest.raises(CreateError, match="needs an OUTPUT"):
        create(user_env)
    with pytest.raises(CreateError, match="packed as it is"):
        create(user_env, tmp_path / "o.tar.gz", platform="osx-arm64")
    assert not (tmp_path / "o.tar.gz").exists()
    out = create(user_env, tmp_path / "o.tar", keep_prefix=tmp_path / "k", channels=["x"])
    assert "--channel, --keep-prefix: ignored, only for building from a spec" in caplog.text
    assert out.is_file() and not (tmp_path / "k").exists()


def test_environment_variables_do_not_leak_into_the_pack(user_env: Path, tmp_path: Path) -> None:
    # Packing reads the env from disk only: the current CONDA_PREFIX is irrelevant.
    env = dict(os.environ, CONDA_PREFIX=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "poncho_create", "-q", str(user_env), str(tmp_path / "x.tar")],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_each_direct_url_json_gives_its_source(tmp_path: Path) -> None:
    from poncho_create.existing import PipDistribution, derive_spec
    from poncho_create.local_inputs import content_digest

    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "m.py").write_text("X = 1\n")
    commit = "c" * 40
    cases = {
        "from-git": {"url": "https://g/r.git", "vcs_info": {"vcs": "git", "commit_id": commit}},
        "from-url": {"url": "https://h/u-1.tar.gz", "archive_info": {"hash": "sha256=ab"}},
        "from-dir": {"url": folder.as_uri(), "dir_info": {}},
        "from-index": None,
    }
    dists = [PipDistribution(n, "1", tmp_path, False, (), d) for n, d in cases.items()]
    assert [(e.source, e.url, e.sha256, e.commit) for e in (d.lock_entry() for d in dists)] == [
        ("vcs", "git+https://g/r.git", None, commit),
        ("url", "https://h/u-1.tar.gz", "ab", None),
        ("path", folder.as_uri(), content_digest(folder), None),
        ("index", None, None, None),
    ]
    assert derive_spec([], dists)["conda"]["dependencies"] == [{"pip": [
        f"from-dir @ {folder.as_uri()}", "from-git @ git+https://g/r.git@" + commit,
        "from-index==1", "from-url @ https://h/u-1.tar.gz"]}]  # fmt: skip
