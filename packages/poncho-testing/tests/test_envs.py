"""build_env_tarball makes a real conda-pack archive of a rattler-installed environment."""

from __future__ import annotations

import os
import platform
import subprocess
import tarfile
from pathlib import Path

import pytest

from poncho_testing import BuildError, LocalChannel, build_env_tarball

SHORT = ".".join(platform.python_version_tuple()[:2])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def tarball(local_channel: LocalChannel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("tarball")
    with pytest.MonkeyPatch.context() as mp:
        # A fresh cache: the archive is really packed in this run, not reused from an earlier one.
        mp.setenv("PONCHO_TESTING_CACHE", str(dest / "cache"))
        return build_env_tarball(
            local_channel,
            ["python", "poncho-demo-app", "poncho-demo-activate"],
            dest,
            extra_files={"poncho/spec.json": '{"conda": {}}', "bin/hello": "#!/bin/sh\necho hi\n"},
        )


@pytest.mark.slow
def test_tarball_unpacks_and_runs(tarball: Path, tmp_path: Path) -> None:
    assert tarball.name.endswith(".tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        assert {"bin/conda-unpack", "poncho/spec.json", f"bin/python{SHORT}"} <= names
        assert "etc/conda/activate.d/poncho-demo-activate.sh" in names
        tar.extractall(tmp_path / "env", filter="tar")
    env = tmp_path / "env"
    assert (env / "poncho" / "spec.json").read_text() == '{"conda": {}}'
    assert os.access(env / "bin" / "hello", os.X_OK)
    bin_path = f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}"
    unpack = subprocess.run(
        [str(env / "bin" / "python"), str(env / "bin" / "conda-unpack")],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert unpack.returncode == 0, unpack.stderr
    (sysconfigdata,) = (env / "lib" / f"python{SHORT}").glob("_sysconfigdata_*.py")
    assert f"'prefix': '{env}'" in sysconfigdata.read_text()
    app = subprocess.run(
        ["poncho-demo-app", "packed"],
        capture_output=True,
        text=True,
        env=clean_env(PATH=bin_path),
        check=False,
    )
    assert app.returncode == 0, app.stderr
    assert app.stdout.startswith("poncho-demo-app: hello packed")


@pytest.mark.slow
def test_tarball_is_cached_by_arguments(
    tarball: Path, local_channel: LocalChannel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONCHO_TESTING_CACHE", str(tarball.parent / "cache"))
    again = build_env_tarball(
        local_channel,
        ["python", "poncho-demo-app", "poncho-demo-activate"],
        tmp_path / "copy.tar.gz",
        extra_files={"poncho/spec.json": b'{"conda": {}}', "bin/hello": "#!/bin/sh\necho hi\n"},
    )
    assert again == tmp_path / "copy.tar.gz"
    assert again.read_bytes() == tarball.read_bytes()
    (entry,) = (tarball.parent / "cache" / "envs").glob("*/env-*.tar.gz")
    assert entry.name == tarball.name


def test_unknown_format_is_refused(local_channel: LocalChannel, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="unknown archive format 'rar'"):
        build_env_tarball(local_channel, ["python"], tmp_path, fmt="rar")
