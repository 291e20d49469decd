"""Resolving conda environment names the way conda does, and telling folders apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from poncho_create.envs import (
    EnvironmentNotFound,
    NotACondaEnvironment,
    check_folder,
    conda_envs_dirs,
    find_conda_env,
    looks_like_env_name,
)


def _env(path: Path) -> Path:
    (path / "conda-meta").mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [("myenv", True), ("my-env_2", True), ("spec.json", False), ("env.yml", False),
     ("./myenv", False), ("a/b", False), ("-", False), ("", False), ("..", False)],
)  # fmt: skip
def test_what_can_be_a_name(text: str, expected: bool) -> None:
    assert looks_like_env_name(text) is expected


def test_search_order_follows_conda(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".conda").mkdir(parents=True)
    (home / ".condarc").write_text(f"envs_dirs: [{tmp_path / 'user'}]\n")
    explicit = tmp_path / "explicit.condarc"
    explicit.write_text(f"envs_dirs:\n  - {tmp_path / 'condarc-var'}\n")
    environ = {
        "HOME": str(home),
        "CONDARC": str(explicit),
        "CONDA_ENVS_PATH": f"{tmp_path / 'p1'}:{tmp_path / 'p2'}",
        "CONDA_PREFIX": str(tmp_path / "miniconda" / "envs" / "active"),
        "CONDA_EXE": str(tmp_path / "other" / "bin" / "conda"),
    }
    assert conda_envs_dirs(environ) == [
        tmp_path / "p1",
        tmp_path / "p2",
        tmp_path / "condarc-var",
        tmp_path / "user",
        tmp_path / "miniconda" / "envs",
        tmp_path / "other" / "envs",
        home / ".conda" / "envs",
    ]


def test_base_prefix_siblings_and_first_match_wins(tmp_path: Path) -> None:
    base = tmp_path / "miniconda"
    _env(base)
    first = _env(base / "envs" / "work")
    _env(tmp_path / "home" / ".conda" / "envs" / "work")
    environ = {"HOME": str(tmp_path / "home"), "CONDA_PREFIX": str(base)}
    assert find_conda_env("work", environ) == first.resolve()
    assert find_conda_env("base", {**environ, "CONDA_ROOT": str(base)}) == base.resolve()


def test_home_conda_envs_and_registered_environments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mine = _env(home / ".conda" / "envs" / "mine")
    elsewhere = _env(tmp_path / "projects" / "elsewhere")
    (home / ".conda" / "environments.txt").write_text(f"{tmp_path / 'gone'}\n{elsewhere}\n")
    environ = {"HOME": str(home)}
    assert find_conda_env("mine", environ) == mine.resolve()
    assert find_conda_env("elsewhere", environ) == elsewhere.resolve()
    with pytest.raises(EnvironmentNotFound, match="gone: no such spec file"):
        find_conda_env("gone", environ)


def test_a_folder_without_conda_meta_is_not_an_env(tmp_path: Path) -> None:
    env = _env(tmp_path / "env")
    assert check_folder(env) == env.resolve()
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(NotACondaEnvironment, match="analyze"):
        check_folder(tmp_path / "venv")


def test_an_unreadable_condarc_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "bad.condarc"
    bad.write_text("envs_dirs: [unclosed\n")
    binary = tmp_path / "binary.condarc"
    binary.write_bytes(b"\xff\xfe")
    for condarc in (bad, binary):
        assert conda_envs_dirs({"HOME": str(tmp_path), "CONDARC": str(condarc)}) == [
            tmp_path / ".conda" / "envs"
        ]
    assert "bad.condarc: envs_dirs: a list over several lines, ignored" in caplog.text
    assert "binary.condarc: cannot read it" in caplog.text
