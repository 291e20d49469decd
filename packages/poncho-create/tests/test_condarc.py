"""The condarc reader: the forms condarc files use, merged as conda merges them."""

from __future__ import annotations

from pathlib import Path

import pytest

from poncho_create.condarc import parse_condarc, read_condarc


def test_the_forms_condarc_files_use() -> None:
    text = """
channels:
  - conda-forge
  - "bioconda"   # a comment
envs_dirs:   # where the named environments live
  - /a

  - '/c d'
pkgs_dirs: [/p, "/q"]
channel_alias: https://mirror.example.org/conda
custom_channels:
  internal: https://conda.example.org/channels
  'other': "https://x.example.org"
"""
    assert parse_condarc(text) == {
        "channels": ["conda-forge", "bioconda"],
        "envs_dirs": ["/a", "/c d"],
        "pkgs_dirs": ["/p", "/q"],
        "channel_alias": "https://mirror.example.org/conda",
        "custom_channels": {
            "internal": "https://conda.example.org/channels",
            "other": "https://x.example.org",
        },
    }


def test_forms_it_does_not_know_are_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "channels: [a,\n  b]\nodd:\n  - a\n  b: c\nkept: yes\n"
    assert parse_condarc(text, "rc") == {"kept": "yes"}
    assert "rc: channels: a list over several lines, ignored" in caplog.text
    assert "rc: odd: a form this reader does not know, ignored" in caplog.text


def test_files_merge_the_most_specific_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".condarc").write_text(
        "channels: [user-a]\nchannel_alias: https://user\ncustom_channels:\n  x: https://u/x\n"
        "  y: https://u/y\n"
    )
    explicit = tmp_path / "explicit.condarc"
    explicit.write_text("channels: [mine, user-a]\ncustom_channels:\n  x: https://mine/x\n")
    config, files = read_condarc({"CONDARC": str(explicit)}, home)
    assert files == [explicit, home / ".condarc"]
    assert config == {
        "channels": ["mine", "user-a"],
        "channel_alias": "https://user",
        "custom_channels": {"x": "https://mine/x", "y": "https://u/y"},
    }
    assert read_condarc({}, tmp_path / "nobody") == ({}, [])
