"""Which conda channels a build reads: the spec's, replaced or added to by the user's settings.

Two settings, as uv's pair of index settings (one replaces, one adds)::

    channels searched before the spec's:  -c/--channel, PONCHO_CHANNELS, [poncho] channels
    channels used instead of the spec's:  -c ... --override-channels, PONCHO_OVERRIDE_CHANNELS,
                                          [poncho] override-channels

The channels in use are the added ones, then the replacing ones if any are set, else the
spec's. Each setting is taken from the first place that sets it: the command line, then the
environment, then the config file (``$PONCHO_CONFIG``, else
``$XDG_CONFIG_HOME/poncho/config.toml``, else ``~/.config/poncho/config.toml``), then the
user's .condarc (only with --use-condarc: its ``channels`` are added, its ``channel_alias``
and ``custom_channels`` apply). The two settings are independent: ``PONCHO_CHANNELS`` does
not cancel the config file's ``override-channels``. ``--override-channels`` on the command
line means "never the spec's channels": with ``-c``, exactly the ``-c`` channels; alone, the
channels the other places add or name. In the config file, ``override-channels = true``
(its historic form) makes the file's ``channels`` the replacing ones.

Where a channel lives::

    [poncho]
    channel-alias = "https://mirror.example.org/conda"   # where channel names live
    [poncho.custom-channels]                        # a name's own location
    bioconda = "https://mirror.example.org/bioconda"
    [poncho.mirrors]                                # a channel's mirrors, tried in order
    "https://conda.anaconda.org/conda-forge" = ["https://mirror.example.org/conda-forge"]

``PONCHO_CHANNEL_ALIAS`` comes before the file's ``channel-alias``. A spec that says
``conda-forge`` then builds from the mirror, and the spec and the lock keep saying
``conda-forge``; the package URLs in the lock are the files really downloaded.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_create.config_file import config_path, read_config
from poncho_create.errors import ChannelError, ConfigError

__all__ = ["DEFAULT_CHANNEL_ALIAS", "ChannelSettings", "config_path", "load_channel_settings"]

log = logging.getLogger(__name__)

DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
"""Where a channel name such as ``conda-forge`` lives unless a channel alias says otherwise."""

COMMAND_LINE = "the command line"
SPEC = "the spec"


@dataclass(frozen=True)
class ChannelSettings:
    """The channel settings of a build, each with the place it came from (`origins`:
    ``"channels"``, ``"override-channels"``, ``"channel alias"``, ``"custom channels"``,
    ``"mirrors"``).

    `channels` are searched before the others; `override` (when not None) replaces the
    spec's channels. `ignored_condarc` is a .condarc naming channels that --use-condarc
    would have added."""

    channels: tuple[str, ...] = ()
    override: tuple[str, ...] | None = None
    channel_alias: str | None = None
    custom_channels: Mapping[str, str] = field(default_factory=dict)
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)
    ignored_condarc: Path | None = None

    @property
    def override_channels(self) -> bool:
        """True when the spec's channels are not used."""
        return self.override is not None

    def effective(self, spec_channels: Iterable[str]) -> tuple[str, ...]:
        """The channels in priority order, as named: the added ones, then the replacing ones
        or else the spec's. These are what the lock records. Says them under ``-v``."""
        spec_channels = tuple(spec_channels)
        used = tuple(dict.fromkeys(self.channels + self.replacing(spec_channels)))
        log.info("%s", self.describe_channels(spec_channels))
        return used

    def replacing(self, spec_channels: tuple[str, ...]) -> tuple[str, ...]:
        """The replacing channels when set, else `spec_channels`."""
        return self.override if self.override is not None else spec_channels

    def origin(self, channel: str) -> str:
        """Where `channel` of the channels in use came from: a setting's origin or the spec."""
        found = []
        if channel in self.channels:
            found.append(self.origins.get("channels", COMMAND_LINE))
        if self.override is not None and channel in self.override:
            found.append(self.origins.get("override-channels", COMMAND_LINE))
        return " and ".join(dict.fromkeys(found)) or SPEC

    def describe_channels(self, spec_channels: Iterable[str]) -> str:
        """One line for ``-v``: the channels in use, each with where it came from and, when
        a mirror or an alias moves it, where it is read from."""
        spec_channels = tuple(spec_channels)
        parts = []
        for channel in dict.fromkeys(self.channels + self.replacing(spec_channels)):
            part = f"{channel} (from {self.origin(channel)}"
            source = self.source(channel)
            if source != channel:
                part += f", read from {source}"
            parts.append(part + ")")
        line = "channels: " + (", ".join(parts) or "none")
        if self.override is not None and spec_channels:
            line += f"; the spec's {', '.join(spec_channels)} not used"
        return line

    def url(self, channel: str) -> str:
        """The location of `channel` (a name, a URL or a folder), before mirrors."""
        if "://" in channel:
            return channel.rstrip("/")
        if is_folder(channel):
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
        if "://" not in channel and not is_folder(channel):
            return url if changes_names else channel
        return channel

    def explain(self, error: ChannelError, channels: Iterable[str]) -> ChannelError:
        """`error` (about one of `channels`, as the engine read it) reworded with what these
        settings know: the channel's name, where it was set, and the one fix that applies."""
        if error.channel is None or error.kind == "unreadable":
            return error
        name = next((c for c in channels if self.source(c) == error.channel), error.channel)
        origin = self.origin(name)
        mirror = self.mirrors.get(self.url(name))
        said = [f"from {origin}"] + ([f"read from its mirror {error.channel}"] if mirror else [])
        set_in = self.origins.get("mirrors", origin) if mirror else origin
        fix = error.fix  # a folder: the same whoever named it
        if error.kind == "unreachable" and set_in == SPEC:
            if self.ignored_condarc is not None:
                fix += f" ({self.ignored_condarc} names channels: --use-condarc uses them)"
        elif error.kind == "unreachable":
            fix = f"check the URL in {set_in}, or this machine's network"
        elif error.kind == "not found":
            fix = "check its name in the spec" if set_in == SPEC else f"check the URL in {set_in}"
        message = f"channel {name} ({', '.join(said)}) {error.problem}" + (
            f"; {fix}" if fix else ""
        )
        return ChannelError(
            message, channel=error.channel, kind=error.kind, problem=error.problem, fix=fix
        )

    def describe(self) -> str:
        """One line for ``-v``: each setting in force and where it came from."""
        parts = [f"{key} from {origin}" for key, origin in self.origins.items()]
        line = "channel settings: " + ("; ".join(parts) if parts else "the spec's channels only")
        if self.ignored_condarc is not None:
            line += f"; {self.ignored_condarc} names channels, used only with --use-condarc"
        return line


