from __future__ import annotations

from pathlib import Path

import pytest

from poncho_spec import _pip


@pytest.mark.parametrize(
    "entry",
    ["dill", "dill==0.3.8", "requests[socks]>=2", "x; python_version<'3.12'",
     "pkg @ https://x.org/pkg-1.0.tar.gz", "Foo.Bar_baz"],
)  # fmt: skip
def test_requirements(entry: str) -> None:
    assert _pip.classify(entry) == _pip.PipEntry("requirement")
    assert not _pip.is_path(entry)


@pytest.mark.parametrize(
    "entry",
    [".", "..", "./pkg", "../pkg", "sub/pkg", "dist/pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz",
     "file:pkg"],
)  # fmt: skip
def test_paths(entry: str) -> None:
    assert _pip.classify(entry) == _pip.PipEntry("path")
    assert _pip.is_path(entry)


def test_existing_folder_is_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my pkg").mkdir()
    assert _pip.classify("my pkg", tmp_path).kind == "path"
    monkeypatch.chdir(tmp_path)
    assert _pip.classify("my pkg").kind == "path"
    assert _pip.classify("other pkg").problem is not None


def test_a_bare_name_is_a_requirement_even_next_to_a_folder(tmp_path: Path) -> None:
    (tmp_path / "mypkg").mkdir()
    assert _pip.classify("mypkg", tmp_path) == _pip.PipEntry(
        "requirement",
        warning="'mypkg' is read as a requirement (a package index name); write './mypkg' "
        "for the folder next to the spec",
    )
    assert _pip.normalize("mypkg") == "mypkg"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("", "empty pip entry"),
        ("-r requirements.txt", "'-r requirements.txt': pip options are not supported; give a "
                                "requirement or a path (for '-e PATH', the path alone)"),
        ("numpy>>1", "'numpy>>1' is not a valid PEP 508 requirement: Expected semicolon (after "
                     "name with no version specifier) or end"),
        ("x @ https://u:pw@x.org/x.whl", "'https://u:pw@x.org/x.whl' contains a password: keep "
                                         "secrets out of specs"),
        ("file://u:pw@host/x", "'file://u:pw@host/x' contains a password: keep secrets out of "
                               "specs"),
    ],
)  # fmt: skip
def test_problems(entry: str, problem: str) -> None:
    assert _pip.classify(entry).problem == problem


@pytest.mark.parametrize(
    ("entry", "normal"),
    [
        ("Dill", "dill"),
        ("Foo.Bar_baz >= 1 , < 2", "foo-bar-baz<2,>=1"),
        ("x[B,a]", "x[a,b]"),
        ("x ; python_version<'3.12'", 'x; python_version < "3.12"'),
        ("X @ https://x.org/x.whl", "x @ https://x.org/x.whl"),
        ("./pkg/", "./pkg"),
        ("pkg/", "./pkg"),
        ("./a/../b", "./b"),
        ("..", ".."),
        ("../a/", "../a"),
        ("./", "."),
        ("/", "/"),
        ("~/a/./b", "~/a/b"),
        ("file:///a//b", "file:///a//b"),
        ("my pkg", "./my pkg"),
    ],
)
def test_normalize(entry: str, normal: str) -> None:
    assert _pip.normalize(entry) == normal
    assert _pip.normalize(normal) == normal
