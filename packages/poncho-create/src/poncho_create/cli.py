"""``poncho_package_create [options] SPEC [OUTPUT]``: compatible with CCTools' command.

Builds the conda environment of a Poncho spec and packs it into a tarball; a thin layer over
:func:`poncho_create.create` (``main`` takes the library callable so tests can swap it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    log_level,
    report_error,
    stderr_handler,
    verbosity,
)
from poncho_create import __version__
from poncho_create._render import LineRenderer, TerminalRenderer
from poncho_create.api import create as _create
from poncho_create.api import plan_create as _plan_create
from poncho_create.build_folders import build_folder
from poncho_create.options import FORMATS, OPTIONS
from poncho_create.progress import ProgressEvent
from poncho_spec import PonchoError

if TYPE_CHECKING:
    from poncho_create.dry_run import DryRun

__all__ = ["build_parser", "entrypoint", "legacy_entrypoint", "main"]

T = TypeVar("T")

PROG = "poncho_package_create"

_EPILOG = epilog(
    "Every build goes through the environment cache; with OUTPUT, a hit is copied there. "
    "The cache name is <spec hash>-<platform>[-<digest>].tar.gz: the digest covers channel "
    "changes, pip options and configuration, --from-lock, local pip sources and "
    "--compression-level.",
    exit_status=[
        ("0", "success"),
        ("1", "error"),
        ("2", "bad usage"),
        ("75", "another build of the spec held its lock too long"),
        ("130", "interrupted (Ctrl-C)"),
        ("143", "SIGTERM"),
        ("129", "SIGHUP"),
    ],
    environment=[
        ("PONCHO_ENVS_DIR", "environment cache (default ~/.cache/poncho/envs)"),
        ("PONCHO_PKGS_DIR", "conda package download cache (default ~/.cache/poncho/pkgs)"),
        ("PONCHO_CREATE_TMPDIR", "parent of the temporary build folders (default: system temp)"),
        ("PONCHO_CREATE_WAIT", "seconds to wait for another build of the same spec (default 3600)"),
        ("PONCHO_CREATE_LAYERS", "installed conda parts kept for reuse (default 2; 0: none)"),
        ("PONCHO_CHANNELS", "channels searched before the spec's (when no --channel is given)"),
        (
            "PONCHO_OVERRIDE_CHANNELS",
            "channels used instead of the spec's (unless -c ... --override-channels)",
        ),
        ("PONCHO_CHANNEL_ALIAS", "where channel names such as conda-forge live"),
        (
            "PONCHO_CONFIG",
            "the config file (default ~/.config/poncho/config.toml): its [poncho] section "
            "sets channels, override-channels, channel-alias, custom-channels and mirrors "
            "(the command line wins over the environment, which wins over the file)",
        ),
        (
            "CONDA_OVERRIDE_GLIBC, CONDA_OVERRIDE_OSX, CONDA_OVERRIDE_CUDA",
            "virtual package versions to solve with",
        ),
    ],
)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser (``-h`` documents every option; *prog* names the command)."""
    parser = ArgumentParser(
        prog=prog,
        description="Build the conda environment described by a Poncho spec and pack it "
        "into a relocatable tarball (conda-pack), with bin/run_in_env, the spec and a lock "
        "inside. Prints the tarball's path.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "spec",
        metavar="SPEC",
        help="spec file (JSON), - to read stdin, a requirements.txt or environment.yml "
        "(converted as poncho_spec import does), or an existing conda environment (its "
        "folder, or its name as conda resolves names) to pack as it is",
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        nargs="?",
        help="tarball to write; its ending picks the format ("
        + ", ".join(FORMATS)
        + "). Default: the environment cache, named by the spec's hash",
    )
    groups: dict[str, Any] = {}
    for name, option in OPTIONS.items():  # every build option, as CreateOptions declares it
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        kwargs: dict[str, Any] = {"dest": name, "help": option.help}
        if option.kind == "flag":
            kwargs["action"] = "store_true"
        elif option.kind == "append":
            kwargs.update(action="append", default=[], metavar=option.metavar)
        else:
            kwargs.update(metavar=option.metavar, type=int if option.kind == "int" else str)
        groups[option.group].add_argument(*option.flags, **kwargs)
        if name == "conda_exe":  # CLI only: accepted as CCTools has it, nothing to do
            groups[option.group].add_argument(
                "--no-micromamba",
                action="store_true",
                help="accepted for CCTools compatibility; micromamba is never downloaded",
            )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object instead of the path: path, cache_hit, size, spec_hash, "
        "platform, python, conda and pip package counts "
        "(schema: docs/schemas/create.schema.json)",
    )
    add_verbosity_options(parser)
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def main(
    argv: Sequence[str] | None = None,
    create: Callable[..., Path] = _create,
    *,
    prog: str = PROG,
    plan: Callable[..., DryRun] = _plan_create,
) -> int:
    """Run the command; returns the exit status. `prog` names the command in messages
    (``python_package_create`` when run by CCTools' old name); `plan` serves ``--dry-run``."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    level = verbosity(parser, args)
    with _logging(level, prog):
        return _run(args, create, plan, prog, level)


def _run(
    args: argparse.Namespace,
    create: Callable[..., Path],
    plan: Callable[..., DryRun],
    prog: str,
    level: int,
) -> int:
    renderer: Any = None
    if level >= 0:
        renderer = (
            TerminalRenderer(sys.stderr) if sys.stderr.isatty() else LineRenderer(sys.stderr, prog)
        )
    hits: list[str] = []
    notes: dict[str, Any] = {}

    def progress(event: ProgressEvent) -> None:
        if event.detail is not None:
            notes[event.phase] = dict(event.detail)
        elif event.phase == "cache" and event.finished:
            hits.append(event.message)
        if renderer is not None:
            renderer(event)

    mistake = _tarball_as_spec(args.spec, args.output)
    if mistake:
        print(f"{prog}: error: {mistake}", file=sys.stderr)
        return 2
    options = {name: getattr(args, name) for name in OPTIONS}
    if args.dry_run:
        planned, code = _guarded(
            lambda: plan(args.spec, args.output, progress=progress, **options),
            renderer,
            prog,
            json_output=args.json,
        )
        if code is not None:
            return code
        _close(renderer)
        _print_plan(planned, args.json)
        return 0
    with build_folder("poncho-create-json-") as scratch:
        if args.json and options["lock_out"] is None:  # the lock tells what was built
            options["lock_out"] = str(Path(scratch) / "lock.json")
        path, code = _guarded(
            lambda: create(args.spec, args.output, progress=progress, **options),
            renderer,
            prog,
            json_output=args.json,
        )
        if code is not None:
            return code
        assert path is not None
        _close(renderer)
        if not args.json:
            print(path)
            return 0
        lock_file = Path(options["lock_out"])
        lock = json.loads(lock_file.read_text(encoding="utf-8")) if lock_file.is_file() else {}
    conda = lock.get("conda", [])
    print(
        json.dumps(
            {
                "path": str(path.absolute()),
                "cache_hit": bool(hits),
                "members": notes.get("members"),  # indexed tarballs: {"total", "reused"}
                "size": path.stat().st_size,
                "spec_hash": lock.get("spec_hash"),
                "platform": lock.get("platform"),
                "python": next((p["version"] for p in conda if p.get("name") == "python"), None),
                "conda_packages": len(conda),
                "pip_packages": len(lock.get("pip", [])),
                "conda_layer": notes.get("layer"),
            },
            indent=2,
        )
    )
    return 0


def _tarball_as_spec(spec: str, output: str | None) -> str | None:
    """The usage error of a tarball given as SPEC (usually SPEC and OUTPUT swapped)."""
    if not spec.lower().endswith(tuple(FORMATS)) or not Path(spec).is_file():
        return None
    swapped = "; did you swap SPEC and OUTPUT?" if output is not None else ""
    return f"{spec} is a tarball, not a spec{swapped}"


def _guarded(
    call: Callable[[], T], renderer: Any, prog: str, *, json_output: bool = False
) -> tuple[T | None, int | None]:
    """``(call(), None)``, or ``(None, exit status)`` after a one-line message: a package
    error, Ctrl-C, SIGTERM or SIGHUP end the work cleanly."""
    try:
        with _signals_end_the_build():
            return call(), None
    except (PonchoError, KeyboardInterrupt) as exc:
        _close(renderer)
        return None, report_error(prog, exc, json_output=json_output)
    except _Terminated as exc:
        _close(renderer)
        print(f"{prog}: terminated by {exc.signal.name}", file=sys.stderr)
        return None, 128 + exc.signal.value


def _print_plan(planned: Any, as_json: bool) -> None:
    """``--dry-run``'s answer: JSON, or what would be reused, solved and installed."""
    data = planned.to_dict()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    entry = data["cache_entry"]
    print(f"cache hit: {entry}" if data["cache_hit"] else f"would build: {entry}")
    if data["path"] != entry:
        print(f"would copy it to: {data['path']}")
    conda = data["conda"]
    if conda is None:
        print("conda: solved by --conda-exe at build time")
    else:
        print(f"conda: {len(conda)} package{'' if len(conda) == 1 else 's'}")
        for p in conda:
            print(f"  {p['name']} {p['version']} {p['build']}  {p['channel']}")
    if data["pip"]:
        print(f"pip: {len(data['pip'])} entr{'y' if len(data['pip']) == 1 else 'ies'}")
        for entry in data["pip"]:
            print(f"  {entry}")


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a batch scheduler's time limit, a closed terminal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal = signal.Signals(signum)


@contextlib.contextmanager
def _signals_end_the_build() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception, so the build cleans up as on Ctrl-C:
    children ended, temporary files removed, nothing partial left at OUTPUT."""

    def handler(signum: int, _frame: object) -> None:
        raise _Terminated(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


def legacy_entrypoint() -> None:
    """``python_package_create``: CCTools' old name of the command (Parsl's Work Queue
    executor looks it up with ``shutil.which``); the same command."""
    sys.exit(main(prog="python_package_create"))


def _close(renderer: Any) -> None:
    if isinstance(renderer, TerminalRenderer):
        renderer.close()


@contextlib.contextmanager
def _logging(level: int, prog: str = PROG) -> Iterator[None]:
    """Send the library's log records to stderr while the command runs, then restore."""
    logger = logging.getLogger("poncho_create")
    handler = stderr_handler(prog)
    saved = (logger.level, logger.propagate)
    logger.setLevel(log_level(level))
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
