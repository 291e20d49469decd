"""The build options as a table: each one's flags, group, kind and help, declared once.

`poncho_create.options.CreateOptions` has a field of the same name for each row (its value
once resolved), and `poncho_create.cli` builds its parser from the rows. Also the output
formats and the platforms an environment can be built for.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_FORMAT", "FORMATS", "KNOWN_PLATFORMS", "LEVELS", "OPTIONS", "Option"]

FORMATS: dict[str, str] = {
    ".tar.gz": "tar.gz",
    ".tgz": "tar.gz",
    ".tar.zst": "tar.zst",
    ".tar.bz2": "tar.bz2",
    ".tar": "tar",
}
"""Output file endings and the archive format each one selects."""

DEFAULT_FORMAT = "tar.gz"

LEVELS: dict[str, tuple[int, int, int]] = {
    "tar.gz": (0, 9, 4),
    "tar.bz2": (1, 9, 9),
    "tar.zst": (1, 22, 3),
    "tar": (0, 0, 0),
}
"""(lowest, highest, default) compression level of each format; "tar" is not compressed."""

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


@dataclass(frozen=True)
class Option:
    """How one build option is given: its command-line flags, group and help, and how a
    given value becomes the stored one. Declared once, as a row of `OPTIONS`."""

    flags: tuple[str, ...]
    group: str
    help: str
    metavar: str | None = None
    kind: str = "value"  # "value", "int", "flag" (store_true) or "append" (repeatable)
    build_only: bool = False  # meaningless when an existing environment is packed as it is


# One row an option: name, flags (space-separated), kind, metavar, build_only (True: ignored
# when an existing environment is packed as it is), help; grouped as in --help.
_Row = tuple[str, str, str, "str | None", bool, str]


# fmt: off
_ROWS: dict[str, tuple[_Row, ...]] = {
    "conda": (
        ("channels", "-c --channel", "append", "CHANNEL", True,
         "channel to use before the spec's channels (repeatable; name or URL)"),
        ("override_channels", "--override-channels", "flag", None, True,
         "use only the --channel channels, not the spec's"),
        ("use_condarc", "--use-condarc", "flag", None, True,
         "also read channels, channel_alias and custom_channels from your .condarc"),
        ("platform", "--platform", "value", "PLATFORM", False,
         "conda platform to build for, e.g. linux-64, linux-aarch64, osx-arm64 "
         "(default: this machine's); pip entries then get binary wheels for it"),
        ("pkgs_dir", "--pkgs-dir", "value", "DIR", True,
         "package download cache (default $PONCHO_PKGS_DIR or ~/.cache/poncho/pkgs)"),
        ("conda_exe", "--conda-exe --conda-executable", "value", "PATH", True,
         "build the conda part with this conda, mamba or micromamba instead of the "
         "embedded engine (py-rattler); --conda-executable is CCTools' name for it"),
        ("ignore_editable_packages", "--ignore-editable-packages", "flag", None, False,
         "when packing an existing environment, leave its editable pip installs out "
         "(as CCTools did) instead of packing an installed copy of their current source"),
        ("drop_data", "--drop-data", "flag", None, False,
         "when packing an existing environment whose poncho/spec.json names data "
         "(git/http), leave the data out instead of refusing when it cannot be kept"),
    ),
    "pip": (
        ("pip_index_url", "--pip-index-url", "value", "URL", True,
         "pip index URL (pip's --index-url)"),
        ("find_links", "--find-links", "append", "PATH_OR_URL", True,
         "also look for pip packages here (repeatable)"),
        ("no_index", "--no-index", "flag", None, True,
         "do not use a pip index (air-gapped sites; with --find-links)"),
        ("pip_config", "--pip-config", "flag", None, True,
         "let pip read its own configuration (pip.conf, PIP_* variables); ignored "
         "otherwise"),
    ),
    "output": (
        ("cache_dir", "--cache-dir", "value", "DIR", True,
         "environment cache (default $PONCHO_ENVS_DIR or ~/.cache/poncho/envs)"),
        ("threads", "-j --threads", "int", "N", False,
         "threads for compression (default: all cores)"),
        ("compression_level", "--compression-level", "int", "N", False,
         "compression level (gz, bz2: up to 9; zst: up to 22; default 4, 9, 3)"),
        ("keep_prefix", "--keep-prefix", "value", "DIR", True,
         "build the environment in DIR (new or empty) and keep it for inspection"),
        ("tmp_dir", "--tmp-dir", "value", "DIR", False,
         "parent of the temporary build folder"),
    ),
    "lock": (
        ("lock_out", "--lock-out", "value", "FILE", False,
         "also write the lock to FILE"),
        ("from_lock", "--from-lock", "value", "LOCK", True,
         "install exactly the packages of LOCK (a lock.json) instead of solving"),
    ),
    "cache and network": (
        ("force", "--force --refresh", "flag", None, False,
         "build again even if the environment cache holds this build (replacing the "
         "entry), and overwrite an OUTPUT that is not an environment tarball"),
        ("offline", "--offline", "flag", None, True,
         "use only local channels (file:// URLs, folders), the caches and local pip "
         "sources (pip gets --no-index: give --find-links); a cache hit needs nothing"),
        ("dry_run", "--dry-run", "flag", None, True,
         "say what would be solved, installed or reused from the cache; write nothing"),
    ),
}
# fmt: on

OPTIONS: dict[str, Option] = {
    name: Option(tuple(flags.split()), group, help_, metavar, kind, build_only)
    for group, rows in _ROWS.items()
    for name, flags, kind, metavar, build_only, help_ in rows
}
"""Every build option by keyword name, in command-line order (the CLI and docs use it)."""
