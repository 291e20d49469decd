"""The single-stream tarball (``.tar.bz2``, ``.tar``; ``.tar.gz`` and ``.tar.zst`` are
indexed, `poncho_create.pack_indexed`): conda-pack's ``Packer`` writing through its own
parallel compressors into one stream, members normalised (`poncho_create.pack_normal`)."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

from poncho_create.pack_normal import normalised, pyc_with_mtime
from poncho_create.prefix_records import PrefixWatch
from poncho_create.progress import Reporter

__all__ = ["write_stream"]

_REPORT_EVERY = 4 * 2**20  # bytes between two progress events


def write_stream(
    handle: IO[bytes],
    prefix: str,
    files: Sequence[Any],
    fmt: str,
    *,
    level: int,
    threads: int,
    mtime: int,
    report: Reporter,
    total: int,
    sizes: Sequence[int],
) -> None:
    """Pack conda-pack's `files` of `prefix` into `handle` as one `fmt` stream (files in
    the order given, then what ``Packer.finish`` adds). An error of a compressor thread is
    raised here (the first one)."""
    from conda_pack.core import Packer

    thread_errors: list[BaseException] = []
    try:
        with (
            _thread_errors_kept(thread_errors),
            _archive(handle, fmt, level, threads, mtime) as arc,
        ):
            watch = PrefixWatch(arc, prefix)
            packer = Packer(prefix, watch)
            done = reported = 0
            for file, size in zip(files, sizes, strict=True):
                packer.add(file)
                done += size
                if done - reported >= _REPORT_EVERY:
                    report("pack", done, total, "bytes")
                    reported = done
            watch.prune(packer)
            packer.finish()
    except OSError:
        if thread_errors:
            raise thread_errors[0] from None
        raise
    if thread_errors:
        raise thread_errors[0]


@contextlib.contextmanager
def _thread_errors_kept(errors: list[BaseException]) -> Iterator[None]:
    """Keep the exceptions of conda-pack's compressor threads (a full disk fails there first)
    instead of letting Python print their tracebacks; the packing then fails with the first.
    Only threads started here are concerned; others keep the previous hook."""
    import threading

    previous = threading.excepthook
    started = set(threading.enumerate())

    def keep(args: threading.ExceptHookArgs) -> None:
        if args.thread is not None and args.thread not in started and args.exc_value is not None:
            errors.append(args.exc_value)
        else:
            previous(args)

    threading.excepthook = keep
    try:
        yield
    finally:
        threading.excepthook = previous


@contextlib.contextmanager
def _archive(handle: IO[bytes], fmt: str, level: int, threads: int, mtime: int) -> Iterator[Any]:
    """conda-pack's tar writer over the compressor for `fmt`, with our level and threads
    for zstd too, and normalised members (see `_tar_archive_class`)."""
    from conda_pack.formats import (
        ParallelBZ2FileWriter,
        ParallelGzipFileWriter,
        ParallelZstdFileWriter,
    )

    fileobj: Any
    close = True
    # The parallel writers with at least one thread for every thread count: the same bytes
    # on a machine with another number of cores (gzip.GzipFile, bz2.BZ2File and zstd's
    # threads=0 each write other bytes). No file name and mtime 0 in the gzip header.
    threads = max(1, threads)
    if fmt == "tar.gz":
        fileobj = ParallelGzipFileWriter(handle, compresslevel=level, n_threads=threads, mtime=0)
    elif fmt == "tar.bz2":
        fileobj = ParallelBZ2FileWriter(handle, compresslevel=level, n_threads=threads)
    elif fmt == "tar.zst":
        fileobj = ParallelZstdFileWriter(handle, compresslevel=level, n_threads=threads)
    else:
        fileobj, close = handle, False
    with _tar_archive_class()(fileobj, "", close_file=close, mode="w", mtime=mtime) as arc:
        yield arc


def _tar_archive_class() -> Any:
    from conda_pack.formats import TarArchive

    class NormalisedTarArchive(TarArchive):  # type: ignore[misc]
        """Members as the same lock always gives them: mtime `self.mtime`, owner 0/0 without
        names (conda-pack sorts nothing: `pack_prefix` passes the files sorted). A .pyc
        checked by timestamp names the mtime of its source: when it names the source's
        current one, it is made to name `self.mtime`, so it stays valid where unpacked
        (no compiling again, none possible in a read-only folder)."""

        def _add(self, source: str, target: str) -> None:
            info = normalised(self.archive.gettarinfo(source, target), self.mtime)
            if not info.isreg():
                self.archive.addfile(info)
            elif target.endswith(".pyc"):
                with open(source, "rb") as handle:
                    self._add_bytes(source, handle.read(), target, info)
            else:
                with open(source, "rb") as handle:
                    self.archive.addfile(info, handle)

        def _add_bytes(
            self,
            source: str,
            sourcebytes: bytes,
            target: str,
            info: tarfile.TarInfo | None = None,
        ) -> None:
            if info is None:
                info = normalised(self.archive.gettarinfo(source, target), self.mtime)
            if target.endswith(".pyc"):
                sourcebytes = pyc_with_mtime(source, sourcebytes, int(self.mtime))
            info.size = len(sourcebytes)
            self.archive.addfile(info, io.BytesIO(sourcebytes))

    return NormalisedTarArchive
