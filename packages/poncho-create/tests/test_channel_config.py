"""Channel settings: each from the first place that sets it; names, aliases and mirrors."""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import ConfigError, CreateError, create
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


def test_one_setting_adds_one_replaces_from_every_place(tmp_path: Path) -> None:
    """uv's pair: PONCHO_CHANNELS / channels add in front, PONCHO_OVERRIDE_CHANNELS /
    override-channels replace the spec's; each from the first place that sets it."""
    spec = ("conda-forge",)
    config = tmp_path / "config.toml"
    env = {"PONCHO_CONFIG": str(config)}
    config.write_text("")

    def used(**kwargs: Any) -> tuple[str, ...]:
        environ = {**env, **kwargs.pop("environ", {})}
        return load_channel_settings(environ=environ, **kwargs).effective(spec)

    assert used() == spec
    assert used(environ={"PONCHO_CHANNELS": "extra"}) == ("extra", "conda-forge")
    assert used(environ={"PONCHO_OVERRIDE_CHANNELS": "site"}) == ("site",)
    both = {"PONCHO_CHANNELS": "extra", "PONCHO_OVERRIDE_CHANNELS": "site, site2"}
    assert used(environ=both) == ("extra", "site", "site2")
    assert used(channels=["cli"], environ=both) == ("cli", "site", "site2")
    # --override-channels: with -c exactly those; alone, the channels set elsewhere.
    assert used(channels=["cli"], override_channels=True, environ=both) == ("cli",)
    assert used(override_channels=True, environ=both) == ("extra", "site", "site2")
    config.write_text('[poncho]\noverride-channels = ["file:///site"]\n')
    assert used() == ("file:///site",)
    assert used(environ={"PONCHO_CHANNELS": "extra"}) == ("extra", "file:///site")
    assert used(environ={"PONCHO_OVERRIDE_CHANNELS": "other"}) == ("other",)


def test_the_environment_does_not_cancel_the_config_files_override(tmp_path: Path) -> None:
    """F2: a config file that builds offline keeps doing so when PONCHO_CHANNELS names the
    same channel (it used to bring the spec's conda-forge back)."""
    config = tmp_path / "config.toml"
    config.write_text('[poncho]\nchannels = ["file:///site"]\noverride-channels = true\n')
    env = {"PONCHO_CONFIG": str(config), "PONCHO_CHANNELS": "file:///site"}
    settings = load_channel_settings(environ=env)
    assert settings.effective(["conda-forge"]) == ("file:///site",)
    assert settings.override_channels
    assert settings.describe_channels(["conda-forge"]) == (
        f"channels: file:///site (from PONCHO_CHANNELS and {config}); the spec's conda-forge "
        "not used"
    )
    assert load_channel_settings(environ={"PONCHO_CONFIG": str(config)}).effective(
        ["conda-forge"]
    ) == ("file:///site",)


