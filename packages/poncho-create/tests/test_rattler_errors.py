"""Failures worded for a user: the channel at fault, a short reason and the fix for it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from poncho_create.channel_config import load_channel_settings
from poncho_create.rattler_errors import REMOTE_FIX, channel_error

# py-rattler's texts, as they come (the channel part is filled in per test).
_NO_SUBDIR = (
    "could not find subdir 'noarch' in channel '{url}/'\nCaused by: failed to open file "
    "`{path}/noarch/repodata.json`: No such file or directory (os error 2)"
)
_DNS = (
    "error sending request for url ({url}/noarch/repodata_shards.msgpack.zst)\n"
    "Caused by: client error (Connect)\nCaused by: dns error\nCaused by: error resolving DNS\n"
    "Caused by: failed to lookup address information: Name or service not known"
)
_HTTP = (
    "could not find subdir 'noarch' in channel '{url}/'\nCaused by: HTTP status client "
    "error ({status}) for url ({url}/noarch/repodata.json)"
)


def test_channel_error_without_a_named_channel() -> None:
    error = channel_error("something odd\nCaused by: deep reason", ["a", "b"])
    assert str(error) == "cannot read the channels a, b: something odd (deep reason)"
    assert str(channel_error("", ["a"])) == "cannot read the channels a: unknown error"
    assert "ht!tp://::" in str(channel_error("x", ["ht!tp://::"]))


def test_a_local_folder_that_is_no_channel_says_how_to_make_it_one(tmp_path: Path) -> None:
    """F10: not the advice to use --override-channels, which the user just did."""
    folder = tmp_path / "empty"
    folder.mkdir()
    for channel in (str(folder), folder.as_uri()):
        text = _NO_SUBDIR.format(url=folder.as_uri(), path=folder)
        error = channel_error(text, [channel])
        assert str(error) == (
            f"channel {channel} is not a conda channel: the folder has no noarch/repodata.json; "
            f"index it first (conda index {folder})"
        )
        assert error.kind == "not a channel" and error.channel == channel
    gone = tmp_path / "gone"
    error = channel_error(_NO_SUBDIR.format(url=gone.as_uri(), path=gone), [str(gone)])
    assert str(error) == f"channel {gone} is not there (no such folder)"


def test_an_unreachable_remote_channel_is_one_short_line(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://nowhere.invalid/conda-forge"
    with caplog.at_level(logging.INFO, logger="poncho_create"):
        error = channel_error(_DNS.format(url=url), [url])
    assert str(error) == (
        f"channel {url} is unreachable (failed to lookup address information: Name or "
        f"service not known); {REMOTE_FIX}"
    )
    assert "error sending request" not in str(error)
    assert "error sending request" in caplog.text  # the raw error: under -v
    assert str(channel_error(_HTTP.format(url=url, status="503 Unavailable"), [url])).startswith(
        f"channel {url} is unreachable (HTTP 503); "
    )
    missing = channel_error(_HTTP.format(url=url, status="404 Not Found"), [url])
    assert str(missing) == f"channel {url} does not exist (HTTP 404 for its noarch/repodata.json)"


def _settings(tmp_path: Path, **env: str) -> Any:
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path), **env}
    return load_channel_settings(environ=environ)


def test_the_fix_depends_on_who_named_the_channel(tmp_path: Path) -> None:
    url = "https://nowhere.invalid/site"
    raw = channel_error(_DNS.format(url=url), [url])
    reason = "is unreachable (failed to lookup address information: Name or service not known)"
    # Named by the spec: build from a local channel or mirror instead.
    from_spec = _settings(tmp_path).explain(raw, [url])
    assert str(from_spec) == f"channel {url} (from the spec) {reason}; {REMOTE_FIX}"
    # Named by the user's own override: never advise the override again.
    mine = _settings(tmp_path, PONCHO_OVERRIDE_CHANNELS=url).explain(raw, [url])
    assert str(mine) == (
        f"channel {url} (from PONCHO_OVERRIDE_CHANNELS) {reason}; check the URL in "
        "PONCHO_OVERRIDE_CHANNELS, or this machine's network"
    )
    assert "set PONCHO_OVERRIDE_CHANNELS" not in str(mine)
    # A .condarc naming channels that are not used: said in the hint.
    (tmp_path / ".condarc").write_text("channels: [https://site.example/conda]\n")
    hinted = _settings(tmp_path).explain(raw, [url])
    assert str(hinted).endswith(
        f"({tmp_path / '.condarc'} names channels: --use-condarc uses them)"
    )
    # A mirror: named with the channel, and the fix points at the mirror's setting.
    config = tmp_path / "config.toml"
    config.write_text(f'[poncho.mirrors]\n"conda-forge" = ["{url}"]\n')
    mirrored = _settings(tmp_path, PONCHO_CONFIG=str(config)).explain(raw, ["conda-forge"])
    assert str(mirrored) == (
        f"channel conda-forge (from the spec, read from its mirror {url}) {reason}; check the "
        f"URL in {config}, or this machine's network"
    )
