"""``analyze()``: scripts in, a pinned spec and the decisions behind it out.

The pipeline, each step in its own module: read the scripts (:mod:`~poncho_analyze.sources`),
choose the target Python (``--python``, PEP 723, the inspected interpreter), find each
script's imports (:mod:`~poncho_analyze._scan`), decide what each becomes
(:mod:`~poncho_analyze._resolve`), tell what was left out
(:mod:`~poncho_analyze._notices`) and assemble the spec
(:mod:`~poncho_analyze._assemble`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from poncho_analyze import _notices, _pep723, _scan
from poncho_analyze._assemble import Assembly, python_request
from poncho_analyze._conditions import Target
from poncho_analyze._local import Locals
from poncho_analyze._resolve import Resolver
from poncho_analyze.errors import AnalyzeError, ParseFailed
from poncho_analyze.mapping import Environment, Mapper
from poncho_analyze.sources import STDIN, Script, read_script
from poncho_analyze.specgen import Decision
from poncho_analyze.stdlib import parse_version, stdlib_modules
from poncho_spec import Spec

__all__ = ["Analysis", "analyze"]


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyze`: the spec, one decision per import/package, and the
    messages for the user (one per kind of thing left out, each possibly several lines)."""

    spec: Spec
    decisions: list[Decision]
    notices: tuple[str, ...] = ()
    """What was left out on purpose (the scripts' own code), for the user to know."""
    warnings: tuple[str, ...] = ()
    """What was left out for want of a package (imports nothing installed provides)."""


def analyze(
    scripts: Sequence[str | os.PathLike[str]],
    *,
    toplevel: bool = False,
    function: str | None = None,
    pkg_mapping: Mapping[str, str] | None = None,
    extra_pkgs: Sequence[str] = (),
    python_version: str | None = None,
    channels: Sequence[str] | None = None,
    allow_local: bool = False,
    build_strings: bool = False,
    environment: Environment | None = None,
    stdin: TextIO | None = None,
    strict: bool = False,
    spec_path: str | os.PathLike[str] | None = None,
) -> Analysis:
    """Find the imports of *scripts* and map them to the installed packages.

    *scripts* are ``.py`` files, ``.ipynb`` notebooks or ``"-"`` (stdin).  *pkg_mapping*
    maps an import name (``yaml``, or dotted ``google.protobuf``) to a package name or
    requirement (``conda:SPEC`` / ``pip:SPEC`` force the kind); *extra_pkgs* are added
    as if imported.  *python_version* (``X.Y`` or ``X.Y.Z``) targets another Python: its
    standard library is left out and ``python=`` is pinned to it.  *channels* come first
    in the spec's channels, before those the conda packages came from.  *environment*
    is the environment to inspect (default: the running interpreter's).  A project
    installed from a local folder (``pip install -e ./mylib``) becomes that folder,
    written relative to the folder of *spec_path* (the spec file to be written; default:
    the current folder; ``"-"``, standard output: absolute).

    The scripts' own code (relative imports, modules beside a script, modules and
    folders of its project) and imports that nothing installed provides are left out of
    the spec and reported in :attr:`Analysis.notices` and :attr:`Analysis.warnings`.
    With *strict* they are errors instead (:class:`LocalImports` unless *allow_local*,
    :class:`UnresolvedImports`).

    Raises :class:`FunctionNotFound`, :class:`ScriptMetadataError`, :class:`ParseFailed`,
    other :class:`AnalyzeError` subclasses (their ``decisions`` tell what was decided
    before the failure), or ``poncho_spec.InvalidSpec``.
    """
    if toplevel and function:
        raise AnalyzeError("toplevel and function exclude each other")
    if not scripts:
        raise AnalyzeError("no script to analyze")
    if [os.fspath(s) for s in scripts].count(STDIN) > 1:
        raise AnalyzeError("stdin ('-') can be read only once")
    python_version = python_request(extra_pkgs, python_version)
    env = environment or Environment.current()
    mapper = Mapper(env)
    python_owner = mapper.conda_package("python")
    running = python_owner.version if python_owner is not None else env.python_version
    loaded = [read_script(s, stdin=stdin) for s in scripts]
    work, stdlib = _target(mapper, loaded, python_version, running)
    work.builds = build_strings
    if spec_path is not None:
        # a spec on stdout may be saved anywhere: absolute paths then
        stdout = os.fspath(spec_path) == STDIN
        work.spec_dir = None if stdout else Path(spec_path).absolute().parent
    try:
        warnings = _run(
            work,
            loaded,
            stdlib,
            toplevel=toplevel,
            function=function,
            pkg_mapping=pkg_mapping,
            extra_pkgs=extra_pkgs,
            allow_local=allow_local,
            strict=strict,
        )
        spec = work.spec(env, python_version, channels, python_owner)
    except AnalyzeError as exc:
        exc.decisions = tuple(sorted(work.decisions))
        raise
    return Analysis(spec, sorted(work.decisions), tuple(work.notices), warnings)


