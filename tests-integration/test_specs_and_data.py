"""Specs as users write them: each CCTools legacy form, and a hand-written spec with git and
http data that poncho_package_run exposes to the task through environment variables."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from conftest import Venv, sh

CHECK = (
    "import os, sys, poncho_demo_app, poncho_demo_piptop; "
    "print('prefix', sys.prefix); print('ok', poncho_demo_piptop.__name__)"
)


def legacy_specs(channel_url: str, python: str) -> dict[str, dict[str, object]]:
    return {
        # The oldest CCTools form: conda.packages and a top-level pip list.
        "conda-packages": {
            "conda": {
                "channels": [channel_url],
                "packages": [f"python={python}", "poncho-demo-app", "pip"],
            },
            "pip": ["poncho-demo-piptop"],
        },
        # conda as a plain list (channels from --channel), top-level pip.
        "conda-list": {
            "conda": [f"python={python}", "poncho-demo-app", "pip"],
            "pip": ["poncho-demo-piptop"],
        },
        # conda's environment-file form with the nested pip entry.
        "nested-pip": {
            "conda": {
                "channels": [channel_url],
                "dependencies": [
                    f"python={python}",
                    "poncho-demo-app",
                    "pip",
                    {"pip": ["poncho-demo-piptop"]},
                ],
            }
        },
    }


@pytest.mark.parametrize("form", ["conda-packages", "conda-list", "nested-pip"])
def test_each_legacy_form_builds_and_runs(
    form: str,
    full_venv: Venv,
    run_venv: Venv,
    local_channel: object,
    wheelhouse: object,
    tmp_path: Path,
) -> None:
    spec = legacy_specs(local_channel.url, local_channel.python_version)[form]  # type: ignore[attr-defined]
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    sh([full_venv.script("poncho_spec"), "validate", spec_path])
    tarball = tmp_path / "env.tar.gz"
    create = [
        full_venv.script("poncho_package_create"),
        "--quiet",
        "--no-index",
        "--find-links",
        wheelhouse.path,
        spec_path,
        tarball,
    ]  # type: ignore[attr-defined]
    if form == "conda-list":
        create[1:1] = ["--channel", local_channel.url, "--override-channels"]  # type: ignore[attr-defined]
    sh(create, env=full_venv.env())
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", tarball, "--", "python", "-c", CHECK],
        env=run_venv.env(),
    )
    assert "ok poncho_demo_piptop" in proc.stdout


def _gzip_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_hand_written_spec_with_git_and_http_data(
    full_venv: Venv,
    run_venv: Venv,
    local_channel: object,
    http_server: object,
    git_repo: object,
    tmp_path: Path,
) -> None:
    root: Path = http_server.root  # type: ignore[attr-defined]
    (root / "table.csv").write_bytes(b"a,b\n1,2\n")
    (root / "bundle.tar.gz").write_bytes(_gzip_tar({"bundle/readme.txt": b"from the tarball\n"}))
    spec = {
        "conda": {
            "channels": [local_channel.url],  # type: ignore[attr-defined]
            "dependencies": [f"python={local_channel.python_version}"],  # type: ignore[attr-defined]
        },
        "http": {
            "TABLE": {
                "type": "file",
                "url": f"{http_server.url}/table.csv",  # type: ignore[attr-defined]
                "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
            },
            "BUNDLE": {
                "type": "tar",
                "compression": "gzip",
                "url": f"{http_server.url}/bundle.tar.gz",
            },  # type: ignore[attr-defined]
        },
        "git": {"REPO": {"remote": git_repo.url, "ref": git_repo.commits[0]}},  # type: ignore[attr-defined]
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    tarball = tmp_path / "env.tar.gz"
    sh(
        [full_venv.script("poncho_package_create"), "--quiet", spec_path, tarball],
        env=full_venv.env(),
    )

    show = (
        "import os, pathlib; "
        "print(pathlib.Path(os.environ['TABLE']).read_text().splitlines()[1]); "
        "print(sorted(p.name for p in pathlib.Path(os.environ['BUNDLE']).rglob('*.txt'))); "
        "print(pathlib.Path(os.environ['REPO'], 'data', 'values.txt').read_text().split())"
    )
    env = run_venv.env(PONCHO_FETCH_CACHE=str(tmp_path / "data-cache"))
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", tarball, "--", "python", "-c", show], env=env
    )
    # REPO is the repository at the spec's commit (the first: 1 2 3), not at main's head
    # (whose work tree has the second commit's 1 2 3 4).
    head = (git_repo.path / "data" / "values.txt").read_text()  # type: ignore[attr-defined]
    assert head.split() == ["1", "2", "3", "4"]
    assert proc.stdout.splitlines() == ["1,2", "['readme.txt']", "['1', '2', '3']"]

    # The data is cached per node: a second run does not download again.
    requests_before = len(http_server.requests)  # type: ignore[attr-defined]
    sh([run_venv.script("poncho_package_run"), "-e", tarball, "--", "python", "-c", show], env=env)
    assert len(http_server.requests) == requests_before  # type: ignore[attr-defined]

    # poncho_fetch prefetches and prints the same variables.
    proc = sh([run_venv.script("poncho_fetch"), spec_path], env=env)
    names = {line.split("=", 1)[0] for line in proc.stdout.splitlines()}
    assert names == {"TABLE", "BUNDLE", "REPO"}
