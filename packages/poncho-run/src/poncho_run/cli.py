"""``poncho_package_run``: run a command inside a packed environment.

The options are read by `poncho_run._args`; this module does what they ask: prepare the
environment (unpack, or use a ready DIR), then run COMMAND in it or become it.

A warm run (``-u DIR`` already unpacked) is kept cheap: its options are read without
argparse, the state file without the ``json`` package, and the process is replaced by the
command; argparse, logging and the unpacking machinery are imported only when needed.
"""

# Paths are str here: on the warm path, where pathlib (which imports re) would cost more than
# the whole run.
# ruff: noqa: PTH112, PTH113

from __future__ import annotations

import os
import sys

from poncho_run._args import PROG, build_parser, full_parse, quick_parse, split

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from poncho_run._args import Options

__all__ = ["build_parser", "entrypoint", "main"]


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit status.

    With an unpack folder, success does not return: the process becomes the command.
    Without COMMAND, the environment is only prepared (DIR unpacked, or the tarball checked).
    *prog* names the command in messages (``poncho run`` under the umbrella).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if "PONCHO_RUN_LOCK_FD" in os.environ:
        from poncho_run.lock import adopt_held_lock

        adopt_held_lock()
    if args[:1] == [_FINALIZE]:
        return _guarded(lambda: _finalize_extracted(args[1:]))
    options, command = split(args)
    parsed = quick_parse(options)
    if parsed is None or (parsed.environment is None and parsed.unpack_to is None):
        full = full_parse(options, command, prog)
        if isinstance(full, int):
            return full
        parsed = full
    try:
        level = parsed.verbosity
    except ValueError as exc:
        from poncho_core.cli_common import usage_error

        sys.stderr.write(usage_error(prog, str(exc)))
        return 2
    return _guarded(lambda: _run(parsed, command, level, prog), prog)


def _guarded(action: Callable[[], int], prog: str = PROG) -> int:
    try:
        return action()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from poncho_run.errors import PonchoError

        if not isinstance(exc, PonchoError):
            raise
        from poncho_core.cli_common import report_error  # argparse: on failure only

        return report_error(prog, exc)


# The shell front end, on a worker with no python3, extracts the archive with tar (under
# the lock, into the sibling folder, reached through the link DIR) and then runs this with
# the environment's own python: check what tar wrote, relocate, compute the activation,
# write the state (pending: the front end renames and publishes, as unpack does).
_FINALIZE = "--poncho-finalize-extracted"


def _finalize_extracted(args: list[str]) -> int:
    from poncho_run.errors import RunError
    from poncho_run.identity import ArchiveHasher
    from poncho_run.unpack import check_extracted, finalize

    verbose = args[-1:] == ["-v"]
    if verbose:
        args = args[:-1]
    if len(args) != 2:
        raise RunError(f"usage: {_FINALIZE} DIR ARCHIVE [-v] (internal)")
    _configure_logging(1 if verbose else 0)
    hasher = ArchiveHasher(args[1]).start()
    check_extracted(args[0])
    finalize(args[0], pending=True, archive=hasher.result())
    return 0


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _run(args: Options, command: list[str], level: int, prog: str = PROG) -> int:
    from poncho_run.api import open_ready

    if args.help_env_creation:
        print(_ENV_CREATION)
        return 0
    environment_is_folder = args.environment is not None and os.path.isdir(args.environment)
    # The warm path: a ready folder; no lock, no tarball, nothing else imported.
    folder = args.environment if environment_is_folder else args.unpack_to
    if command and folder is not None and not (environment_is_folder and args.unpack_to):
        ready = open_ready(folder)
        if ready is not None and (args.no_data or not ready.has_data):
            if args.environment is not None and not environment_is_folder:
                from poncho_run.unpack import check_archive

                check_archive(folder, args.environment, ready.state)
            if level > 0:  # one comparison when not verbose: the warm path stays as it was
                _say_using(prog, str(ready.prefix), ready.state)
            ready.exec(command, data=False)
    _configure_logging(level, prog)
    from poncho_run.api import prepare, run

    if args.max_unpacked_size is not None:  # read where the archive is extracted
        from poncho_run.archive import MAX_UNPACKED_ENV

        os.environ[MAX_UNPACKED_ENV] = args.max_unpacked_size

    if args.unpack_to is not None or environment_is_folder:
        cold = level == 0 and not environment_is_folder and sys.stderr.isatty()
        if cold and args.unpack_to is not None and open_ready(args.unpack_to) is None:
            _say_unpacking(prog, args.environment, args.unpack_to)
        prepared = prepare(args.environment, args.unpack_to, args.wait, store=not args.no_store)
        if level > 0:
            _say_using(prog, str(prepared.prefix), prepared.state)
        if not command:
            return 0
        prepared.exec(command, data=not args.no_data, data_cache=args.data_cache)
    _say_unpacking(prog, args.environment, None, level)
    if not command:
        with prepare(args.environment, None, args.wait, store=not args.no_store):
            pass
        import logging

        logging.getLogger(__name__).log(
            _NOTE,
            "no COMMAND: %s was unpacked into a temporary folder, checked and removed; "
            "nothing was run (give a COMMAND, or -u DIR to keep the folder)",
            args.environment,
        )
        return 0
    return run(
        args.environment,
        command,
        wait=args.wait,
        data=not args.no_data,
        data_cache=args.data_cache,
        store=not args.no_store,
    )


_ENV_CREATION = """\
An environment tarball is made on the submit side, where the program runs:

  poncho_package_analyze my_script.py spec.json   # the imports of the script -> a spec
  poncho_package_create spec.json env.tar.gz       # the spec -> a relocatable tarball

or from an existing conda environment (a folder or a name):

  poncho_package_create /path/to/conda/env env.tar.gz

A plain `conda pack -o env.tar.gz` tarball works too. Ship env.tar.gz and this script with
each task, then run: poncho_package_run -e env.tar.gz -u DIR -- COMMAND ARGS..."""


_NOTE = 25  # poncho_core.verbosity.NOTE: shown by default, hidden by -q


def _say_using(prog: str, folder: str, state: Mapping[str, object]) -> None:
    """Under -v: which environment folder a run uses, and the archive it came from."""
    archive = state.get("archive")
    origin = archive.get("path") if isinstance(archive, dict) else None
    source = f", unpacked from {origin}" if origin else ""
    sys.stderr.write(f"{prog}: using the environment in {folder}{source}\n")


def _say_unpacking(prog: str, env: str | None, folder: str | None, level: int = 0) -> None:
    """Before a cold unpack: one line on a terminal at the default verbosity (a big tarball
    takes seconds), none when stderr is a file or pipe; under -v, an ``unpacking`` line
    for a temporary folder (``-u DIR``'s is the unpacker's own)."""
    if env is None or not os.path.isfile(env):
        return  # nothing will be unpacked: the error says why
    where = folder if folder is not None else "a temporary folder"
    if level > 0:
        import logging

        logging.getLogger(__name__).info("unpacking %s into %s", env, where)
    elif level == 0 and sys.stderr.isatty():
        sys.stderr.write(f"{prog}: unpacking {env} into {where}...\n")


def _configure_logging(level: int, prog: str = PROG) -> None:
    import logging

    from poncho_core.verbosity import log_level, stderr_handler

    logging.basicConfig(level=log_level(level), handlers=[stderr_handler(prog)])