def _target(
    mapper: Mapper, loaded: list[Script], python_version: str | None, running: str
) -> tuple[Assembly, frozenset[str]]:
    """The spec to assemble for the target Python (PEP 723's ``requires-python``, else
    *python_version*, else the inspected one, *running*), and the target's standard
    library."""
    env = mapper.env
    chosen = _pep723.script_python(loaded, python_version, running)
    try:
        base_version = parse_version(env.python_version)
        if chosen is not None:
            target = chosen[0]
        else:
            target = parse_version(python_version) if python_version else parse_version(running)
        stdlib = stdlib_modules(target, base=env.stdlib or None, base_version=base_version)
    except ValueError as exc:
        raise AnalyzeError(f"--python: {exc}") from None
    python_full = (python_version or running) if chosen is None else f"{target[0]}.{target[1]}"
    work = Assembly(mapper, target, python_full)
    if chosen is not None:
        work.python_spec = chosen[1]
        work.decisions.append(Decision("python", "conda", chosen[1], chosen[2]))
        work.notices.append(chosen[2])
    return work, stdlib


def _run(
    work: Assembly,
    loaded: list[Script],
    stdlib: frozenset[str],
    *,
    toplevel: bool,
    function: str | None,
    pkg_mapping: Mapping[str, str] | None,
    extra_pkgs: Sequence[str],
    allow_local: bool,
    strict: bool,
) -> tuple[str, ...]:
    """Decide for every import and requested package; returns the warnings."""
    version = tuple(int(p) for p in work.python_full.split(".")[:3] if p.isdigit())
    conditions = Target(version)
    failures: list[ParseFailed] = []
    # Without strict, a script that does not parse is read as well as can be, and said.
    recovered: list[ParseFailed] | None = None if strict else []
    found = _scan.scan(
        loaded,
        toplevel=toplevel,
        fast=True,
        target=conditions,
        failures=failures,
        recovered=recovered,
    )
    imports = _scan.select(loaded, found, function, conditions, recover=not strict)
    work.decisions.extend(_scan.side_decisions(found, function))
    locals_ = Locals(loaded)
    resolver = Resolver(work, stdlib, conditions, locals_, pkg_mapping)
    resolver.run(imports)
    work.decisions.extend(resolver.decided.values())
    if failures:
        raise failures[0]
    warnings = [_notices.unparsable_warning(exc, work.python_full) for exc in recovered or ()]
    if locals_.found:
        if strict and not allow_local:
            raise _notices.local_error(locals_.found)
        work.notices.append(_notices.local_notice(locals_.found))
    if resolver.unresolved:
        if strict:
            raise _notices.unresolved_error(resolver.unresolved)
        warnings.append(_notices.unresolved_warning(resolver.unresolved))
    for extra in extra_pkgs:
        work.decisions.append(work.named(extra, extra, f"--extra-pkg {extra}"))
    for script in loaded:
        if script.metadata is not None:
            _pep723.pin_dependencies(work, script.metadata)
    return tuple(warnings)
