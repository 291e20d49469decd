"""Where the conda channels come from: the command line, the environment, a config file.

Each setting is taken from the first place that sets it, in this order::

    --channel / --override-channels        the command line
    PONCHO_CHANNELS, PONCHO_CHANNEL_ALIAS  the environment
    [poncho] in the config file            $PONCHO_CONFIG, else $XDG_CONFIG_HOME/poncho/config.toml,
                                           else ~/.config/poncho/config.toml
    the user's .condarc                    only with --use-condarc: channels, channel_alias,
                                           custom_channels
    the spec                               its own channels, searched last (unless overridden)

The config file::

    [poncho]
    channels = ["https://conda.example.org/site"]   # searched before the spec's channels
    override-channels = false                       # true: instead of them
    channel-alias = "https://mirror.example.org/conda"   # where channel names live
    [poncho.custom-channels]                        # a name's own location
    bioconda = "https://mirror.example.org/bioconda"
    [poncho.mirrors]                                # a channel's mirrors, tried in order
    "https://conda.anaconda.org/conda-forge" = ["https://mirror.example.org/conda-forge"]

A spec that says ``conda-forge`` then builds from the mirror, and the spec and the lock keep
saying ``conda-forge``; the package URLs in the lock are the files really downloaded.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_create.errors import CreateError

__all__ = ["DEFAULT_CHANNEL_ALIAS", "ChannelSettings", "config_path", "load_channel_settings"]

log = logging.getLogger(__name__)

DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
"""Where a channel name such as ``conda-forge`` lives unless a channel alias says otherwise."""


@dataclass(frozen=True)
class ChannelSettings:
    """The channel settings of a build, each with the place it came from (`origins`)."""

    channels: tuple[str, ...] = ()
    override_channels: bool = False
    channel_alias: str | None = None
    custom_channels: Mapping[str, str] = field(default_factory=dict)
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)

    def effective(self, spec_channels: Iterable[str]) -> tuple[str, ...]:
        """The channels in priority order, as named: ours first, then the spec's (unless
        overridden). These are what the lock records."""
        extra = tuple(self.channels)
        if self.override_channels:
            if not extra:
                raise CreateError("--override-channels needs at least one --channel")
            return tuple(dict.fromkeys(extra))
        return tuple(dict.fromkeys(extra + tuple(spec_channels)))

    def url(self, channel: str) -> str:
        """The location of `channel` (a name, a URL or a folder), before mirrors."""
        if "://" in channel:
            return channel.rstrip("/")
        if channel.startswith(("/", "./", "../", "~")):
            return Path(channel).expanduser().resolve().as_uri()
        if channel in self.custom_channels:
            return self.custom_channels[channel].rstrip("/")
        alias = (self.channel_alias or DEFAULT_CHANNEL_ALIAS).rstrip("/")
        return f"{alias}/{channel}"

    def source(self, channel: str) -> str:
        """What the engine reads for `channel`: its first mirror if it has one, else the
        channel itself (as given, when no setting changes where a name lives)."""
        url = self.url(channel)
        mirrors = self.mirrors.get(url)
        if mirrors:
            return mirrors[0]
        changes_names = self.channel_alias is not None or channel in self.custom_channels
        if "://" not in channel and not channel.startswith(("/", "./", "../", "~")):
            return url if changes_names else channel
        return channel

    def describe(self) -> str:
        """One line for ``-v``: each setting in force and where it came from."""
        parts = [f"{key} from {origin}" for key, origin in self.origins.items()]
        return "channel settings: " + ("; ".join(parts) if parts else "the spec's channels only")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The poncho config file: ``$PONCHO_CONFIG``, else ``$XDG_CONFIG_HOME/poncho/config.toml``,
    else ``~/.config/poncho/config.toml`` (it need not exist)."""
    env = os.environ if environ is None else environ
    if env.get("PONCHO_CONFIG"):
        return Path(env["PONCHO_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "poncho" / "config.toml"


def load_channel_settings(
    *,
    channels: Iterable[str] | None = None,
    override_channels: bool = False,
    use_condarc: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ChannelSettings:
    """Merge the command line's channel options with the environment, the config file and,
    with `use_condarc`, the user's ``.condarc``; CreateError names a file that cannot be read."""
    env = os.environ if environ is None else environ
    config_file = config_path(env)
    config = _read_config(config_file)
    condarc, condarc_file = _read_condarc(env) if use_condarc else ({}, None)
    origins: dict[str, str] = {}

    chosen: tuple[str, ...] = ()
    override = override_channels
    config_override = bool(config.get("override-channels", False))
    for origin, value, over in (
        ("the command line", list(channels or ()), False),
        ("PONCHO_CHANNELS", _split(env.get("PONCHO_CHANNELS", "")), False),
        (str(config_file), _strings(config, "channels", config_file), config_override),
        (str(condarc_file), _strings(condarc, "channels", condarc_file), False),
    ):
        if value:
            chosen, override = tuple(value), override or over
            origins["channels"] = origin
            break
    alias = None
    for origin, alias_value in (
        ("PONCHO_CHANNEL_ALIAS", env.get("PONCHO_CHANNEL_ALIAS")),
        (str(config_file), _string(config, "channel-alias", config_file)),
        (str(condarc_file), _string(condarc, "channel_alias", condarc_file)),
    ):
        if alias_value:
            alias = alias_value
            origins["channel alias"] = origin
            break
    custom: dict[str, str] = {}
    for origin, table in (
        (str(condarc_file), _table(condarc, "custom_channels", condarc_file)),
        (str(config_file), _table(config, "custom-channels", config_file)),
    ):  # later wins: the config file over the .condarc
        for name, base in table.items():
            if not isinstance(base, str):
                raise CreateError(f"{origin}: custom channel {name!r} must be a URL string")
            # conda's custom_channels give the URL of the folder holding the channel.
            custom[name] = base.rstrip("/") + ("" if origin == str(config_file) else f"/{name}")
            origins["custom channels"] = origin
    mirrors: dict[str, tuple[str, ...]] = {}
    for channel, targets in _table(config, "mirrors", config_file).items():
        if isinstance(targets, str):
            targets = [targets]
        if not (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets)):
            raise CreateError(f"{config_file}: mirrors.{channel}: must be a list of URLs")
        mirrors[channel.rstrip("/")] = tuple(t.rstrip("/") for t in targets)
        origins["mirrors"] = str(config_file)
    settings = ChannelSettings(chosen, override, alias, custom, mirrors, origins)
    # A mirror may be keyed by a name too ("conda-forge"): key every mirror by its URL.
    by_url = {settings.url(key): value for key, value in mirrors.items()}
    settings = ChannelSettings(chosen, override, alias, custom, by_url, origins)
    log.info("%s", settings.describe())
    return settings


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CreateError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CreateError(f"{path}: not valid TOML: {exc}") from exc
    section = data.get("poncho", {})
    if not isinstance(section, dict):
        raise CreateError(f"{path}: [poncho] must be a table")
    return section


def _read_condarc(env: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    """The user's merged conda settings, and the most specific file they came from."""
    from poncho_create.condarc import read_condarc

    config, files = read_condarc(env, Path(env.get("HOME") or Path.home()))
    return dict(config), (files[0] if files else None)


def _split(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


def _strings(data: Mapping[str, Any], key: str, origin: Path | None) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise CreateError(f"{origin}: {key}: must be a list of channel names or URLs")
    return list(value)


def _string(data: Mapping[str, Any], key: str, origin: Path | None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CreateError(f"{origin}: {key}: must be a URL string")
    return value


def _table(data: Mapping[str, Any], key: str, origin: Path | None) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise CreateError(f"{origin}: {key}: must be a table")
    return value
