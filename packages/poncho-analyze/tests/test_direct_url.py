"""Distributions installed from a repository or a URL become direct references (seams 7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from poncho_analyze import analyze
from poncho_analyze._direct_url import Origin, origin
from poncho_analyze.cli import main
from poncho_analyze.mapping import Environment

COMMIT = "d3423861c1b0a3a37bd5e1ad30ee1d6a3f6b4b5c"
SHA = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
# What pip writes (PEP 610) for each way of installing six 1.16.0.
FROM_GIT = {
    "url": "file:///work/repos/six",
    "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "v1"},
}
FROM_URL = {
    "url": "https://downloads.example.org/six/six-1.16.0.tar.gz",
    "archive_info": {"hash": f"sha256={SHA}", "hashes": {"sha256": SHA}},
}
# poncho_package_create --from-lock installs each locked file by its exact index URL.
FROM_PYPI = {
    "url": "https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d"
    "792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl",
    "archive_info": {"hashes": {"sha256": SHA}},
}
FROM_MIRROR = {
    "url": "https://pypi.internal.example/root/pypi/+f/8ab/six-1.16.0-py2.py3-none-any.whl",
    "archive_info": {"hashes": {"sha256": SHA}},
}
FROM_WHEELHOUSE = {
    "url": "file:///work/wheelhouse/six-1.16.0-py2.py3-none-any.whl",
    "archive_info": {"hash": f"sha256={SHA}"},
}


def _env(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    direct_url: dict[str, Any] | None,
) -> Environment:
    site = tmp_path / "venv" / "site"
    meta = dist_writer(site, "six", "1.16.0", {"six.py": ""})
    if direct_url is not None:
        (meta / "direct_url.json").write_text(json.dumps(direct_url))
    return make_env(tmp_path / "venv", site)


@pytest.mark.parametrize(
    ("direct_url", "pip", "because"),
    [
        (FROM_GIT, f"six @ git+file:///work/repos/six@{COMMIT}", "installed from git "),
        (
            {**FROM_GIT, "url": "https://github.com/benjaminp/six.git", "subdirectory": "src"},
            f"six @ git+https://github.com/benjaminp/six.git@{COMMIT}#subdirectory=src",
            "installed from git ",
        ),
        (FROM_URL, f"six @ {FROM_URL['url']}#sha256={SHA}", "installed from the URL "),
        (FROM_PYPI, "six==1.16.0", "installed from the index file "),
        (FROM_MIRROR, "six==1.16.0", "installed from the index file "),
        (FROM_WHEELHOUSE, "six==1.16.0", "installed from the index file "),
        (None, "six==1.16.0", "RECORD of six-1.16.0.dist-info"),
    ],
)
def test_where_six_came_from(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    direct_url: dict[str, Any] | None,
    pip: str,
    because: str,
) -> None:
    env = _env(tmp_path, dist_writer, make_env, direct_url)
    job = tmp_path / "job.py"
    job.write_text("import six\n")
    for _ in range(2):  # the second run reads the cached map: the reference is kept
        result = analyze([job], environment=env)
        assert result.spec.pip == (pip,)
        (decision,) = [d for d in result.decisions if d.module == "six"]
        assert decision.requirement == pip
        assert decision.reason.startswith(because)


def test_explain_says_it_is_a_direct_reference(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env(tmp_path, dist_writer, make_env, FROM_GIT)
    monkeypatch.setattr("poncho_analyze.cli.choose_environment", lambda _: _Chosen(env))
    job = tmp_path / "task.py"
    job.write_text("import six\n")
    assert main([str(job), str(tmp_path / "spec.json"), "-q", "--explain"]) == 0
    assert capsys.readouterr().err == (
        f"six -> pip six @ git+file:///work/repos/six@{COMMIT} (installed from git "
        f"file:///work/repos/six at {COMMIT}, asked as v1 (six-1.16.0.dist-info/"
        "direct_url.json): a direct reference, since no index has this build)\n"
    )
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert spec["conda"]["dependencies"][-1] == {
        "pip": [f"six @ git+file:///work/repos/six@{COMMIT}"]
    }


def test_extras_go_before_the_reference(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    env = _env(tmp_path, dist_writer, make_env, FROM_URL)
    job = tmp_path / "job.py"
    job.write_text("import json\n")
    result = analyze([job], environment=env, extra_pkgs=["six[test]"])
    assert result.spec.pip == (f"six[test] @ {FROM_URL['url']}#sha256={SHA}",)


@pytest.mark.parametrize(
    "content",
    [
        "{broken",
        "[]",
        '{"url": 5}',
        '{"url": "https://x/y.whl"}',
        '{"url": "https://x/y", "vcs_info": {"vcs": 3}}',
        '{"url": "https://x/y", "dir_info": {}}',  # a folder that is not a file: URL
    ],
)
def test_odd_direct_url_files_are_pins(tmp_path: Path, content: str) -> None:
    meta = tmp_path / "site" / "six-1.16.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "direct_url.json").write_text(content)
    assert origin(meta, tmp_path) == Origin()


def test_a_commit_unknown_still_names_the_repository(tmp_path: Path) -> None:
    meta = tmp_path / "site" / "six-1.16.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "direct_url.json").write_text(
        json.dumps({"url": "https://h/r.git", "vcs_info": {"vcs": "git"}})
    )
    found = origin(meta, tmp_path)
    assert found.direct == "git+https://h/r.git"
    assert "at an unknown commit" in found.how


class _Chosen:
    """What ``choose_environment`` returns, over a test environment."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def line(self) -> str:
        return "inspecting the test environment"