def test_verbose_says_which_channels_are_used_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[poncho.mirrors]\n"conda-forge" = ["file:///m/cf"]\n')
    env = {"PONCHO_CONFIG": str(config), "PONCHO_CHANNELS": "extra"}
    with caplog.at_level(logging.INFO, logger="poncho_create"):
        load_channel_settings(environ=env).effective(["conda-forge"])
        load_channel_settings(
            environ={"PONCHO_CONFIG": str(config), "PONCHO_OVERRIDE_CHANNELS": "file:///s"}
        ).effective(["conda-forge"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("channels:")]
    assert lines == [
        "channels: extra (from PONCHO_CHANNELS), conda-forge (from the spec, read from "
        "file:///m/cf)",
        "channels: file:///s (from PONCHO_OVERRIDE_CHANNELS); the spec's conda-forge not used",
    ]


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
    plain = load_channel_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert plain.source("conda-forge") == "conda-forge"  # nothing configured: rattler's default


def test_condarc_custom_channels_name_the_folder_holding_the_channel(tmp_path: Path) -> None:
    condarc = tmp_path / "condarc"
    condarc.write_text("custom_channels:\n  bioconda: https://site.example/conda\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CONDARC": str(condarc)}
    settings = load_channel_settings(environ=env, use_condarc=True)
    assert settings.source("bioconda") == "https://site.example/conda/bioconda"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[poncho\n", "not valid TOML"),
        ("poncho = 3\n", "poncho: must be a table"),
        ("[poncho]\nchannels = 'one'\n", "channels: must be a list"),
        ("[poncho]\nmirrors = 2\n", "mirrors: must be a table"),
        ("[poncho.mirrors]\nx = [1]\n", "mirrors.x: must be a list of URLs"),
        ("[poncho]\nchannel-alias = 4\n", "channel-alias: must be a URL string"),
        ("[poncho.custom-channels]\nx = 4\n", "custom-channels.x: must be a URL string"),
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


@pytest.mark.slow
def test_a_config_that_builds_offline_still_does_with_poncho_channels_set(
    mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F2 end to end: the spec says conda-forge, which is never contacted."""
    spec = {"conda": {"channels": ["conda-forge"], "dependencies": ["mini-tool"]}}
    config = tmp_path / "config.toml"
    config.write_text(f'[poncho]\nchannels = ["{mini_channel.url}"]\noverride-channels = true\n')
    monkeypatch.setenv("PONCHO_CONFIG", str(config))
    monkeypatch.setenv("PONCHO_CHANNELS", mini_channel.url)
    create(spec, tmp_path / "env.tar.gz", lock_out=tmp_path / "lock.json", **build_dirs)
    assert json.loads((tmp_path / "lock.json").read_text())["channels"] == [mini_channel.url]
    # The same with the one variable that replaces the spec's channels, and no config file.
    config.unlink()
    monkeypatch.delenv("PONCHO_CONFIG")
    monkeypatch.delenv("PONCHO_CHANNELS")
    monkeypatch.setenv("PONCHO_OVERRIDE_CHANNELS", mini_channel.url)
    create(spec, tmp_path / "env2.tar.gz", lock_out=tmp_path / "lock2.json", **build_dirs)
    assert json.loads((tmp_path / "lock2.json").read_text())["channels"] == [mini_channel.url]


def test_channel_errors_are_short_and_give_the_fix_that_applies(
    build_dirs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """F10: a folder given with --override-channels that is no channel is not answered with
    "use --override-channels"; an unreachable remote channel is; the raw error only -v."""
    from poncho_create.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text('{"conda": {"channels": ["http://127.0.0.1:9/site"], "dependencies": ["x"]}}')
    dirs = ["--pkgs-dir", str(build_dirs["pkgs_dir"]), "--tmp-dir", str(build_dirs["tmp_dir"])]
    out = str(tmp_path / "o.tar.gz")
    gone, empty = tmp_path / "nonexistent-channel", tmp_path / "empty"
    empty.mkdir()
    assert main(["-q", "-c", str(gone), "--override-channels", str(spec), out, *dirs]) == 1
    assert capsys.readouterr().err == (
        f"poncho_package_create: error: channel {gone} (from the command line) is not there "
        "(no such folder)\n"
    )
    assert main(["-q", "-c", str(empty), "--override-channels", str(spec), out, *dirs]) == 1
    assert capsys.readouterr().err == (
        f"poncho_package_create: error: channel {empty} (from the command line) is not a conda "
        f"channel: the folder has no noarch/repodata.json; index it first (conda index {empty})\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".condarc").write_text("channels:\n  - https://site.example/conda\n")
    assert main(["-q", str(spec), out, *dirs]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "poncho_package_create: error: channel http://127.0.0.1:9/site (from the spec) is "
        "unreachable ("
    )
    assert "PONCHO_OVERRIDE_CHANNELS" in err and "--use-condarc uses them" in err
    assert "error sending request" not in err and len(err.splitlines()) == 1
    assert main(["-v", str(spec), out, *dirs]) == 1
    err = capsys.readouterr().err
    assert "error sending request" in err  # the raw error, for who asks
    assert f"{tmp_path / '.condarc'} names channels, used only with --use-condarc" in err
    assert "channels: http://127.0.0.1:9/site (from the spec)" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[poncho]\nchanels = ["x"]\n', "chanels: unknown key (did you mean 'channels'?)"),
        ("[poncho]\nchannel = []\n", "channel: unknown key (did you mean 'channels'?)"),
        (
            '[poncho]\nchannels = ["x"]\noverride_channels = true\n',
            "override_channels: unknown key (did you mean 'override-channels'?)",
        ),
        ('channels = ["x"]\n', "channels: outside the [poncho] section (move it under [poncho])"),
        ("[other]\nx = 1\n", "other: outside the [poncho] section (only [poncho] is read)"),
        ("[poncho]\noverride-channels = 3\n", "override-channels: must be a list of channel"),
        ("[poncho]\noverride-channels = true\n", "override-channels: true, but this file names"),
        ("[poncho]\nchannels = [1]\n", "channels: must be a list of channel names or URLs"),
    ],
)
def test_config_mistakes_are_errors_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    """F6: a typo, a key in the wrong place or of the wrong type is never silently ignored."""
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_channel_settings(environ={"PONCHO_CONFIG": str(config)})
    assert str(caught.value) == f"{config}: {message}" or str(caught.value).startswith(
        f"{config}: {message}"
    )
    assert caught.value.exit_status == 2


def test_every_config_mistake_at_once_and_a_missing_named_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('top = 1\n[poncho]\nchanels = ["x"]\nchannel-alias = 3\n')
    with pytest.raises(ConfigError) as caught:
        load_channel_settings(environ={"PONCHO_CONFIG": str(config)})
    assert str(caught.value).splitlines() == [
        f"{config}: top: outside the [poncho] section (only [poncho] is read)",
        f"{config}: chanels: unknown key (did you mean 'channels'?)",
        f"{config}: channel-alias: must be a URL string",
    ]
    missing = tmp_path / "nonexist.toml"
    with pytest.raises(
        ConfigError, match=rf"^{missing}: no such config file \(named by PONCHO_CONFIG\)$"
    ):
        load_channel_settings(environ={"PONCHO_CONFIG": str(missing)})
    # The default file may be absent: nothing is configured then.
    assert load_channel_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)}).channels == ()


def test_the_command_line_reports_config_mistakes_as_bad_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from poncho_create.cli import main

    config = tmp_path / "config.toml"
    config.write_text('[poncho]\nchanels = ["x"]\noverride-channels = 1\n')
    monkeypatch.setenv("PONCHO_CONFIG", str(config))
    spec = tmp_path / "spec.json"
    spec.write_text('{"conda": {"dependencies": ["x"]}}')
    assert main([str(spec), str(tmp_path / "o.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [  # every line prefixed, as poncho_spec validate does
        f"poncho_package_create: error: {config}: chanels: unknown key (did you mean 'channels'?)",
        f"poncho_package_create: error: {config}: override-channels: must be a list of "
        "channel names or URLs (or true, or false)",
    ]
    monkeypatch.setenv("PONCHO_CONFIG", str(tmp_path / "nonexist.toml"))
    assert main([str(spec), str(tmp_path / "o.tar.gz")]) == 2
    assert "nonexist.toml: no such config file" in capsys.readouterr().err


def test_an_ignored_condarc_with_channels_is_said_under_verbose(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".condarc").write_text("channels:\n  - bioconda\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    with caplog.at_level(logging.INFO, logger="poncho_create"):
        settings = load_channel_settings(environ=env)
    assert settings.ignored_condarc == tmp_path / ".condarc"
    assert f"{tmp_path / '.condarc'} names channels, used only with --use-condarc" in caplog.text
    assert load_channel_settings(environ=env, use_condarc=True).ignored_condarc is None
