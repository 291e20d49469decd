"""The settings of one build: defaults, environment variables, checks; and output formats."""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from poncho_create.channel_config import ChannelSettings, load_channel_settings
from poncho_create.errors import CreateError

StrPath = Union[str, "os.PathLike[str]"]

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "KNOWN_PLATFORMS",
    "CreateOptions",
    "PipOptions",
    "archive_format",
    "default_cache_dir",
    "default_pkgs_dir",
    "native_platform",
]

FORMATS: dict[str, str] = {
    ".tar.gz": "tar.gz",
    ".tgz": "tar.gz",
    ".tar.zst": "tar.zst",
    ".tar.bz2": "tar.bz2",
    ".tar": "tar",
}
"""Output file endings and the archive format each one selects."""

DEFAULT_FORMAT = "tar.gz"

# (lowest, highest, default) compression level of each format; "tar" is not compressed.
_LEVELS: dict[str, tuple[int, int, int]] = {
    "tar.gz": (0, 9, 4),
    "tar.bz2": (1, 9, 9),
    "tar.zst": (1, 22, 3),
    "tar": (0, 0, 0),
}

KNOWN_PLATFORMS = frozenset(
    {
        "linux-64",
        "linux-aarch64",
        "linux-ppc64le",
        "linux-s390x",
        "linux-armv7l",
        "linux-32",
        "osx-64",
        "osx-arm64",
        "win-64",
        "win-arm64",
        "win-32",
    }
)
"""Conda platforms (subdirs) an environment can be solved for."""


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
    """Where environments without an OUTPUT go: ``$PONCHO_ENVS_DIR``, else ``./envs``."""
    return Path(os.environ.get("PONCHO_ENVS_DIR") or "envs")


def default_pkgs_dir() -> Path:
    """Shared conda package download cache: ``$PONCHO_PKGS_DIR``, else
    ``$XDG_CACHE_HOME/poncho/pkgs`` or ``~/.cache/poncho/pkgs``."""
    explicit = os.environ.get("PONCHO_PKGS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "poncho" / "pkgs"


@dataclass(frozen=True)
class CreateOptions:
    """Everything besides the spec that decides how an environment is built.

    Build one with :meth:`resolve`, which applies defaults and environment variables and
    checks the values (raising CreateError with a message naming the option).
    """

    cache_dir: Path
    pkgs_dir: Path
    channels: tuple[str, ...] = ()
    override_channels: bool = False
    platform: str = ""
    pip_index_url: str | None = None
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pip_config: bool = False
    threads: int = 1
    compression_level: int | None = None
    keep_prefix: Path | None = None
    conda_exe: Path | None = None
    from_lock: Path | None = None
    lock_out: Path | None = None
    tmp_dir: Path | None = None
    use_condarc: bool = False
    channel_settings: ChannelSettings = field(default_factory=ChannelSettings)

    @property
    def pip(self) -> PipOptions:
        """The pip index options."""
        return PipOptions(self.pip_index_url, self.find_links, self.no_index, self.pip_config)

    @property
    def native(self) -> bool:
        """True when building for this machine's own platform."""
        return self.platform == native_platform()

    def level_for(self, fmt: str) -> int:
        """The compression level to use for `fmt` (the format's default when not set)."""
        low, high, default = _LEVELS[fmt]
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
    def resolve(
        cls,
        *,
        cache_dir: StrPath | None = None,
        pkgs_dir: StrPath | None = None,
        channels: Iterable[str] | None = None,
        override_channels: bool = False,
        platform: str | None = None,
        pip_index_url: str | None = None,
        find_links: Iterable[str] = (),
        no_index: bool = False,
        pip_config: bool = False,
        threads: int | None = None,
        compression_level: int | None = None,
        keep_prefix: StrPath | None = None,
        conda_exe: StrPath | None = None,
        from_lock: StrPath | None = None,
        lock_out: StrPath | None = None,
        tmp_dir: StrPath | None = None,
        use_condarc: bool = False,
    ) -> CreateOptions:
        """Apply defaults and environment variables, and check every value."""
        chosen_platform = platform or native_platform()
        if chosen_platform not in KNOWN_PLATFORMS:
            known = ", ".join(sorted(KNOWN_PLATFORMS))
            raise CreateError(f"unknown platform {chosen_platform!r}; known: {known}")
        if threads is None:
            threads = os.cpu_count() or 1
        if threads < 1:
            raise CreateError(f"--threads must be 1 or more, not {threads}")
        if tmp_dir is None and os.environ.get("PONCHO_CREATE_TMPDIR"):
            tmp_dir = os.environ["PONCHO_CREATE_TMPDIR"]
        settings = load_channel_settings(
            channels=channels, override_channels=override_channels, use_condarc=use_condarc
        )
        return cls(
            cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
            pkgs_dir=Path(pkgs_dir) if pkgs_dir is not None else default_pkgs_dir(),
            channels=settings.channels,
            override_channels=settings.override_channels,
            platform=chosen_platform,
            pip_index_url=pip_index_url,
            find_links=tuple(str(link) for link in find_links),
            no_index=no_index,
            pip_config=pip_config,
            threads=threads,
            compression_level=compression_level,
            keep_prefix=_path(keep_prefix),
            conda_exe=_path(conda_exe),
            from_lock=_path(from_lock),
            lock_out=_path(lock_out),
            tmp_dir=_path(tmp_dir),
            use_condarc=use_condarc,
            channel_settings=settings,
        )


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
