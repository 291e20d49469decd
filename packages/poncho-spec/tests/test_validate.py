from __future__ import annotations

import os
from pathlib import Path

import pytest

from poncho_spec import (
    DEFAULT_CHANNELS,
    GitSource,
    HttpSource,
    InvalidSpec,
    Problem,
    Spec,
    load_spec,
)
from poncho_spec.validate import DuplicateKeysDict, build_spec, json_path

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
INVALID = sorted((Path(__file__).parent / "data" / "invalid").glob("*.json"))
VALID = sorted((Path(__file__).parent / "data" / "valid").glob("*.json"))


def problems(data: object) -> list[str]:
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict(data)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples(path: Path) -> None:
    spec = load_spec(path)
    assert spec.source == str(path)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_report_every_problem(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each invalid example is paired with a .txt file: the exact message, all problems."""
    monkeypatch.chdir(path.parent)
    expected = path.with_suffix(".txt").read_text(encoding="utf-8").rstrip("\n")
    with pytest.raises(InvalidSpec) as info:
        load_spec(path.name)
    assert str(info.value) == expected
    assert len(info.value.problems) == len(expected.splitlines())


def test_issue_example_message() -> None:
    data = {"conda": {"dependencies": ["python", "pip", "numpy>>1"]}}
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict(data, source="spec.json")
    assert str(info.value).startswith(
        "spec.json: conda.dependencies[2]: 'numpy>>1' is not a valid conda match spec"
    )


def test_problem_paths_and_messages_from_the_issue() -> None:
    assert problems({"conda": {"chanels": []}}) == [
        "conda.chanels: unknown key (did you mean 'channels'?)"
    ]
    assert problems({"http": {"DATA": {"url": "https://x.org/d", "type": "zip"}}}) == [
        "http.DATA.type: must be 'file' or 'tar', got 'zip'"
    ]


def test_modern_form() -> None:
    spec = Spec.from_dict(
        {
            "conda": {
                "channels": ["conda-forge", "bioconda"],
                "dependencies": [" python=3.11 ", {"pip": ["dill"]}, "numpy"],
            },
            "git": {"DATA": {"remote": "https://x.org/r.git", "ref": SHA}},
            "http": {"F": {"url": "https://x.org/f", "compression": None, "sha256": "A" * 64}},
        }
    )
    assert spec.conda.channels == ("conda-forge", "bioconda")
    assert spec.conda.dependencies == ("python=3.11", "numpy")
    assert spec.pip == ("dill",)
    assert spec.git == {"DATA": GitSource("https://x.org/r.git", SHA)}
    assert spec.http == {"F": HttpSource("https://x.org/f", "file", None, "a" * 64)}
    assert spec.warnings == ()


def test_legacy_forms_are_read_as_modern() -> None:
    legacy = Spec.from_dict({"conda": {"packages": ["python"]}, "pip": ["dill"]})
    oldest = Spec.from_dict({"conda": ["python"], "pip": ["dill"]})
    for spec in (legacy, oldest):
        assert spec.conda == legacy.conda
        assert spec.conda.dependencies == ("python",)
        assert spec.pip == ("dill",)
        assert "packages" not in spec.to_dict()["conda"]


def test_nested_and_top_level_pip_are_merged_in_order() -> None:
    spec = Spec.from_dict(
        {"conda": {"dependencies": [{"pip": ["a"]}, "python", {"pip": ["b"]}]}, "pip": ["c"]}
    )
    assert spec.pip == ("a", "b", "c")


@pytest.mark.parametrize("channels", [None, []])
def test_missing_or_empty_channels_mean_the_default(channels: list[str] | None) -> None:
    conda: dict[str, object] = {"dependencies": ["python"]}
    if channels is not None:
        conda["channels"] = channels
    assert Spec.from_dict({"conda": conda}).conda.channels == DEFAULT_CHANNELS == ("conda-forge",)


def test_empty_spec_is_valid() -> None:
    spec = Spec.from_dict({})
    assert spec.conda.dependencies == () and spec.pip == () and not spec.git and not spec.http


def test_not_an_object() -> None:
    assert problems(["python"]) == ["a spec must be a JSON object, got an array"]
    assert problems(None) == ["a spec must be a JSON object, got null"]
    assert problems(1.5) == ["a spec must be a JSON object, got a number"]
    assert problems(True) == ["a spec must be a JSON object, got a boolean"]
    assert problems("x") == ["a spec must be a JSON object, got a string"]
    assert problems({"conda": {"channels": [object()]}})[0].startswith(
        "conda.channels[0]: must be a string, got object"
    )


def test_conda_name_is_ignored_with_a_warning_and_prefix_is_an_error() -> None:
    spec = Spec.from_dict({"conda": {"name": "myenv", "dependencies": ["python"]}})
    assert spec.warnings == ("conda.name: ignored: an environment is named by its hash",)
    assert "name" not in spec.to_dict()["conda"]
    assert problems({"conda": {"prefix": "/home/u/env"}}) == [
        "conda.prefix: not allowed: an absolute, user-specific path (remove it; poncho-create "
        "decides where environments are built)"
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    assert problems({"zzz": 1}) == [
        "zzz: unknown key (expected one of 'conda', 'pip', 'git', 'http', 'pinned')"
    ]


def test_keys_that_are_not_identifiers_are_quoted_in_paths() -> None:
    assert problems({"git": {"A B": {"remote": "https://x.org/r"}}}) == [
        "git[\"A B\"]: 'A B' is not a valid environment variable name (letters, digits and "
        "'_', not starting with a digit)"
    ]
    assert json_path("", "conda") == "conda"
    assert json_path("conda", "channels") == "conda.channels"
    assert json_path("conda.channels", 2) == "conda.channels[2]"
    assert json_path("git", "a.b") == 'git["a.b"]'


@pytest.mark.parametrize(
    ("ref", "warning"),
    [
        (SHA, None),
        (SHA.upper(), None),
        ("a" * 64, None),
        ("main", "'main' looks like a branch or tag: its commit can change; give a commit sha "
                 "for a reproducible environment"),
        ("v1.0", "'v1.0' looks like a branch or tag: its commit can change; give a commit sha "
                 "for a reproducible environment"),
        ("refs/tags/v1", "'refs/tags/v1' looks like a branch or tag: its commit can change; "
                         "give a commit sha for a reproducible environment"),
        ("3f78685", "'3f78685' looks like a short commit sha: give all 40 hex digits so it "
                    "cannot become ambiguous"),
        ("beef", "'beef' looks like a branch or tag: its commit can change; give a commit sha "
                 "for a reproducible environment"),
    ],
)  # fmt: skip
def test_git_refs(ref: str, warning: str | None) -> None:
    spec = Spec.from_dict({"git": {"D": {"remote": "https://x.org/r.git", "ref": ref}}})
    assert spec.git["D"].ref == ref
    assert spec.warnings == ((f"git.D.ref: {warning}",) if warning else ())


def test_missing_git_ref_means_head_with_a_warning() -> None:
    spec = Spec.from_dict({"git": {"D": {"remote": "https://x.org/r.git"}}})
    assert spec.git["D"].ref == "HEAD"
    assert spec.warnings == (
        "git.D.ref: missing: the default branch (HEAD) is used, which moves; give a commit sha",
    )


@pytest.mark.parametrize(
    "ref", ["a b", "-x", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a@{1}", "a/",
            "/a", "a.lock", "a.", "a//b", "a\x01"],
)  # fmt: skip
def test_invalid_git_refs(ref: str) -> None:
    assert problems({"git": {"D": {"remote": "https://x.org/r.git", "ref": ref}}}) == [
        f"git.D.ref: {ref!r} is not a valid git ref"
    ]


def test_git_remotes() -> None:
    local = Spec.from_dict({"git": {"D": {"remote": "/srv/repo.git", "ref": SHA}}})
    assert local.warnings == (
        "git.D.remote: '/srv/repo.git' is a local repository: the spec only works on this machine",
    )
    scp = Spec.from_dict({"git": {"D": {"remote": "git@github.com:org/repo.git", "ref": SHA}}})
    assert scp.warnings == ()
    assert problems({"git": {"D": {"remote": "fd::3", "ref": SHA}}}) == [
        "git.D.remote: 'fd::3': the fd:: transport runs commands; give a URL"
    ]


@pytest.mark.parametrize("remote", ["../data/repo", "repo", "./repo.git", "sub/repo"])
def test_a_relative_remote_is_a_local_repository_too(remote: str, tmp_path: Path) -> None:
    spec = Spec.from_dict({"git": {"D": {"remote": remote, "ref": SHA}}}, base_dir=tmp_path)
    assert spec.warnings == (
        f"git.D.remote: {remote!r} is a local repository, relative to the spec's folder: "
        "poncho_package_create stores it resolved; the spec only works on this machine",
    )
    assert spec.git["D"].is_relative_path
    resolved = spec.with_resolved_remotes()
    assert resolved.git["D"].remote == os.path.normpath(tmp_path / remote)
    assert resolved.git["D"].ref == SHA and not resolved.git["D"].is_relative_path
    assert resolved.hash() != spec.hash()  # two folders, two repositories, two hashes


@pytest.mark.parametrize(
    "remote", ["https://x.org/r.git", "git@github.com:org/r.git", "host:r", "/srv/r", "~/r",
               "file:///srv/r"],
)  # fmt: skip
def test_remotes_that_are_not_relative(remote: str) -> None:
    spec = Spec.from_dict({"git": {"D": {"remote": remote, "ref": SHA}}})
    assert not spec.git["D"].is_relative_path
    assert spec.with_resolved_remotes() is spec


def test_http_defaults_and_options() -> None:
    spec = Spec.from_dict(
        {
            "http": {
                "A": {"url": "http://127.0.0.1:8000/a"},
                "B": {"url": "https://x.org/b.tar.xz", "type": "tar", "compression": "xz"},
                "C": {"url": "https://x.org/c.bz2", "compression": "bzip2", "sha256": None},
            }
        }
    )
    assert spec.http["A"] == HttpSource("http://127.0.0.1:8000/a", "file", None, None)
    assert spec.http["B"].type == "tar" and spec.http["B"].compression == "xz"
    assert spec.http["C"].compression == "bzip2"


def test_http_url_problems() -> None:
    assert problems({"http": {"A": {"url": "https://"}}}) == [
        "http.A.url: 'https://' is not an http:// or https:// URL"
    ]
    assert problems({"http": {"A": {"url": "https://x.org/a b"}}}) == [
        "http.A.url: 'https://x.org/a b' is not a valid URL: it contains whitespace or "
        "control characters"
    ]
    assert problems({"http": {"A": {"url": "  "}}}) == ["http.A.url: must not be empty"]
    assert problems({"http": {"A": {"url": "https://x.org", "compression": "zstd"}}}) == [
        "http.A.compression: must be 'gzip', 'bzip2', 'xz' or null, got 'zstd'"
    ]


def test_variable_names_unique_across_git_and_http() -> None:
    data = {
        "git": {"D": {"remote": "https://x.org/r.git", "ref": SHA}},
        "http": {"D": {"url": "https://x.org/d"}},
    }
    assert problems(data) == [
        "http.D: 'D' is also defined in git: each variable names one data source"
    ]


def test_problems_inside_an_entry_with_a_bad_name_are_reported_too() -> None:
    assert problems({"http": {"PATH": {"url": "ftp://x"}}}) == [
        "http.PATH: 'PATH' is reserved: the environment needs it; pick another name",
        "http.PATH.url: 'ftp://x' is not an http:// or https:// URL",
    ]


def test_channels() -> None:
    spec = Spec.from_dict(
        {"conda": {"channels": ["file:///srv/channel", "/srv/ch2", "https://x.org/ch", "bioconda"]}}
    )
    assert spec.warnings == (
        "conda.channels[0]: 'file:///srv/channel' is a local folder: the spec only builds on "
        "this machine",
        "conda.channels[1]: '/srv/ch2' is a local folder: the spec only builds on this machine",
    )


def test_pip_paths_warn_when_not_portable(tmp_path: Path) -> None:
    (tmp_path / "mypkg").mkdir()
    spec = Spec.from_dict(
        {"pip": ["./a", "mypkg", "/abs/pkg", "~/pkg", "file:///abs/pkg", "x @ file:///abs/x.whl"]},
        base_dir=tmp_path,
    )
    assert spec.pip == (
        "./a",
        "mypkg",
        "/abs/pkg",
        "~/pkg",
        "file:///abs/pkg",
        "x @ file:///abs/x.whl",
    )
    assert spec.base_dir == tmp_path
    assert spec.warnings == (
        "pip[1]: 'mypkg' is read as a requirement (a package index name); write './mypkg' for "
        "the folder next to the spec",
        "pip[2]: '/abs/pkg' is an absolute path: the spec only builds on this machine",
        "pip[3]: '~/pkg' is in a user's home folder: the spec only builds for that user",
        "pip[4]: 'file:///abs/pkg' is an absolute path: the spec only builds on this machine",
        "pip[5]: 'x @ file:///abs/x.whl' is an absolute path: the spec only builds on this machine",
    )


def test_every_problem_is_collected_at_once() -> None:
    data = {
        "conda": {"chanels": [], "dependencies": ["numpy>>1", 3]},
        "pip": ["-e ."],
        "git": {"1X": {"remote": "-x"}},
        "http": {"D": {"url": "ftp://x", "type": "zip", "sha256": "abc"}},
        "extra": True,
    }
    found = problems(data)
    assert len(found) == 10
    assert {p.split(":")[0] for p in found} == {
        "extra", "conda.chanels", "conda.dependencies[0]", "conda.dependencies[1]", "pip[0]",
        'git["1X"]', 'git["1X"].remote', "http.D.url", "http.D.type", "http.D.sha256",
    }  # fmt: skip


def test_invalid_spec_carries_problem_objects() -> None:
    with pytest.raises(InvalidSpec) as info:
        Spec.from_dict({"conda": {"prefix": "/x"}}, source="s.json")
    assert info.value.problems[0].path == "conda.prefix"
    assert isinstance(info.value.problems[0], Problem)
    assert info.value.source == "s.json"


def test_fallback_validator_without_rattler(no_rattler: None) -> None:
    assert problems({"conda": {"dependencies": ["python", "numpy>>1", "a=1=b=c"]}}) == [
        "conda.dependencies[1]: 'numpy>>1' is not a valid conda match spec: invalid operator '>>'",
        "conda.dependencies[2]: 'a=1=b=c' is not a valid conda match spec: invalid version "
        "'1=b=c' (a ',' missing between constraints?)",
    ]


def test_duplicate_keys_dict() -> None:
    plain = DuplicateKeysDict.from_pairs([("a", 1), ("b", 2)])
    assert plain == {"a": 1, "b": 2} and plain.duplicates == ()
    dup = DuplicateKeysDict.from_pairs([("a", 1), ("a", 2), ("a", 3)])
    assert dup == {"a": 3} and dup.duplicates == ("a",)


def test_values_that_are_not_json_are_shown_with_repr() -> None:
    assert problems({"http": {"A": {"url": "https://x.org", "type": {1}}}}) == [
        "http.A.type: must be 'file' or 'tar', got {1}"
    ]


def test_conda_env_export_top_level_keys_are_ignored_with_a_warning() -> None:
    exported = {
        "name": "analysis",
        "prefix": "/home/u/miniconda3/envs/analysis",
        "variables": {"OMP_NUM_THREADS": "1"},
        "conda": {"dependencies": ["python=3.11"]},
    }
    spec = Spec.from_dict(exported)
    assert spec.warnings == (
        "name: ignored: an environment is named by its hash",
        "prefix: ignored: a user-specific path (poncho-create decides where environments are "
        "built)",
        "variables: ignored: conda's environment variables are not set by Poncho (nor were "
        "they by CCTools); set them in the task",
    )
    assert spec == Spec.from_dict({"conda": {"dependencies": ["python=3.11"]}})
    assert set(spec.to_dict()) == {"conda"}


def test_pinned_is_read_and_part_of_the_environment() -> None:
    spec = Spec.from_dict(
        {"conda": {"dependencies": ["numpy"]}, "pinned": {"conda": {"Python": "3.11.*"}}}
    )
    assert dict(spec.pinned) == {"python": "3.11.*"}
    assert spec.pinned_specs() == ("python 3.11.*",)
    ranged = Spec.from_dict({"pinned": {"conda": {"numpy": ">=1.24,<2", "zlib": "1.2"}}})
    assert ranged.pinned_specs() == ("numpy >=1.24,<2", "zlib=1.2")
    assert spec.to_dict()["pinned"] == {"conda": {"python": "3.11.*"}}
    assert Spec.from_dict(spec.to_dict()) == spec
    unpinned = Spec.from_dict({"conda": {"dependencies": ["numpy"]}})
    assert spec.hash() != unpinned.hash()
    assert Spec.from_dict({**unpinned.to_dict(), "pinned": {}}).hash() == unpinned.hash()


def test_pinned_problems_are_all_listed() -> None:
    assert problems(
        {
            "pinned": {"conda": {"python": 3, "numpy": ">>1", "bad name": "1", "ok": "1.*"}},
            "git": {"1X": {"remote": "https://x.org/r"}},
        }
    ) == [
        "git[\"1X\"]: '1X' is not a valid environment variable name (letters, digits and '_', "
        "not starting with a digit)",
        "pinned.conda.python: must be a version string, got a number",
        "pinned.conda.numpy: 'numpy >>1' is not a valid conda pin: " + _reason("numpy >>1"),
        "pinned.conda[\"bad name\"]: 'bad name=1' is not a valid conda pin: "
        + _reason("bad name=1", "bad name"),
    ]
    assert problems({"pinned": {"pip": {"dill": "1"}}}) == [
        "pinned.pip: unknown key (expected one of 'conda')"
    ]
    assert problems({"pinned": ["python"]}) == ["pinned: must be an object, got an array"]


def _reason(pin: str, fallback: str = "bad name") -> str:
    from poncho_spec import matchspec

    return matchspec.check(pin) or fallback


@pytest.mark.parametrize(
    "url", ["http://[", "https://[]/", "https://x.org:99999/f", "http://x:ab/"]
)
def test_unparseable_urls_are_problems_everywhere(url: str) -> None:
    # Issue 13 item 1: "ValueError: Invalid IPv6 URL" from urlsplit.
    data = {
        "conda": {"channels": [url]},
        "git": {"G": {"remote": url, "ref": SHA}},
        "http": {"H": {"url": url}},
    }
    found = problems(data)
    assert [p.split(":")[0] for p in found] == ["conda.channels[0]", "git.G.remote", "http.H.url"]
    assert all(f"{url!r} is not a valid URL: " in p for p in found)


@pytest.mark.parametrize("char", ["\t", "\x00", "\x01", "\x7f", "\n"])
def test_http_urls_with_control_characters_are_refused(char: str) -> None:
    url = f"https://x.org/a{char}b"
    (found,) = problems({"http": {"H": {"url": url}}})
    what = "contains a NUL character" if char == "\x00" else "control characters"
    assert found.startswith("http.H.url: ") and what in found


@pytest.mark.parametrize("char", ["\x01", "\x7f"])
def test_channels_and_remotes_with_control_characters_are_refused(char: str) -> None:
    found = problems(
        {
            "conda": {"channels": [f"https://x.org/c{char}"]},
            "git": {"G": {"remote": f"https://x.org/r{char}", "ref": SHA}},
        }
    )
    assert found == [
        f"conda.channels[0]: {f'https://x.org/c{char}'!r} is not a valid channel (it contains "
        "a control character)",
        f"git.G.remote: {f'https://x.org/r{char}'!r} is not a valid git remote",
    ]


def test_a_key_with_a_line_break_is_escaped_in_its_path() -> None:
    assert problems({"\x85": None}) == [
        "[\"\\u0085\"]: unknown key (expected one of 'conda', 'pip', 'git', 'http', 'pinned')"
    ]


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\x9b"])
def test_urls_with_c1_controls_or_line_separators_are_refused(char: str) -> None:
    (found,) = problems({"http": {"H": {"url": f"https://x.org/a{char}b"}}})
    assert "control characters" in found and len(found.splitlines()) == 1


def test_build_spec_is_spec_from_dict(tmp_path: Path) -> None:
    data = {"conda": ["python=3.11", {"pip": ["./pkg"]}]}
    spec = build_spec(data, source="s.json", base_dir=tmp_path)
    assert type(spec) is Spec
    assert spec == Spec.from_dict(data)
    assert (spec.source, spec.base_dir) == ("s.json", tmp_path)
    with pytest.raises(InvalidSpec, match=r"^s\.json: conda: must be an object, got a number$"):
        build_spec({"conda": 1}, source="s.json")


def test_the_unknown_key_message_is_public_for_other_files() -> None:
    """poncho-create's config file words a mistyped key as specs do, with this function."""
    from poncho_spec.validate import unknown_key

    assert unknown_key("chanels", ("channels", "mirrors")) == (
        "unknown key (did you mean 'channels'?)"
    )
    assert unknown_key("deps", ("dependencies",)) == "unknown key (did you mean 'dependencies'?)"
    assert unknown_key("zzz", ("a", "b")) == "unknown key (expected one of 'a', 'b')"
