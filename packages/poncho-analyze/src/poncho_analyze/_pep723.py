"""PEP 723 inline metadata as the script's own declaration.

``requires-python`` chooses the spec's Python when the inspected one does not satisfy
it; each dependency is pinned as installed when the installed version satisfies it, and
kept as the script writes it otherwise (with a notice).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from poncho_analyze.errors import ScriptMetadataError
from poncho_analyze.mapping import canonical_name
from poncho_analyze.specgen import Decision
from poncho_analyze.stdlib import MAX_VERSION, MIN_VERSION

if TYPE_CHECKING:
    from poncho_analyze._assemble import Assembly
    from poncho_analyze.sources import Script, ScriptMetadata

__all__ = ["choose_python", "pin_dependencies", "script_python"]

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


def script_python(
    scripts: Iterable[Script], python_version: str | None, running: str
) -> tuple[tuple[int, int], str, str] | None:
    """The Python that the scripts' ``requires-python`` chooses when the inspected one
    (*running*) does not satisfy it: ``(target, conda spec, why)``; None when it does.
    Raises ScriptMetadataError when *python_version* (``--python``) does not satisfy it,
    or no Python does."""
    wanted = [
        (s.metadata.path, s.metadata.requires_python)
        for s in scripts
        if s.metadata is not None and s.metadata.requires_python
    ]
    if not wanted:
        return None
    from packaging.specifiers import SpecifierSet

    full = python_version or running
    full = full if full.count(".") == 2 else f"{full}.0"
    for path, text in wanted:
        if python_version and not SpecifierSet(text).contains(full, prereleases=True):
            raise ScriptMetadataError(
                f"{path}: the script requires Python {text}, the target is {python_version} "
                "(use --python)"
            )
    if python_version or all(SpecifierSet(t).contains(full, prereleases=True) for _, t in wanted):
        return None
    said = ", ".join(f"{t} ({p})" for p, t in wanted)
    chosen = choose_python(t for _, t in wanted)
    if chosen is None:
        raise ScriptMetadataError(f"no Python from 3.8 to 3.14 satisfies requires-python {said}")
    return (
        *chosen,
        f"requires-python {said} chooses {chosen[1]}: the inspected Python "
        f"{running} does not satisfy it (its packages are pinned as installed there)",
    )


def pin_dependencies(work: Assembly, meta: ScriptMetadata) -> None:
    """Add the dependencies of *meta* to *work*: pinned as installed when that satisfies
    them, else as the script writes them (with a notice)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    full = work.python_full if work.python_full.count(".") == 2 else f"{work.python_full}.0"
    env = {key: str(value) for key, value in default_environment().items()}
    env["python_version"] = f"{work.target[0]}.{work.target[1]}"
    env["python_full_version"] = full
    how = f"PEP 723 metadata of {meta.path}"
    for text in meta.dependencies:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):  # type: ignore[arg-type,unused-ignore]
            continue
        req.marker = None
        owner = work.mapper.by_name(req.name)
        if owner is not None and not (
            req.specifier and not req.specifier.contains(owner.version, prereleases=True)
        ):
            requirement = work.take(owner, sorted(req.extras))
            work.decisions.append(
                Decision(req.name, owner.kind, requirement, f"{how}; installed: {owner.evidence}")
            )
            continue
        if owner is None:
            reason = f"{how}; not installed, as written"
        else:
            reason = (
                f"{how}; the installed {owner.name} {owner.version} does not satisfy it, as written"
            )
            work.builder.conda.pop(owner.name.lower(), None)
            work.notices.append(
                f"{meta.path} needs {req}, but {owner.name} {owner.version} is installed: "
                f"the spec asks for {req} as the script writes it"
            )
        work.builder.add_pip(canonical_name(req.name), str(req), written=True)
        work.decisions.append(Decision(req.name, "pip", str(req), reason))
