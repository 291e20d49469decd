"""The spec under construction: each chosen package as a requirement, with its decision.

A package found installed is pinned as its record says (``name=version`` for conda,
``Name==version`` for pip), or becomes its source folder when it was installed from one;
a package named by the user (``--pkg-mapping``, ``--extra-pkg``, PEP 723) is pinned when
it is installed and plain, else kept as written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from poncho_analyze.errors import AnalyzeError
from poncho_analyze.mapping import Environment, Mapper, Owner, canonical_name
from poncho_analyze.specgen import Decision, SpecBuilder
from poncho_spec import Spec, matchspec

__all__ = ["Assembly", "relative"]


class Assembly:
    """The requirements chosen so far, the decisions behind them and the notices."""

    def __init__(self, mapper: Mapper, target: tuple[int, int], python_full: str) -> None:
        self.mapper = mapper
        self.target = target
        self.python_full = python_full
        """The target Python as given (``3.11`` or ``3.11.7``)."""
        self.builds = False
        """Whether conda packages are pinned with their build string."""
        self.builder = SpecBuilder()
        self.decisions: list[Decision] = []
        self.spec_dir: Path | None = Path.cwd()
        """Where the spec is written (source folders are relative to it); None: absolute."""
        self.notices: list[str] = []
        self.python_spec = ""
        """The ``python`` entry that PEP 723 ``requires-python`` chose, if any."""

    def take(self, owner: Owner, extras: Sequence[str] = ()) -> str:
        """Add the installed *owner* to the spec; returns its requirement."""
        requirement = owner.requirement(build=self.builds, extras=extras)
        if owner.source:
            requirement = relative(owner.source, self.spec_dir)
        if owner.kind == "conda":
            self.builder.add_conda(owner.name, requirement, owner.channel)
        else:
            self.builder.add_pip(
                canonical_name(owner.name), requirement, written=bool(owner.source)
            )
        return requirement

    def named(self, module: str, text: str, how: str, where: tuple[str, ...] = ()) -> Decision:
        """Add a package given by name (--pkg-mapping, --extra-pkg): ``NAME``,
        ``conda:SPEC`` or ``pip:SPEC`` / a pip requirement with a version.  Returns the
        decision, which the caller records."""
        if text.startswith("conda:"):
            spec = text[len("conda:") :].strip()
            name = matchspec.package_name(spec) or spec  # an invalid one: the spec says why
            self.builder.add_conda(name, spec, written=True)
            return Decision(module, "conda", spec, f"{how}, as written", where)
        if text.startswith("pip:"):
            text = text[len("pip:") :].strip()
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise AnalyzeError(
                f"{how}: {text!r} is not a package name or pip requirement ({exc}); "
                "write conda:SPEC for a conda match spec"
            ) from None
        owner = self.mapper.by_name(req.name)
        plain = not (req.specifier or req.url or req.marker)
        if owner is not None and plain:
            requirement = self.take(owner, sorted(req.extras))
            return Decision(module, owner.kind, requirement, f"{how}; {owner.evidence}", where)
        self.builder.add_pip(canonical_name(req.name), str(req), written=True)
        reason = f"{how}, as written" if not plain else f"{how}; not installed, unpinned"
        return Decision(module, "pip", str(req), reason, where)

    def spec(
        self,
        env: Environment,
        python_version: str | None,
        channels: Sequence[str] | None,
        python_owner: Owner | None,
    ) -> Spec:
        """The validated spec: ``python`` (as PEP 723 chose it, as *python_version*
        asks, or as installed), the requirements, ``pip`` as installed."""
        if self.python_spec:
            python = self.python_spec
        elif python_version:
            python = f"python={python_version}"
        elif python_owner is not None:
            python = python_owner.requirement(build=self.builds)
            self.builder.add_conda("python", python, python_owner.channel)
        else:
            python = f"python={env.python_version}"
        pip_owner = self.mapper.conda_package("pip")
        pip = pip_owner.requirement(build=self.builds) if pip_owner is not None else "pip"
        return self.builder.build(python, pip, channels)


def relative(folder: str, spec_dir: Path | None) -> str:
    """*folder* relative to the spec's folder (``./mylib``, ``../libs/x``), as
    poncho-create reads it; absolute without a folder or on another root."""
    if spec_dir is None:
        return folder
    try:
        rel = os.path.relpath(folder, spec_dir)
    except ValueError:
        return folder
    if rel == ".":
        return "."
    return rel if rel.startswith("..") else f"./{rel}"
