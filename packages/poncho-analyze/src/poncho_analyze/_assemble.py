"""The spec under construction: each chosen package as a requirement, with its decision.

A package found installed is pinned as its record says (``name=version`` for conda,
``Name==version`` for pip), or becomes its source folder when it was installed from one,
or its direct reference (``Name @ git+URL@COMMIT``) when it came from a repository or a
URL that is not an index's;
a package named by the user (``--pkg-mapping``, ``--extra-pkg``, PEP 723) is pinned when
it is installed and plain, else kept as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from poncho_analyze.errors import AnalyzeError
from poncho_analyze.mapping import Environment, Mapper, Owner, canonical_name
from poncho_analyze.specgen import Decision, SpecBuilder
from poncho_spec import Spec, matchspec

__all__ = ["Assembly", "python_request", "relative"]

_EXACT_VERSION = re.compile(r"^(?:==?)?\s*(3\.\d+(?:\.\d+)?)$")


def _conda_name(spec: str) -> tuple[str, str]:
    """The package name of a conda match spec and what follows it."""
    parts = matchspec.split(spec)
    return (parts[1], parts[2]) if parts else (spec.strip().lower(), "")


def python_request(extra_pkgs: Sequence[str], python_version: str | None) -> str | None:
    """The target Python that *extra_pkgs* ask for with ``conda:python=X.Y[.Z]``, which
    is then the same as ``--python X.Y[.Z]``; else *python_version*.  Raises AnalyzeError
    when the two disagree, or for a pip requirement on ``python`` (not a pip package)."""
    for extra in extra_pkgs:
        kind, _, rest = extra.partition(":")
        if kind not in ("conda", "pip"):
            kind, rest = "", extra
        name, constraint = _conda_name(rest)
        if name != "python":
            continue
        if kind != "conda" and constraint:
            raise AnalyzeError(
                f"--extra-pkg {extra}: Python is not a pip package; write "
                "conda:python=X.Y or --python X.Y"
            )
        exact = _EXACT_VERSION.match(constraint)
        if kind != "conda" or exact is None:
            continue  # a range (conda:python>=3.10) is written as given
        asked = exact.group(1)
        if python_version is not None:
            short, long = sorted((python_version.split("."), asked.split(".")), key=len)
            if long[: len(short)] != short:
                raise AnalyzeError(
                    f"--extra-pkg {extra} and --python {python_version} ask for two "
                    "Pythons: give one of them"
                )
            asked = ".".join(long)
        python_version = asked
    return python_version


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
                canonical_name(owner.name), requirement, written=bool(owner.source or owner.direct)
            )
        return requirement

    def named(self, module: str, text: str, how: str, where: tuple[str, ...] = ()) -> Decision:
        """Add a package given by name (--pkg-mapping, --extra-pkg): ``NAME``,
        ``conda:SPEC`` or ``pip:SPEC`` / a pip requirement with a version.  Returns the
        decision, which the caller records."""
        if text.startswith("conda:"):
            spec = text[len("conda:") :].strip()
            name, constraint = _conda_name(spec)
            if name == "python" and constraint:  # python_request made it the target
                self.python_spec = spec
                self.builder.written = True
                return Decision(module, "conda", spec, f"{how}, as written: the spec's Python")
            if name == "python":
                return Decision(module, "conda", "python", f"{how}; the spec's Python, as pinned")
            name = matchspec.package_name(spec) or spec  # an invalid one: the spec says why
            self.builder.add_conda(name, spec, written=True)
            return Decision(module, "conda", spec, f"{how}, as written", where)
        forced = text.startswith("pip:")
        if forced:
            text = text[len("pip:") :].strip()
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise AnalyzeError(
                f"{how}: {text!r} is not a package name or pip requirement ({exc}); "
                "write conda:SPEC for a conda match spec"
            ) from None
        if canonical_name(req.name) == "python":
            owner = self.mapper.conda_package("python")
            pinned = owner.requirement() if owner is not None else "python"
            return Decision(module, "conda", pinned, f"{how}; the spec's Python, pinned anyway")
        # pip:NAME asks for the pip distribution even when conda installed the package.
        owner = self.mapper.by_name(req.name, "pip" if forced else None)
        plain = not (req.specifier or req.url or req.marker)
        if owner is not None and plain:
            requirement = self.take(owner, sorted(req.extras))
            return Decision(module, owner.kind, requirement, f"{how}; {owner.evidence}", where)
        conda = self.mapper.conda_package(req.name) if forced and plain else None
        if conda is not None:
            requirement = f"{req}=={conda.version}"
            self.builder.add_pip(canonical_name(req.name), requirement, written=True)
            reason = f"{how}; pinned to the version conda installed ({conda.evidence})"
            return Decision(module, "pip", requirement, reason, where)
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
