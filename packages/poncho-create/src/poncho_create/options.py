"""The settings of one build: defaults, environment variables, checks; and output formats.

The options themselves (flags, groups, help) are the rows of `poncho_create.option_table`;
here each one is a field of `CreateOptions`, resolved and checked.
"""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from poncho_create.channel_config import ChannelSettings, load_channel_settings
from poncho_create.errors import CreateError
from poncho_create.option_table import (
    DEFAULT_FORMAT,
    FORMATS,
    KNOWN_PLATFORMS,
    LEVELS,
    OPTIONS,
    Option,
)

StrPath = Union[str, "os.PathLike[str]"]

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "KNOWN_PLATFORMS",
    "OPTIONS",
    "CreateOptions",
    "Option",
    "PipOptions",
    "archive_format",
    "default_cache_dir",
    "default_pkgs_dir",
    "native_platform",
]


def native_platform() -> str:
    """The conda platform of this machine, e.g. ``linux-64`` (computed without rattler)."""
    machine = _platform.machine().lower()
    system = _platform.system().lower()  # not sys.platform: mypy would prune the branches
    if system == "linux":
        arch = {"x86_64": "64", "amd64": "64", "i686": "32", "i386": "32"}.get(machine, machine)
        return f"linux-{arch}"
    if system == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    if system == "windows":
        return "win-arm64" if machine == "arm64" else "win-64"
    return f"{system}-{machine}"  # pragma: no cover - an OS conda does not know


def archive_format(output: StrPath) -> str:
    """The archive format chosen by an output file name; CreateError for other endings."""
    name = os.fspath(output).lower()
    for ending in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(ending):
            return FORMATS[ending]
    endings = ", ".join(FORMATS)
    raise CreateError(f"{os.fspath(output)}: unsupported output file ending; use one of {endings}")


def format_suffix(fmt: str) -> str:
    """The file ending used for a format in the env cache, e.g. ``.tar.gz``."""
    return "." + fmt


def default_cache_dir() -> Path:
    """The user's environment cache: ``$PONCHO_ENVS_DIR``, else
    ``$XDG_CACHE_HOME/poncho/envs`` or ``~/.cache/poncho/envs`` (the same from any folder)."""
    explicit = os.environ.get("PONCHO_ENVS_DIR")
    if explicit:
        return Path(explicit)
    return _user_cache() / "envs"


def default_pkgs_dir() -> Path:
    """Shared conda package download cache: ``$PONCHO_PKGS_DIR``, else
    ``$XDG_CACHE_HOME/poncho/pkgs`` or ``~/.cache/poncho/pkgs``."""
    explicit = os.environ.get("PONCHO_PKGS_DIR")
    if explicit:
        return Path(explicit)
    return _user_cache() / "pkgs"


