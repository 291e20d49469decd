"""PEP 723 ``requires-python`` as the script's own choice of Python."""

from __future__ import annotations

from collections.abc import Iterable

from poncho_analyze.stdlib import MAX_VERSION, MIN_VERSION

__all__ = ["choose_python"]

_PATCHES = 40  # patch releases looked at for a bound like >=3.12.2


def choose_python(specifiers: Iterable[str]) -> tuple[tuple[int, int], str] | None:
    """The oldest Python (``MIN_VERSION`` ... ``MAX_VERSION``) that every specifier
    allows, with its conda spec: ``python=3.12``, or ``python>=3.12.2,<3.13`` when the
    first patch releases are excluded.  None when no version fits."""
    from packaging.specifiers import SpecifierSet

    allowed = SpecifierSet()
    for text in specifiers:
        allowed &= SpecifierSet(text)
    for minor in range(MIN_VERSION[1], MAX_VERSION[1] + 1):
        ok = [p for p in range(_PATCHES) if allowed.contains(f"3.{minor}.{p}", prereleases=True)]
        if not ok:
            continue
        if ok == list(range(_PATCHES)):
            return (3, minor), f"python=3.{minor}"
        low = ok[0]
        if ok == list(range(low, _PATCHES)):
            return (3, minor), f"python>=3.{minor}.{low},<3.{minor + 1}"
        return (3, minor), f"python=3.{minor}.{low}"
    return None
