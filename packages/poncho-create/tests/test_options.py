"""Build options: defaults, environment variables, checks, formats and levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from poncho_create import CreateError
from poncho_create.options import (
    KNOWN_PLATFORMS,
    CreateOptions,
    archive_format,
    default_cache_dir,
    default_pkgs_dir,
    native_platform,
)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("env.tar.gz", "tar.gz"),
        ("ENV.TGZ", "tar.gz"),
        ("a/b.tar.zst", "tar.zst"),
        ("x.tar.bz2", "tar.bz2"),
        ("x.tar", "tar"),
        (Path("x.y.tar.gz"), "tar.gz"),
    ],
)
def test_formats_from_the_file_name(name: str, fmt: str) -> None:
    assert archive_format(name) == fmt


@pytest.mark.parametrize("name", ["env.zip", "env", "env.gz", "env.tar.xz"])
def test_other_endings_are_refused(name: str) -> None:
    with pytest.raises(CreateError, match=r"unsupported output file ending; use one of \.tar\.gz"):
        archive_format(name)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("PONCHO_ENVS_DIR", "PONCHO_PKGS_DIR", "XDG_CACHE_HOME", "PONCHO_CREATE_TMPDIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    options = CreateOptions.resolve()
    assert options.cache_dir == tmp_path / ".cache" / "poncho" / "envs" == default_cache_dir()
    assert options.pkgs_dir == tmp_path / ".cache" / "poncho" / "pkgs" == default_pkgs_dir()
    assert options.platform == native_platform() and options.native
    assert options.threads >= 1 and options.tmp_dir is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_pkgs_dir() == tmp_path / "xdg" / "poncho" / "pkgs"
    assert default_cache_dir() == tmp_path / "xdg" / "poncho" / "envs"


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PONCHO_ENVS_DIR", str(tmp_path / "e"))
    monkeypatch.setenv("PONCHO_PKGS_DIR", str(tmp_path / "p"))
    monkeypatch.setenv("PONCHO_CREATE_TMPDIR", str(tmp_path / "t"))
    options = CreateOptions.resolve()
    assert (options.cache_dir, options.pkgs_dir, options.tmp_dir) == (
        tmp_path / "e", tmp_path / "p", tmp_path / "t",
    )  # fmt: skip
    # Explicit arguments win.
    assert CreateOptions.resolve(cache_dir="x").cache_dir == Path("x")


def test_native_platform_is_a_conda_platform() -> None:
    assert native_platform() in KNOWN_PLATFORMS


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("Linux", "x86_64", "linux-64"),
        ("Linux", "aarch64", "linux-aarch64"),
        ("Linux", "ppc64le", "linux-ppc64le"),
        ("Darwin", "arm64", "osx-arm64"),
        ("Darwin", "x86_64", "osx-64"),
        ("Windows", "AMD64", "win-64"),
        ("Windows", "ARM64", "win-arm64"),
    ],
)
def test_native_platform_names(
    monkeypatch: pytest.MonkeyPatch, system: str, machine: str, expected: str
) -> None:
    import platform

    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert native_platform() == expected


def test_checks() -> None:
    with pytest.raises(CreateError, match="unknown platform 'linux-128'"):
        CreateOptions.resolve(platform="linux-128")
    with pytest.raises(CreateError, match="--threads must be 1 or more"):
        CreateOptions.resolve(threads=0)
    options = CreateOptions.resolve(platform="osx-arm64", compression_level=12)
    assert not options.native
    assert options.level_for("tar.zst") == 12
    assert options.level_for("tar") == 0
    with pytest.raises(CreateError, match=r"out of range for tar\.gz"):
        options.level_for("tar.gz")
    assert CreateOptions.resolve().level_for("tar.gz") == 4
    assert CreateOptions.resolve().level_for("tar.zst") == 3


def test_channels_order_and_override() -> None:
    spec_channels = ("conda-forge", "bioconda")
    assert CreateOptions.resolve().effective_channels(spec_channels) == spec_channels
    extra = CreateOptions.resolve(channels=["mine", "conda-forge"])
    assert extra.effective_channels(spec_channels) == ("mine", "conda-forge", "bioconda")
    only = CreateOptions.resolve(channels=["mine"], override_channels=True)
    assert only.effective_channels(spec_channels) == ("mine",)
    with pytest.raises(CreateError, match="--override-channels needs"):
        CreateOptions.resolve(override_channels=True).effective_channels(spec_channels)


def test_options_are_declared_once_on_their_fields() -> None:
    """The CLI's flags, create()'s keywords and CreateOptions' fields are one list."""
    from dataclasses import fields

    from poncho_create import create
    from poncho_create.cli import build_parser
    from poncho_create.options import OPTIONS

    declared = [f.name for f in fields(CreateOptions) if "option" in f.metadata]
    assert list(OPTIONS) == declared
    parser = build_parser()
    for name, option in OPTIONS.items():
        for flag in option.flags:
            assert parser._option_string_actions[flag].dest == name
    assert set(vars(parser.parse_args(["spec.json"]))) == {
        *OPTIONS, "spec", "output", "quiet", "verbose", "no_micromamba", "json",
    }  # fmt: skip
    with pytest.raises(TypeError, match=r"unknown build option.*: chanels"):
        create({"conda": {"dependencies": []}}, chanels=["x"])
    with pytest.raises(TypeError, match="unknown build option"):
        CreateOptions.resolve(bogus=1)
