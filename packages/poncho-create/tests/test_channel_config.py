"""Channel settings: each from the first place that sets it; names, aliases and mirrors."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import ChannelError, CreateError, create
from poncho_create.channel_config import config_path, load_channel_settings


def test_precedence_command_line_environment_config_condarc(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[poncho]\nchannels = ["from-config"]\nchannel-alias = "https://c.example"\n')
    condarc = tmp_path / "condarc"
    condarc.write_text("channels: [from-condarc]\nchannel_alias: https://rc.example\n")
    env = {"PONCHO_CONFIG": str(config), "CONDARC": str(condarc)}
    full = {**env, "PONCHO_CHANNELS": "env-a, env-b", "PONCHO_CHANNEL_ALIAS": "https://e.example"}

    cli = load_channel_settings(channels=["cli"], environ=full, use_condarc=True)
    assert cli.channels == ("cli",) and cli.origins["channels"] == "the command line"
    assert cli.channel_alias == "https://e.example"
    assert cli.origins["channel alias"] == "PONCHO_CHANNEL_ALIAS"
    from_env = load_channel_settings(environ=full)
    assert from_env.channels == ("env-a", "env-b")
    from_config = load_channel_settings(environ=env)
    assert from_config.channels == ("from-config",)
    assert from_config.channel_alias == "https://c.example"
    assert "channels from " + str(config) in from_config.describe()
    # The .condarc only when asked, and below the config file.
    config.write_text("")
    assert load_channel_settings(environ=env).channels == ()
    rc = load_channel_settings(environ=env, use_condarc=True)
    assert rc.channels == ("from-condarc",) and rc.channel_alias == "https://rc.example"
    assert rc.describe().startswith("channel settings: channels from ")
    assert load_channel_settings(environ={"PONCHO_CONFIG": str(config)}).describe() == (
        "channel settings: the spec's channels only"
    )


def test_names_aliases_custom_channels_and_mirrors(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[poncho]\n"
        'channel-alias = "https://alias.example/conda/"\n'
        "[poncho.custom-channels]\n"
        'bio = "https://bio.example/channel"\n'
        "[poncho.mirrors]\n"
        '"https://alias.example/conda/conda-forge" = ["file:///m/cf", "https://m2/cf"]\n'
        '"bio" = "file:///m/bio"\n'
    )
    settings = load_channel_settings(environ={"PONCHO_CONFIG": str(config)})
    assert settings.url("conda-forge") == "https://alias.example/conda/conda-forge"
    assert settings.source("conda-forge") == "file:///m/cf"
    assert settings.source("bio") == "file:///m/bio"
    assert settings.source("other") == "https://alias.example/conda/other"
    assert settings.source("https://x.example/c") == "https://x.example/c"
    assert settings.source(str(tmp_path)) == str(tmp_path)
    plain = load_channel_settings(environ={"PONCHO_CONFIG": str(tmp_path / "none.toml")})
    assert plain.source("conda-forge") == "conda-forge"  # nothing configured: rattler's default


def test_condarc_custom_channels_name_the_folder_holding_the_channel(tmp_path: Path) -> None:
    condarc = tmp_path / "condarc"
    condarc.write_text("custom_channels:\n  bioconda: https://site.example/conda\n")
    env = {"PONCHO_CONFIG": str(tmp_path / "none"), "CONDARC": str(condarc)}
    settings = load_channel_settings(environ=env, use_condarc=True)
    assert settings.source("bioconda") == "https://site.example/conda/bioconda"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[poncho\n", "not valid TOML"),
        ("poncho = 3\n", "[poncho] must be a table"),
        ("[poncho]\nchannels = 'one'\n", "channels: must be a list"),
        ("[poncho]\nmirrors = 2\n", "mirrors: must be a table"),
        ("[poncho.mirrors]\nx = [1]\n", "mirrors.x: must be a list of URLs"),
        ("[poncho]\nchannel-alias = 4\n", "channel-alias: must be a URL string"),
        ("[poncho.custom-channels]\nx = 4\n", "custom channel 'x' must be a URL string"),
    ],
)
def test_a_bad_config_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(CreateError, match=rf"^{config}: .*{message.replace('[', '.')}"):
        load_channel_settings(environ={"PONCHO_CONFIG": str(config)})


def test_config_path_follows_xdg(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "poncho" / "config.toml"
    assert config_path({"PONCHO_CONFIG": "/x.toml", "XDG_CONFIG_HOME": "/y"}) == Path("/x.toml")
    assert config_path({}).parts[-3:] == (".config", "poncho", "config.toml")


@pytest.mark.slow
def test_a_spec_naming_conda_forge_builds_from_the_sites_mirror(
    mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured once: the spec and its lock keep saying conda-forge, no -c needed."""
    spec = {"conda": {"channels": ["conda-forge"], "dependencies": ["mini-tool"]}}
    config = tmp_path / "config.toml"
    config.write_text(f'[poncho.mirrors]\n"conda-forge" = ["{mini_channel.url}"]\n')
    monkeypatch.setenv("PONCHO_CONFIG", str(config))
    out = create(spec, tmp_path / "env.tar.gz", lock_out=tmp_path / "lock.json", **build_dirs)
    with tarfile.open(out) as tar:
        assert "bin/mini-tool" in tar.getnames()
        packed = json.load(tar.extractfile("poncho/spec.json"))  # type: ignore[arg-type]
    assert packed["conda"]["channels"] == ["conda-forge"]
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert lock["channels"] == ["conda-forge"]
    assert all(p["url"].startswith(mini_channel.url) for p in lock["conda"])
    # The same through a channel alias: conda-forge lives under it.
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "conda-forge").symlink_to(mini_channel.path)
    config.write_text(f'[poncho]\nchannel-alias = "{(tmp_path / "alias").as_uri()}"\n')
    again = create(spec, tmp_path / "again.tar.gz", **build_dirs)
    with tarfile.open(again) as tar:
        assert "bin/mini-tool" in tar.getnames()


def test_an_unreachable_channel_names_the_remedy(
    build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = {"conda": {"channels": [(tmp_path / "gone").as_uri()], "dependencies": ["x"]}}
    with pytest.raises(ChannelError, match=r"unreachable or missing: .*--override-channels, "
                       r"PONCHO_CHANNELS, or \[poncho\] mirrors"):  # fmt: skip
        create(spec, tmp_path / "env.tar.gz", **build_dirs)
