"""The poncho config file: where it is, and its ``[poncho]`` section read and checked.

A mistake in it is an error naming the file and the key (exit status 2), never a setting
silently ignored: an unknown key (with a did-you-mean, worded as for spec keys), a value of
the wrong type, a key outside ``[poncho]``, and a ``$PONCHO_CONFIG`` naming no file. Every
problem of the file is reported at once, one per line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_create.errors import ConfigError
from poncho_spec.validate import unknown_key

__all__ = ["KEYS", "ConfigFile", "config_path", "read_config"]

KEYS = ("channels", "override-channels", "channel-alias", "custom-channels", "mirrors")
"""The keys of ``[poncho]``."""


@dataclass(frozen=True)
class ConfigFile:
    """The checked settings of the config file (each absent when the file does not set it)."""

    path: Path
    channels: tuple[str, ...] = ()
    override_channels: bool | tuple[str, ...] = False
    channel_alias: str | None = None
    custom_channels: Mapping[str, str] = field(default_factory=dict)
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The poncho config file: ``$PONCHO_CONFIG``, else ``$XDG_CONFIG_HOME/poncho/config.toml``,
    else ``~/.config/poncho/config.toml`` (it need not exist)."""
    env = os.environ if environ is None else environ
    if env.get("PONCHO_CONFIG"):
        return Path(env["PONCHO_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "poncho" / "config.toml"


def read_config(environ: Mapping[str, str] | None = None) -> ConfigFile:
    """The config file's settings; ConfigError lists every mistake in it. A missing default
    file sets nothing; a missing file named by ``$PONCHO_CONFIG`` is an error."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if env.get("PONCHO_CONFIG"):
            raise ConfigError(f"{path}: no such config file (named by PONCHO_CONFIG)") from None
        return ConfigFile(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"{path}: cannot read the config file: {reason}") from exc
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return _Checker(path).check(data)


class _Checker:
    """Checks one file's document, collecting every problem before raising once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def check(self, data: Mapping[str, Any]) -> ConfigFile:
        for key in data:
            if key != "poncho":
                fix = "move it under [poncho]" if key in KEYS else "only [poncho] is read"
                self.problem(key, f"outside the [poncho] section ({fix})")
        section = data.get("poncho", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{self.path}: poncho: must be a table ([poncho])")
        for key in section:
            if key not in KEYS:
                self.problem(key, unknown_key(key, KEYS))
        override = section.get("override-channels", False)
        if not isinstance(override, bool):
            override = self.channel_list(section, "override-channels", " (or true, or false)")
        found = ConfigFile(
            self.path,
            channels=tuple(self.channel_list(section, "channels")),
            override_channels=override if isinstance(override, bool) else tuple(override),
            channel_alias=self.url(section, "channel-alias"),
            custom_channels=self.custom_channels(section),
            mirrors=self.mirrors(section),
        )
        if found.override_channels is True and not found.channels:
            self.problem(
                "override-channels",
                "true, but this file names no channels to use instead of the spec's: list "
                'them, override-channels = ["URL", ...], or set PONCHO_OVERRIDE_CHANNELS',
            )
        if self.problems:
            raise ConfigError("\n".join(self.problems))
        return found

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")

    def channel_list(self, section: Mapping[str, Any], key: str, also: str = "") -> list[str]:
        value = section.get(key, [])
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return [v.strip() for v in value]
        self.problem(key, f"must be a list of channel names or URLs{also}")
        return []

    def url(self, section: Mapping[str, Any], key: str) -> str | None:
        value = section.get(key)
        if value is None or (isinstance(value, str) and value.strip()):
            return value.strip() if value else None
        self.problem(key, "must be a URL string")
        return None

    def table(self, section: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = section.get(key, {})
        if isinstance(value, dict):
            return value
        self.problem(key, f"must be a table ([poncho.{key}])")
        return {}

    def custom_channels(self, section: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, base in self.table(section, "custom-channels").items():
            if isinstance(base, str) and base.strip():
                out[name] = base.strip().rstrip("/")
            else:
                self.problem(f"custom-channels.{name}", "must be a URL string")
        return out

    def mirrors(self, section: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for channel, targets in self.table(section, "mirrors").items():
            if isinstance(targets, str):
                targets = [targets]
            if isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
                out[channel.rstrip("/")] = tuple(t.rstrip("/") for t in targets)
            else:
                self.problem(f"mirrors.{channel}", "must be a list of URLs")
        return out