def is_folder(channel: str) -> bool:
    """True for a channel given as a folder path rather than a name or URL."""
    return channel.startswith(("/", "./", "../", "~"))


def load_channel_settings(
    *,
    channels: Iterable[str] | None = None,
    override_channels: bool = False,
    use_condarc: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ChannelSettings:
    """Merge the command line's channel options with the environment, the config file and,
    with `use_condarc`, the user's ``.condarc``; ConfigError names a file or setting that is
    wrong (see the module's doc for the rules)."""
    env = os.environ if environ is None else environ
    config = read_config(env)
    config_file = str(config.path)
    condarc, condarc_file = _read_condarc(env) if use_condarc else ({}, None)
    origins: dict[str, str] = {}
    cli = tuple(channels or ())

    config_adds, config_replaces = config.channels, None
    if config.override_channels is True:
        config_adds, config_replaces = (), config.channels
    elif isinstance(config.override_channels, tuple):
        config_replaces = config.override_channels
    adding = _first(
        origins,
        "channels",
        (COMMAND_LINE, cli if not override_channels else ()),
        ("PONCHO_CHANNELS", _split(env.get("PONCHO_CHANNELS", ""))),
        (config_file, config_adds),
        (str(condarc_file), tuple(_strings(condarc, "channels", condarc_file))),
    )
    replacing = _first(
        origins,
        "override-channels",
        (COMMAND_LINE, cli if override_channels else ()),
        ("PONCHO_OVERRIDE_CHANNELS", _split(env.get("PONCHO_OVERRIDE_CHANNELS", ""))),
        (config_file, config_replaces or ()),
    )
    override: tuple[str, ...] | None = replacing or None
    if override_channels:
        if cli:  # exactly the -c channels, as conda's --override-channels
            adding, override = (), cli
            origins.pop("channels", None)
        else:  # never the spec's: the channels the other places give
            override, adding = tuple(dict.fromkeys(adding + replacing)), ()
            if not override:
                raise ConfigError(
                    "--override-channels needs at least one --channel (the channels to use "
                    "instead of the spec's)"
                )
            given = [
                origins.pop(key) for key in ("channels", "override-channels") if key in origins
            ]
            origins["override-channels"] = " and ".join(given) + " with --override-channels"
    alias = None
    for origin, alias_value in (
        ("PONCHO_CHANNEL_ALIAS", env.get("PONCHO_CHANNEL_ALIAS")),
        (config_file, config.channel_alias),
        (str(condarc_file), _string(condarc, "channel_alias", condarc_file)),
    ):
        if alias_value:
            alias = alias_value
            origins["channel alias"] = origin
            break
    custom: dict[str, str] = {}
    for name, base in _table(condarc, "custom_channels", condarc_file).items():
        if not isinstance(base, str):
            raise ConfigError(f"{condarc_file}: custom_channels.{name}: must be a URL string")
        # conda's custom_channels give the URL of the folder holding the channel.
        custom[name] = base.rstrip("/") + f"/{name}"
        origins["custom channels"] = str(condarc_file)
    if config.custom_channels:  # the config file over the .condarc
        custom.update(config.custom_channels)
        origins["custom channels"] = config_file
    if config.mirrors:
        origins["mirrors"] = config_file
    settings = ChannelSettings(adding, override, alias, custom, {}, origins)
    # A mirror may be keyed by a name too ("conda-forge"): key every mirror by its URL.
    by_url = {settings.url(key): value for key, value in config.mirrors.items()}
    ignored = None if use_condarc else _condarc_with_channels(env)
    settings = ChannelSettings(adding, override, alias, custom, by_url, origins, ignored)
    log.info("%s", settings.describe())
    return settings


def _first(
    origins: dict[str, str], key: str, *candidates: tuple[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The first non-empty value of `candidates` (origin, value); its origin in `origins`."""
    for origin, value in candidates:
        if value:
            origins[key] = origin
            return tuple(value)
    return ()


def _read_condarc(env: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    """The user's merged conda settings, and the most specific file they came from."""
    from poncho_create.condarc import read_condarc

    config, files = read_condarc(env, Path(env.get("HOME") or Path.home()))
    return dict(config), (files[0] if files else None)


_CHANNELS_KEY = re.compile(r"^channels\s*:", re.MULTILINE)


def _condarc_with_channels(env: Mapping[str, str]) -> Path | None:
    """The first .condarc that names channels (not read further: it is not used)."""
    from poncho_create.condarc import condarc_files

    for path in condarc_files(env, Path(env.get("HOME") or Path.home())):
        try:
            if _CHANNELS_KEY.search(path.read_text(encoding="utf-8", errors="replace")):
                return path
        except OSError:
            continue
    return None


def _split(value: str) -> tuple[str, ...]:
    return tuple(item for item in value.replace(",", " ").split() if item)


def _strings(data: Mapping[str, Any], key: str, origin: Path | None) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{origin}: {key}: must be a list of channel names or URLs")
    return list(value)


def _string(data: Mapping[str, Any], key: str, origin: Path | None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{origin}: {key}: must be a URL string")
    return value


def _table(data: Mapping[str, Any], key: str, origin: Path | None) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {key}: must be a table")
    return value
