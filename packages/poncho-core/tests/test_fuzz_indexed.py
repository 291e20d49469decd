"""Fuzzing extraction by the index (hypothesis): an indexed tarball damaged as bytes (flips
anywhere, more of them in the index member and the footer, truncation, garbage after it),
or whose index document is damaged before it is compressed (so that it still decompresses
and may still parse), goes the way poncho-run takes it (`read_index`, then
`extract_indexed`, or `extract` when no index is found). Each run must:

- refuse cleanly (an `ArchiveError`: `BadIndex`, `UnsafeArchive`, `UnsupportedArchive`,
  `UnpackError`), or give exactly the tree of the undamaged archive;
- never raise anything else, never write outside its folder.

The short profile runs a few dozen derandomized cases; ``PONCHO_FUZZ=long`` runs
``PONCHO_FUZZ_EXAMPLES`` (default 2,000) random ones.
"""

from __future__ import annotations

import functools
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poncho_core.errors import ArchiveError
from poncho_core.extract import extract
from poncho_core.extract_indexed import extract_indexed
from poncho_core.tarindex import GZIP_FOOTER, TarIndex, read_index
from poncho_testing.tars import make_indexed_tar, member

LONG = os.environ.get("PONCHO_FUZZ") == "long"
EXAMPLES = int(os.environ.get("PONCHO_FUZZ_EXAMPLES", "2000")) if LONG else 40

GROUPS = [
    [
        member("bin", kind=tarfile.DIRTYPE, mode=0o755),
        member("bin/python", b"#!/bin/sh\n" * 40, mode=0o755),
        member("bin/python3", kind=tarfile.SYMTYPE, linkname="python"),
    ],
    [
        member("lib/a.py", b"a = 1\n" * 300),
        member("lib/b.py", kind=tarfile.LNKTYPE, linkname="bin/python"),
        member("lib/up", kind=tarfile.SYMTYPE, linkname=".."),
    ],
    [member(f"share/{i}.txt", b"%d\n" % i * i) for i in range(12)],
]


@functools.cache
def good() -> tuple[bytes, bytes, dict[str, object]]:
    """The valid archive, its index document and the tree it gives."""
    documents: list[bytes] = []

    def keep(index: TarIndex) -> TarIndex:
        documents.append(index.to_json())
        return index

    with tempfile.TemporaryDirectory() as temp:
        archive = make_indexed_tar(Path(temp, "good.tar.gz"), GROUPS, edit=keep)
        Path(temp, "tree").mkdir()
        extract(archive, Path(temp, "tree"))
        return archive.read_bytes(), documents[0], _tree(Path(temp, "tree"))


def _tree(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = (path.stat().st_mode, path.read_bytes())
    return found


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes | None, bytes | None]:
    """How the archive is damaged: (what, its bytes, None) or ("index", None, its index
    document)."""
    data_good, document_good, _ = good()
    rnd = draw(st.randoms(use_true_random=True))  # positions spread over the whole file
    if draw(st.booleans()):
        document = bytearray(document_good)
        for _ in range(draw(st.integers(1, 3))):
            at = rnd.randrange(len(document))
            document[at] = (
                draw(st.sampled_from(b'0123456789"{}[],:aefilnrstu \\'))
                if draw(st.booleans())
                else document[at] ^ draw(st.integers(1, 255))
            )
        return "index", None, bytes(document)
    data = bytearray(data_good)
    what = draw(st.sampled_from(["flip", "flip", "flip end", "flip end", "truncate", "garbage"]))
    if what == "truncate":
        return what, bytes(data[: draw(st.integers(0, len(data) - 1))]), None
    if what == "garbage":
        return what, bytes(data) + draw(st.binary(min_size=1, max_size=200)), None
    start = len(data) - GZIP_FOOTER - 400 if what == "flip end" else 0
    for _ in range(draw(st.integers(1, 3))):
        at = rnd.randrange(max(start, 0), len(data))
        data[at] ^= draw(st.integers(1, 255))
    return what, bytes(data), None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=damaged(), workers=st.sampled_from([1, 2]))
def test_a_damaged_indexed_tarball_is_refused_or_extracted_right(
    tmp_path: Path, case: tuple[str, bytes | None, bytes | None], workers: int
) -> None:
    what, data, document = case
    box = Path(tempfile.mkdtemp(dir=tmp_path))
    archive = box / "env.tar.gz"
    if document is not None:
        make_indexed_tar(archive, GROUPS, edit=lambda index: document)
    else:
        assert data is not None
        archive.write_bytes(data)
    dest = box / "dest"
    dest.mkdir()
    (box / "outside.txt").write_text("untouched")
    try:
        index = read_index(archive)
        if index is None:
            extract(archive, dest)
        else:
            extract_indexed(archive, dest, index, workers=workers)
    except ArchiveError:
        pass
    else:
        assert _tree(dest) == good()[2], what
    assert sorted(p.name for p in box.iterdir()) == ["dest", "env.tar.gz", "outside.txt"]
    assert (box / "outside.txt").read_text() == "untouched"
    for path in dest.rglob("*"):
        if path.is_symlink():
            resolved = path.resolve()
            assert resolved == dest.resolve() or dest.resolve() in resolved.parents
    shutil.rmtree(box)


def test_the_fuzzer_starts_from_an_archive_read_by_its_index(tmp_path: Path) -> None:
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(good()[0])
    index = read_index(archive)
    assert index is not None
    (tmp_path / "dest").mkdir()
    extract_indexed(archive, tmp_path / "dest", index)
    assert _tree(tmp_path / "dest") == good()[2]
