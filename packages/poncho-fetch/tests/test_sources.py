from __future__ import annotations

from typing import Any

import pytest

from poncho_fetch import FetchError
from poncho_fetch._sources import cache_key, plan, url_file_name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://h/a/b/data.tar.gz?x=1#f", "data.tar.gz"),
        ("https://h/a/my%20file.csv", "my file.csv"),
        ("https://h/", "download"),
        ("https://h", "download"),
        ("https://h/a/..", "download"),
    ],
)
def test_url_file_name(url: str, name: str) -> None:
    assert url_file_name(url) == name


def test_keys_depend_on_what_determines_the_content(make_spec: Any) -> None:
    def key(**entry: Any) -> str:
        return plan(make_spec(http={"V": {"url": "http://h/x.tar", **entry}}))[0][0].key

    base = key()
    assert key() == base
    assert len(base) == 32
    assert key(type="tar") != base
    assert key(sha256="a" * 64) != base
    assert key(compression="gzip") != base
    # The variable name is not part of the key: two variables can share an entry.
    other = plan(make_spec(http={"OTHER": {"url": "http://h/x.tar"}}))[0][0].key
    assert other == base
    assert cache_key(["a", 1]) != cache_key(["a", "1"])


def test_git_key_uses_the_commit(make_spec: Any, git_remote: Any) -> None:
    by_branch = plan(make_spec(git={"R": {"remote": git_remote.url, "ref": "main"}}))[0][0]
    by_sha = plan(
        make_spec(git={"R": {"remote": git_remote.url, "ref": git_remote.commits[-1].upper()}})
    )[0][0]
    assert by_branch.key == by_sha.key
    assert by_branch.identity["commit"] == git_remote.commits[-1]
    assert by_branch.label == "git.R"


def test_unknown_http_type() -> None:
    from poncho_spec import HttpSource, Spec

    spec = Spec(http={"V": HttpSource(url="http://h/x", type="zip")})  # type: ignore[arg-type]
    with pytest.raises(FetchError, match=r"http\.V: unknown type 'zip'"):
        plan(spec)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/a/data.tar.gz", "data.tar.gz"),
        ("http://h/", "download"),
        ("http://h/a%00b", "download"),
        ("http://[", "download"),
    ],
)
def test_url_file_name_of_odd_urls(url: str, expected: str) -> None:
    assert url_file_name(url) == expected


def test_a_long_url_file_name_is_cut_keeping_its_suffixes() -> None:
    # Cache names must not depend on the URL's length (was: "File name too long").
    long = url_file_name("http://h/" + "d" * 300 + ".tar.gz")
    other = url_file_name("http://h/" + "d" * 301 + ".tar.gz")
    assert long.endswith(".tar.gz") and len(long.encode()) <= 120
    assert long != other  # a digest of the whole name keeps them apart
    assert len(url_file_name("http://h/" + "é" * 200).encode()) <= 120
