"""`create`: a spec in, a packed environment tarball out (the CLI is a thin layer over it).

The pipeline: load the spec (or find an existing environment to pack), check the options and
where the results go, then build: conda part, pip step, git refs, lock, pack. Serving and
filling the environment cache around a build is `poncho_create.cached_build`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_create.build_folders import build_folder, default_parents, sweep
from poncho_create.cached_build import build_cached
from poncho_create.conda_layer import Layer, layer_limit
from poncho_create.conda_part import CondaPart
from poncho_create.errors import ChannelError, CreateError
from poncho_create.git_refs import carried_spec, git_entries
from poncho_create.lock import Lock, PipLockEntry, conda_entries_from_prefix
from poncho_create.options import CreateOptions, archive_format
from poncho_create.output_file import check_folder_exists, check_overwrite, copy_tarball
from poncho_create.prepare import check_offline, prepare
from poncho_create.progress import ProgressCallback, Reporter
from poncho_create.stable_prefix import stable_prefix
from poncho_spec import Spec

if TYPE_CHECKING:
    from poncho_create.dry_run import DryRun

__all__ = ["create", "plan_create"]

log = logging.getLogger(__name__)


def create(
    spec_or_path: Spec | Mapping[str, Any] | str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    **given: Any,
) -> Path:
    """Build the environment of a spec and pack it into a tarball; returns its path.

    `given` are the build options, by the names of `CreateOptions`' fields (each one is
    declared and documented there, with its command-line flag): ``channels``,
    ``override_channels``, ``use_condarc``, ``platform``, ``pkgs_dir``, ``conda_exe``,
    ``ignore_editable_packages``, ``drop_data``, ``pip_index_url``, ``find_links``, ``no_index``,
    ``pip_config``, ``cache_dir``, ``threads``, ``compression_level``, ``keep_prefix``,
    ``tmp_dir``, ``lock_out``, ``from_lock``, ``force``, ``offline``, ``dry_run``; an
    unknown name is a TypeError. With `dry_run` nothing is written: the path that would be
    is returned (:func:`plan_create` tells more).

    `spec_or_path` is a Spec, a spec document (dict), or a spec file path (``"-"`` = stdin;
    a ``requirements.txt`` or ``environment.yml`` is converted, see
    :mod:`poncho_spec.importers`);
    or an existing conda environment, by folder or by name, which is packed as it is into
    `output` (required then) with our files added (see :mod:`poncho_create.existing`).
    `output` is the tarball path; its ending picks the format (``.tar.gz``, ``.tar.zst``,
    ``.tar.bz2``, ``.tar``). The tarball is built into the user's environment cache
    (`cache_dir`, else ``$PONCHO_ENVS_DIR``, else ``~/.cache/poncho/envs``) under a name made
    of the spec hash, the platform and, when they matter, a digest of whatever else decides
    the result (channel and pip options, the lock, local pip sources); a later call with the
    same inputs is a cache hit. Without `output` the cached file is returned; with it,
    `output` receives a copy (a reflink where the filesystem has them).

    The conda part is solved and installed with py-rattler (or with `conda_exe`, a conda,
    mamba or micromamba executable), downloads going to `pkgs_dir` (else
    ``$PONCHO_PKGS_DIR``, else ``~/.cache/poncho/pkgs``). `channels` come before the spec's
    channels, or replace them with `override_channels`. pip entries are installed with the
    environment's interpreter using `pip_index_url`, `find_links` and `no_index`, and
    without pip's own configuration (``pip.conf``, ``PIP_*``) unless `pip_config`. The
    tarball holds ``poncho/spec.json``, ``poncho/lock.json`` and ``bin/run_in_env``;
    `lock_out` also writes the lock there; `from_lock` installs a lock's packages instead of
    solving. Channels also come from ``PONCHO_CHANNELS`` (added), ``PONCHO_OVERRIDE_CHANNELS``
    (instead of the spec's), ``PONCHO_CHANNEL_ALIAS``, the
    ``[poncho]`` section of the config file and, with `use_condarc`, the user's ``.condarc``
    (see `poncho_create.channel_config`: names, aliases and mirrors). `keep_prefix` builds
    in that (new or empty) folder and keeps it, even when the build fails; otherwise the
    prefix lives in a temporary folder under `tmp_dir` (else ``$PONCHO_CREATE_TMPDIR``, else
    the system's) that is always removed. `progress` receives ProgressEvent objects.
    `ignore_editable_packages` and `drop_data` matter only when packing an existing
    environment (builds from a spec never install editable packages; a spec's data is
    always kept).

    An existing `output` is overwritten only if it is empty or an environment tarball;
    anything else raises OutputExists unless `force`, which also ignores the cache: the
    build runs again and replaces the cache entry.

    Raises InvalidSpec / SpecNotFound (poncho-spec) or a CreateError subclass; on any
    failure no partial tarball is left at `output` or in the cache, and an existing
    `output` is untouched.
    """
    report = Reporter(progress)
    options = CreateOptions.resolve(**given)  # checks every option before any work
    if output is not None:
        check_folder_exists(Path(output))
    if options.dry_run:
        return plan_create(spec_or_path, output, progress=progress, **given).path
    sweep(default_parents(options.tmp_dir))  # build folders left by killed builds
    existing = _existing_env(spec_or_path)
    if existing is not None:
        return _pack_existing(existing, output, report, options, given)
    ready = prepare(spec_or_path, output, options, given)
    spec, options, lock, fmt, channels_used = (
        ready.spec,
        ready.options,
        ready.lock,
        ready.fmt,
        ready.channels,
    )
    # Where the results go must be writable before the solve, install and pack, not after.
    if output is not None:
        check_overwrite(Path(output), force=options.force)
        check_writable(Path(output), "OUTPUT")
    else:
        check_writable(options.cache_dir / "x", "--cache-dir")
    if options.lock_out is not None:
        check_writable(options.lock_out, "--lock-out")

    def build(target: Path, layers: int | None = None) -> Path:
        if options.offline:  # a cache hit needs no network: checked for a build only
            check_offline(ready)
        layers = layer_limit() if layers is None else layers
        return _build(spec, options, target, fmt, channels_used, lock, report, layers)

    if output is None:
        return build_cached(spec, options, fmt, channels_used, report, build)
    if not _cache_writable(options.cache_dir):
        log.warning(
            "the environment cache %s cannot be written: building into %s without it",
            options.cache_dir,
            output,
        )
        return build(Path(output), layers=0)  # no layer either: it lives in the cache
    cached = build_cached(spec, options, fmt, channels_used, report, build)
    copy_tarball(cached, Path(output))
    log.info("%s: a copy of %s", output, cached)
    return Path(output)


def plan_create(
    spec_or_path: Spec | Mapping[str, Any] | str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    **given: Any,
) -> DryRun:
    """What :func:`create` would do with the same arguments (``--dry-run``), writing
    nothing: the cache entry and whether it is a hit, the conda packages it would install
    (solved, or from the cache's or ``from_lock``'s lock) and the pip entries. See
    `poncho_create.dry_run`."""
    from poncho_create.dry_run import dry_run

    report = Reporter(progress)
    options = CreateOptions.resolve(**given)
    if output is not None:
        check_folder_exists(Path(output))
    if _existing_env(spec_or_path) is not None:
        raise CreateError(
            f"{spec_or_path}: --dry-run plans a build from a spec; an existing "
            "environment is packed as it is"
        )
    ready = prepare(spec_or_path, output, options, given)
    out = Path(output) if output is not None else None
    if out is not None:
        check_overwrite(out, force=options.force)
    return dry_run(ready, out, report)


def _cache_writable(folder: Path) -> bool:
    from poncho_core.fs import writable_location

    try:
        writable_location(folder / "x")
    except OSError:
        return False
    return True


def _build(
    spec: Spec,
    options: CreateOptions,
    target: Path,
    fmt: str,
    channels: tuple[str, ...],
    lock: Lock | None,
    report: Reporter,
    layers: int,
) -> Path:
    """Build into `target`: the conda part in the build prefix (in a conda layer of the
    environment cache when `layers` may be kept, see `poncho_create.conda_layer`), the pip
    step, our files, the pack."""
    from poncho_create.cache import PackageCache
    from poncho_create.pack import add_poncho_files, pack_prefix

    options.pkgs_dir.mkdir(parents=True, exist_ok=True)
    # conda-pack reads the packages' files in the package cache: keep them from pruning.
    try:
        with PackageCache(options.pkgs_dir).in_use():
            if options.tmp_dir is not None:
                options.tmp_dir.mkdir(parents=True, exist_ok=True)
            with build_folder(parent=options.tmp_dir) as work, contextlib.ExitStack() as held:
                conda = CondaPart.of(spec, options, channels, lock)

                def install(prefix: Path) -> None:
                    conda.install(prefix, options.pkgs_dir, work, report)

                layer = None
                if options.keep_prefix:
                    prefix = _prefix_dir(options.keep_prefix)
                    install(prefix)
                elif layers > 0:
                    layer = held.enter_context(_use_layer(options, conda, install, layers))
                    prefix = layer.prefix
                    if layer.reused:  # their last use, for `poncho cache prune`: packing reads them
                        PackageCache(options.pkgs_dir).mark_used(layer.package_names())
                else:
                    # Not in `work`: the prefix path is written into the environment.
                    prefix = held.enter_context(
                        stable_prefix(work.parent, spec.hash(), options.platform)
                    )
                    install(prefix)
                pip_entries: list[PipLockEntry] = []
                if spec.pip:
                    from poncho_create.pip_step import install_pip

                    pip_entries = install_pip(
                        prefix,
                        spec.pip,
                        options.pip,
                        report,
                        base_dir=spec.base_dir,
                        locked=lock.pip if lock is not None else None,
                        work_dir=work,
                        platform=None if options.native else options.platform,
                    )
                locked_git = git_entries(spec, lock)
                carried = carried_spec(spec, locked_git)
                new_lock = Lock(
                    platform=options.platform,
                    spec_hash=carried.hash(),
                    channels=channels,
                    conda=tuple(conda_entries_from_prefix(prefix)),
                    pip=tuple(pip_entries),
                    git=tuple(locked_git),
                )
                add_poncho_files(prefix, carried.to_dict(), new_lock)
                path = pack_prefix(
                    prefix,
                    target,
                    fmt,
                    level=options.level_for(fmt),
                    threads=options.threads,
                    report=report,
                    cache_dir=options.cache_dir,
                )
                if options.lock_out is not None:
                    new_lock.write(options.lock_out)
            if layer is not None:  # restored (or dropped) by now
                report.note("layer", layer.message(), detail=layer.to_dict())
            log.info("created %s", path)
            return path
    except ChannelError as exc:  # worded with what the channel settings know
        raise options.channel_settings.explain(exc, channels) from exc


def _use_layer(
    options: CreateOptions,
    conda: CondaPart,
    install: Callable[[Path], None],
    keep: int,
) -> contextlib.AbstractContextManager[Layer]:
    """The build's conda layer in the environment cache (`poncho_create.conda_layer`)."""
    from poncho_core.verbosity import NOTE
    from poncho_create.cached_build import build_wait
    from poncho_create.conda_layer import LayerStore, use_layer

    def waiting(pid: int | None) -> None:
        holder = f" (pid {pid})" if pid is not None else ""
        log.log(NOTE, "waiting for another build with the same conda packages%s", holder)

    return use_layer(
        LayerStore.of_cache(options.cache_dir),
        conda.key(),
        install,
        keep=keep,
        force=options.force,
        dependencies=conda.dependencies,
        on_wait=waiting,
        timeout=build_wait(),
    )


def _existing_env(spec_or_path: object) -> Path | None:
    """The conda environment `spec_or_path` names, or None when it names a spec."""
    from poncho_create.envs import check_folder, find_conda_env, looks_like_env_name

    if not isinstance(spec_or_path, (str, os.PathLike)):
        return None
    text = os.fspath(spec_or_path)
    path = Path(text)
    if text == "-" or path.is_file():
        return None
    if path.is_dir():
        return check_folder(path)
    if not path.exists() and looks_like_env_name(text):
        return find_conda_env(text)
    return None


def _pack_existing(
    prefix: Path,
    output: str | os.PathLike[str] | None,
    report: Reporter,
    options: CreateOptions,
    given: Mapping[str, Any],
) -> Path:
    from poncho_create.existing import pack_existing
    from poncho_create.options import OPTIONS, native_platform

    if output is None:
        raise CreateError(f"{prefix}: packing an existing environment needs an OUTPUT file")
    ignored = [
        next(flag for flag in option.flags if flag.startswith("--"))
        for name, option in OPTIONS.items()
        if option.build_only and given.get(name)
    ]
    if ignored:
        # Warned, not refused: wrappers that always add channel options keep working.
        log.warning(
            "%s: ignored, only for building from a spec, not for packing the existing "
            "environment %s",
            ", ".join(ignored),
            prefix,
        )
    if given.get("platform") and options.platform != native_platform():
        raise CreateError(
            f"--platform {options.platform}: {prefix} is packed as it is, for this machine"
        )
    lock_out = options.lock_out
    fmt = archive_format(output)
    check_overwrite(Path(output), force=options.force)
    check_writable(Path(output), "OUTPUT")
    if lock_out is not None:
        check_writable(lock_out, "--lock-out")
    if options.tmp_dir is not None:
        options.tmp_dir.mkdir(parents=True, exist_ok=True)
    return pack_existing(
        prefix,
        Path(output),
        fmt,
        level=options.level_for(fmt),
        threads=options.threads,
        report=report,
        platform=options.platform,
        ignore_editable_packages=options.ignore_editable_packages,
        drop_data=options.drop_data,
        lock_out=lock_out,
        tmp_dir=options.tmp_dir,
        cache_dir=options.cache_dir if _cache_writable(options.cache_dir) else None,
    )


def _prefix_dir(path: Path) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise CreateError(f"--keep-prefix {path}: must be a new or empty folder")
    if path.exists():
        path.rmdir()  # rattler and conda want to create the prefix themselves
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def check_writable(path: Path, what: str) -> list[Path]:
    """Check that a file can be written at `path`; CreateError naming `what` if not.

    Nothing is created: returns the missing folders above `path`, which writing it will
    create (so a failed build can remove them again).
    """
    from poncho_core.fs import writable_location

    try:
        return writable_location(path)
    except OSError as exc:
        raise CreateError(f"{what} {path}: {exc.strerror}") from exc