def _user_cache() -> Path:
    """``$XDG_CACHE_HOME/poncho``, else ``~/.cache/poncho``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "poncho"


def _declared(name: str) -> dict[str, Option]:
    """The metadata of a `CreateOptions` field: its row of `OPTIONS`."""
    return {"option": OPTIONS[name]}


@dataclass(frozen=True)
class CreateOptions:
    """Everything besides the spec that decides how an environment is built.

    Each option is declared once, as a row of `OPTIONS` (its command-line flags and help:
    `poncho_create.cli` builds its parser from them); its field here and the keyword of
    :func:`poncho_create.create` and :meth:`resolve` have its name. Build one with
    :meth:`resolve`, which applies defaults and environment variables and checks the values
    (raising CreateError with a message naming the option).
    """

    channels: tuple[str, ...] = field(default=(), metadata=_declared("channels"))
    override_channels: bool = field(default=False, metadata=_declared("override_channels"))
    use_condarc: bool = field(default=False, metadata=_declared("use_condarc"))
    platform: str = field(default="", metadata=_declared("platform"))
    pkgs_dir: Path = field(default=Path(), metadata=_declared("pkgs_dir"))
    conda_exe: Path | None = field(default=None, metadata=_declared("conda_exe"))
    ignore_editable_packages: bool = field(
        default=False, metadata=_declared("ignore_editable_packages")
    )
    drop_data: bool = field(default=False, metadata=_declared("drop_data"))
    pip_index_url: str | None = field(default=None, metadata=_declared("pip_index_url"))
    find_links: tuple[str, ...] = field(default=(), metadata=_declared("find_links"))
    no_index: bool = field(default=False, metadata=_declared("no_index"))
    pip_config: bool = field(default=False, metadata=_declared("pip_config"))
    cache_dir: Path = field(default=Path(), metadata=_declared("cache_dir"))
    threads: int = field(default=1, metadata=_declared("threads"))
    compression_level: int | None = field(default=None, metadata=_declared("compression_level"))
    keep_prefix: Path | None = field(default=None, metadata=_declared("keep_prefix"))
    tmp_dir: Path | None = field(default=None, metadata=_declared("tmp_dir"))
    lock_out: Path | None = field(default=None, metadata=_declared("lock_out"))
    from_lock: Path | None = field(default=None, metadata=_declared("from_lock"))
    force: bool = field(default=False, metadata=_declared("force"))
    offline: bool = field(default=False, metadata=_declared("offline"))
    dry_run: bool = field(default=False, metadata=_declared("dry_run"))
    channel_settings: ChannelSettings = field(default_factory=ChannelSettings)

    @property
    def pip(self) -> PipOptions:
        """The pip index options (``--offline``: no index)."""
        return PipOptions(
            self.pip_index_url, self.find_links, self.no_index or self.offline, self.pip_config
        )

    @property
    def native(self) -> bool:
        """True when building for this machine's own platform."""
        return self.platform == native_platform()

    def level_for(self, fmt: str) -> int:
        """The compression level to use for `fmt` (the format's default when not set)."""
        low, high, default = LEVELS[fmt]
        if self.compression_level is None or fmt == "tar":
            return default
        if not low <= self.compression_level <= high:
            raise CreateError(
                f"--compression-level {self.compression_level} is out of range for {fmt} "
                f"({low}-{high})"
            )
        return self.compression_level

    def effective_channels(self, spec_channels: Iterable[str]) -> tuple[str, ...]:
        """Channels in priority order, as named: ours first, then the spec's (unless
        overridden); ours come from the command line, the environment or the config file
        (see `poncho_create.channel_config`)."""
        return self.channel_settings.effective(spec_channels)

    def channel_sources(self, channels: Iterable[str]) -> tuple[str, ...]:
        """What the engine reads for each channel: its mirror, or its location under the
        configured channel alias (unchanged when nothing is configured)."""
        return tuple(self.channel_settings.source(channel) for channel in channels)

    @classmethod
    def resolve(cls, **given: Any) -> CreateOptions:
        """Build the options from keywords named like the fields (paths as str or PathLike,
        lists as any iterable, None or absent for the default); apply defaults and
        environment variables, and check every value. TypeError for an unknown keyword."""
        unknown = sorted(set(given) - set(OPTIONS))
        if unknown:
            raise TypeError(f"unknown build option(s): {', '.join(unknown)}")
        values = {name: _convert(cls, name, given.get(name)) for name in OPTIONS}
        platform = values["platform"] or native_platform()
        if platform not in KNOWN_PLATFORMS:
            known = ", ".join(sorted(KNOWN_PLATFORMS))
            raise CreateError(f"unknown platform {platform!r}; known: {known}")
        threads = given.get("threads")
        threads = os.cpu_count() or 1 if threads is None else threads
        if threads < 1:
            raise CreateError(f"--threads must be 1 or more, not {threads}")
        tmp_dir = values["tmp_dir"]
        if tmp_dir is None and os.environ.get("PONCHO_CREATE_TMPDIR"):
            tmp_dir = Path(os.environ["PONCHO_CREATE_TMPDIR"])
        settings = load_channel_settings(
            channels=values["channels"],
            override_channels=values["override_channels"],
            use_condarc=values["use_condarc"],
        )
        values.update(
            cache_dir=_path(given.get("cache_dir")) or default_cache_dir(),
            pkgs_dir=_path(given.get("pkgs_dir")) or default_pkgs_dir(),
            platform=platform,
            threads=threads,
            tmp_dir=tmp_dir,
            channels=settings.channels,
            override_channels=settings.override_channels,
        )
        return cls(**values, channel_settings=settings)


def _convert(cls: type[CreateOptions], name: str, value: Any) -> Any:
    """A given keyword value as the field stores it (its default when None)."""
    spec = OPTIONS[name]
    if value is None:
        return cls.__dataclass_fields__[name].default
    if spec.kind == "append":
        return tuple(str(item) for item in value)
    if spec.kind == "flag":
        return bool(value)
    if spec.metavar in ("DIR", "PATH", "FILE", "LOCK"):
        return Path(value)
    return value


@dataclass(frozen=True)
class PipOptions:
    """Where pip looks for packages: ``--index-url``, ``--find-links``, ``--no-index``.

    pip's own configuration (``pip.conf``, ``PIP_*`` variables) is ignored unless
    `use_config` (``--pip-config``): a build must not depend on the submit host's settings.
    """

    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    use_config: bool = False

    def args(self) -> list[str]:
        """The pip command-line options."""
        out: list[str] = []
        if self.index_url:
            out += ["--index-url", self.index_url]
        for link in self.find_links:
            out += ["--find-links", link]
        if self.no_index:
            out.append("--no-index")
        return out


def _path(value: StrPath | None) -> Path | None:
    return Path(value) if value is not None else None
