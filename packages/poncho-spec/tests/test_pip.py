from __future__ import annotations

from pathlib import Path

import pytest

from poncho_spec import InvalidSpec, Spec, _pip, loads_spec


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
        ("-r requirements.txt", "'-r requirements.txt': a requirements-file include (-r/-c): "
                                "give its requirements instead"),
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


def test_a_300_character_bare_name_is_a_requirement_not_an_os_error(tmp_path: Path) -> None:
    # Issue 13 item 2: the folder check raised "OSError: File name too long"; a name no
    # file system takes is no folder.
    assert _pip.classify("a" * 300, tmp_path) == _pip.PipEntry("requirement")
    assert _pip.classify("a" * 300 + "!", tmp_path).problem is not None
    assert Spec.from_dict({"pip": ["b" * 300]}, base_dir=tmp_path).pip == ("b" * 300,)


@pytest.mark.parametrize("entry", ["a_", "x[e_]", "b_ >=1"])
def test_names_pep_508_refuses_are_invalid(entry: str) -> None:
    # Issue 13 item 7: "a_" validated but its canonical form "a-" did not.
    checked = _pip.classify(entry)
    assert checked.problem is not None
    assert "is not a valid name" in checked.problem


def test_a_folder_named_like_an_invalid_name_is_a_path_everywhere(tmp_path: Path) -> None:
    (tmp_path / "a_").mkdir()
    spec = Spec.from_dict({"pip": ["a_"]}, base_dir=tmp_path)
    assert spec.canonical_dict()["conda"]["dependencies"] == [{"pip": ["./a_"]}]
    again = loads_spec(spec.canonical_json(), base_dir=tmp_path)
    assert again.canonical_json() == spec.canonical_json()


def test_pip_local_paths_with_an_unknown_user_is_an_invalid_spec() -> None:
    # Issue 13 item 6: RuntimeError("Could not determine home directory").
    spec = Spec.from_dict({"pip": ["~nosuchuser-poncho/pkg"]}, source="s.json")
    with pytest.raises(InvalidSpec) as info:
        spec.pip_local_paths()
    assert str(info.value) == (
        "s.json: pip: '~nosuchuser-poncho/pkg': cannot expand '~nosuchuser-poncho': "
        "no such user (or no home folder) here"
    )


@pytest.mark.parametrize(
    "entry",
    ["pkg @ http://[", "pkg @ https://[]/x", "pkg @ https://x.org:99999/p.whl", "file://[/x"],
)
def test_unparseable_urls_are_problems(entry: str) -> None:
    # Issue 13 item 1: "ValueError: Invalid IPv6 URL".
    checked = _pip.classify(entry)
    assert checked.problem is not None
    assert "not a valid" in checked.problem


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("-e .", "an editable install (-e): give the path alone ('.')"),
        ("-e ./mylib", "an editable install (-e): give the path alone ('./mylib')"),
        ("--index-url https://x.org/simple",
         "the requirements-file option --index-url: give it to poncho_package_create "
         "--pip-index-url"),
        ("--no-index", "the requirements-file option --no-index: give poncho_package_create "
         "--no-index"),
    ],
)  # fmt: skip
def test_pips_own_parser_says_why_a_line_is_no_requirement(entry: str, reason: str) -> None:
    """Issue 14: the exact reason, from the parser poncho_spec import uses too."""
    from poncho_spec import InvalidSpec, Spec

    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict({"pip": [entry]})
    assert str(info.value) == f"pip[0]: {entry!r}: {reason}"


def test_extras_that_canonicalize_alike_are_one() -> None:
    # Found by the long fuzz profile: "a[other,Other]" gave "a[other,other]", then "a[other]".
    assert _pip.normalize("a[other,Other]>=1") == "a[other]>=1"
    assert _pip.normalize("a[other]>=1") == "a[other]>=1"


@pytest.mark.parametrize("entry", ["~=", "~=1.0", "~>=2", "~ab=c/pkg", "~a b"])
def test_a_tilde_entry_that_names_no_user_is_refused_at_load(entry: str) -> None:
    # Issue 22 item 4: "~=" loaded (a path in the home folder of user "="), its canonical
    # form too, and only pip_local_paths (in poncho-create) said it was no path.
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict({"conda": {"dependencies": ["python", {"pip": ["dill", entry]}]}})
    message = str(info.value)
    assert message.startswith(f"conda.dependencies[1].pip[1]: {entry!r} is neither a requirement")
    assert "is not a user name" in message


@pytest.mark.parametrize("entry", ["~/pkg", "~", "~alice/pkg", "~a.b-c_d/pkg", "~host$/x"])
def test_a_tilde_entry_with_a_user_name_loads(entry: str) -> None:
    spec = Spec.from_dict({"pip": [entry]})
    assert spec.pip == (entry,)
    assert spec.warnings == (
        f"pip[0]: {entry!r} is in a user's home folder: the spec only builds for that user",
    )
