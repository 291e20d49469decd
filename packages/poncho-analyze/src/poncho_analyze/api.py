"""``analyze()``: scripts in, a pinned spec and the decisions behind it out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from poncho_analyze import _hop, _local, _pep723
from poncho_analyze._conditions import Target
from poncho_analyze._syntax import check_syntax
from poncho_analyze.errors import (
    AnalyzeError,
    FunctionNotFound,
    LocalImports,
    ParseFailed,
    ScriptMetadataError,
    UnresolvedImports,
)
from poncho_analyze.imports import FileImports, Import, find_imports, matches_function, scan_files
from poncho_analyze.mapping import Environment, Mapper, Owner, canonical_name
from poncho_analyze.sources import STDIN, Script, read_script
from poncho_analyze.specgen import Decision, SpecBuilder
from poncho_analyze.stdlib import change_note, parse_version, stdlib_modules
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


def _scan(
    scripts: list[Script],
    toplevel: bool,
    fast: bool,
    target: Target,
    failures: list[ParseFailed] | None = None,
) -> list[FileImports]:
    """The imports of each script; a script that does not parse for the target is
    reported in *failures* (raised at once without it) and counts as importing nothing."""
    files = [s.path for s in scripts if s.path != "<stdin>"]
    by_path: dict[str, FileImports] = {}
    if len(files) >= 2:  # many files: maybe in parallel; on a failure, one by one below
        try:
            by_path = scan_files(files, toplevel=toplevel, fast=fast, target=target)
        except ParseFailed:
            by_path = {}
    out = []
    for script in scripts:
        try:
            out.append(_scan_one(script, by_path.get(script.path), toplevel, fast, target))
        except ParseFailed as exc:
            if failures is None:
                raise
            failures.append(exc)
            out.append(FileImports())
    return out


def _scan_one(
    script: Script, found: FileImports | None, toplevel: bool, fast: bool, target: Target
) -> FileImports:
    result = FileImports()
    for cell, text in script.cells:
        where = script.path if cell is None else f"{script.path}:cell {cell}"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        tree = check_syntax(text, where, target.version)
        if found is None:
            part = find_imports(
                text,
                path=script.path,
                cell=cell,
                toplevel=toplevel,
                fast=fast,
                target=target,
                tree=tree,
            )
            result = result.merged(part)
    return found if found is not None else result


def _select_function(
    scripts: list[Script], found: list[FileImports], function: str, target: Target
) -> list[Import]:
    def defined(results: list[FileImports]) -> bool:
        return any(matches_function(s, function) for r in results for s in r.functions)

    if not defined(found):  # fast mode meets only functions that import: look closer
        found = _scan(scripts, toplevel=False, fast=False, target=target)
        if not defined(found):
            names = ", ".join(s.path for s in scripts)
            raise FunctionNotFound(f"function {function!r} is not defined in {names}")
    return [i for r in found for i in r.imports if matches_function(i.scope, function)]


class _Analyzer:
    def __init__(
        self,
        mapper: Mapper,
        target: tuple[int, int],
        python_full: str,
        builds: bool,
        stdlib: frozenset[str],
    ) -> None:
        self.mapper = mapper
        self.target = target
        self.python_full = python_full
        self.builds = builds
        self.stdlib = stdlib
        self.builder = SpecBuilder()
        self.decisions: list[Decision] = []
        self.spec_dir: Path | None = Path.cwd()
        self.notices: list[str] = []
        self.python_spec = ""

    def take(self, owner: Owner, extras: Sequence[str] = ()) -> str:
        requirement = owner.requirement(build=self.builds, extras=extras)
        if owner.source:
            requirement = _relative(owner.source, self.spec_dir)
        if owner.kind == "conda":
            self.builder.add_conda(owner.name, requirement, owner.channel)
        else:
            self.builder.add_pip(
                canonical_name(owner.name), requirement, written=bool(owner.source)
            )
        return requirement

    def named(self, module: str, text: str, how: str, where: tuple[str, ...] = ()) -> None:
        """A package given by name (--pkg-mapping, --extra-pkg): ``NAME``,
        ``conda:SPEC`` or ``pip:SPEC`` / a pip requirement with a version."""
        if text.startswith("conda:"):
            spec = text[len("conda:") :].strip()
            name = spec.split("::")[-1].split("=")[0].split()[0].split("[")[0]
            self.builder.add_conda(name, spec, written=True)
            self.decisions.append(Decision(module, "conda", spec, f"{how}, as written", where))
            return
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
            self.decisions.append(
                Decision(module, owner.kind, requirement, f"{how}; {owner.evidence}", where)
            )
            return
        self.builder.add_pip(canonical_name(req.name), str(req), written=True)
        reason = f"{how}, as written" if not plain else f"{how}; not installed, unpinned"
        self.decisions.append(Decision(module, "pip", str(req), reason, where))

    def metadata(self, script: Script) -> None:
        """The PEP 723 dependencies of *script*: pinned as installed when that satisfies
        them, else as the script writes them (with a notice)."""
        meta = script.metadata
        if meta is None:
            return
        from packaging.markers import default_environment
        from packaging.requirements import Requirement

        full = self.python_full if self.python_full.count(".") == 2 else f"{self.python_full}.0"
        env = {key: str(value) for key, value in default_environment().items()}
        env["python_version"] = f"{self.target[0]}.{self.target[1]}"
        env["python_full_version"] = full
        for text in meta.dependencies:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):  # type: ignore[arg-type,unused-ignore]
                continue
            req.marker = None
            owner = self.mapper.by_name(req.name)
            how = f"PEP 723 metadata of {meta.path}"
            if owner is not None and not (
                req.specifier and not req.specifier.contains(owner.version, prereleases=True)
            ):
                requirement = self.take(owner, sorted(req.extras))
                self.decisions.append(
                    Decision(
                        req.name, owner.kind, requirement, f"{how}; installed: {owner.evidence}"
                    )
                )
                continue
            if owner is None:
                reason = f"{how}; not installed, as written"
            else:
                reason = (
                    f"{how}; the installed {owner.name} {owner.version} does not satisfy it, "
                    "as written"
                )
                self.builder.conda.pop(owner.name.lower(), None)
                self.notices.append(
                    f"{meta.path} needs {req}, but {owner.name} {owner.version} is installed: "
                    f"the spec asks for {req} as the script writes it"
                )
            self.builder.add_pip(canonical_name(req.name), str(req), written=True)
            self.decisions.append(Decision(req.name, "pip", str(req), reason))


def _relative(folder: str, spec_dir: Path | None) -> str:
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


def _local_message(local: Mapping[str, list[Import]]) -> str:
    lines = [
        "modules beside the scripts are not packages (use --allow-local to leave them "
        "out of the spec knowingly):"
    ]
    for module in sorted(local):
        places = ", ".join(sorted({i.location for i in local[module]}))
        kind = "relative import" if module.startswith(".") else "local module"
        lines.append(f"  {module} ({kind}, imported at {places})")
    return "\n".join(lines)


def _local_notice(local: Mapping[str, tuple[str, list[Import]]]) -> str:
    lines = ["left out of the spec, the scripts' own code (it must travel with the task):"]
    for module in sorted(local):
        what, places = local[module]
        where = ", ".join(sorted({i.location for i in places}))
        lines.append(f"  {module} ({what}, imported at {where})")
    return "\n".join(lines)


def _unresolved_warning(unresolved: Mapping[str, tuple[str, list[Import]]]) -> str:
    return _unresolved_text(
        unresolved,
        "left out of the spec, imports that no installed package provides:",
        "if the task needs them: install the package in the inspected environment and run "
        "again, name it with --pkg-mapping IMPORT=NAME, or add it with --extra-pkg NAME",
    )


class _Locals:
    """The imports found to be the scripts' own code, with what says so."""

    def __init__(self, scripts: list[Script]) -> None:
        _local.forget()
        self.folders = {s.path: s.directory for s in scripts}
        self.found: dict[str, tuple[str, list[Import]]] = {}
        self.tops: set[str] = set()

    def add(self, module: str, what: str, imp: Import) -> None:
        self.found.setdefault(module, (what, []))[1].append(imp)
        self.tops.add(imp.top)

    def shadowing(self, imp: Import) -> bool:
        """Relative imports and modules beside the script (they win over installed ones)."""
        if imp.level:
            self.add(imp.display, "relative import", imp)
            return True
        folder = self.folders.get(imp.path, Path.cwd())
        sibling = _local.shadowing_sibling(imp.top, folder)
        if sibling is None:
            return False
        self.add(imp.top, f"local module {sibling}", imp)
        return True

    def project(self, top: str, imports: list[Import]) -> bool:
        """Imports nothing installed provides, found among the project's own files."""
        for imp in imports:
            folder = self.folders.get(imp.path, Path.cwd())
            where = _local.provided_by_project(top, _local.project_roots(folder))
            if where is not None:
                for each in imports:
                    self.add(top, f"project code {where}", each)
                return True
        return False


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
    env = environment or Environment.current()
    mapper = Mapper(env)
    python_owner = mapper.conda_package("python")
    running = python_owner.version if python_owner is not None else env.python_version
    loaded = [read_script(s, stdin=stdin) for s in scripts]
    chosen = _script_python(loaded, python_version, running)
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
    work = _Analyzer(mapper, target, python_full, build_strings, stdlib)
    if spec_path is not None:
        # a spec on stdout may be saved anywhere: absolute paths then
        stdout = os.fspath(spec_path) == STDIN
        work.spec_dir = None if stdout else Path(spec_path).absolute().parent
    if chosen is not None:
        work.python_spec = chosen[1]
        work.decisions.append(Decision("python", "conda", chosen[1], chosen[2]))
        work.notices.append(chosen[2])
    try:
        return _run(
            work,
            env,
            loaded,
            toplevel=toplevel,
            function=function,
            pkg_mapping=pkg_mapping,
            extra_pkgs=extra_pkgs,
            python_version=python_version,
            channels=channels,
            allow_local=allow_local,
            strict=strict,
            python_owner=python_owner,
        )
    except AnalyzeError as exc:
        exc.decisions = tuple(sorted(work.decisions))
        raise


def _script_python(
    scripts: list[Script], python_version: str | None, running: str
) -> tuple[tuple[int, int], str, str] | None:
    """The Python that the scripts' PEP 723 ``requires-python`` chooses when the inspected
    one does not satisfy it: ``(target, conda spec, why)``; None when it does."""
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
    chosen = _pep723.choose_python(t for _, t in wanted)
    if chosen is None:
        raise ScriptMetadataError(f"no Python from 3.8 to 3.14 satisfies requires-python {said}")
    return (
        *chosen,
        f"requires-python {said} chooses {chosen[1]}: the inspected Python "
        f"{running} does not satisfy it (its packages are pinned as installed there)",
    )


def _run(
    work: _Analyzer,
    env: Environment,
    loaded: list[Script],
    *,
    toplevel: bool,
    function: str | None,
    pkg_mapping: Mapping[str, str] | None,
    extra_pkgs: Sequence[str],
    python_version: str | None,
    channels: Sequence[str] | None,
    allow_local: bool,
    strict: bool,
    python_owner: Owner | None,
) -> Analysis:
    mapper, target, stdlib = work.mapper, work.target, work.stdlib
    notices = work.notices
    warnings: list[str] = []
    version = tuple(int(p) for p in work.python_full.split(".")[:3] if p.isdigit())
    conditions = Target(version)
    failures: list[ParseFailed] = []
    found = _scan(loaded, toplevel=toplevel, fast=True, target=conditions, failures=failures)
    if function:
        imports = _select_function(loaded, found, function, conditions)
    else:
        imports = [i for r in found for i in r.imports]
    dropped: dict[str, Decision] = {}
    for result in found:
        for imp, reason in result.dropped:
            if function and not matches_function(imp.scope, function):
                continue
            name = imp.display or imp.top
            old = dropped.get(name)
            where = tuple(sorted({imp.location, *(old.where if old else ())}))
            dropped[name] = Decision(name, "dropped", "", old.reason if old else reason, where)
    work.decisions.extend(dropped.values())
    for result in found:
        for note in result.notes:
            work.decisions.append(
                Decision(note.split(": ", 1)[0], "note", "", note.split(": ", 1)[1])
            )

    locals_ = _Locals(loaded)
    hops = _hop.Hops(mapper, stdlib, conditions)
    groups: dict[tuple[str, ...], list[Import]] = {}
    for imp in imports:
        if not locals_.shadowing(imp):
            groups.setdefault(imp.candidates, []).append(imp)
    mapping = dict(pkg_mapping or {})
    unresolved: dict[str, tuple[str, list[Import]]] = {}
    by_module: dict[str, list[Import]] = {}
    for candidates, group in groups.items():
        by_module.setdefault(candidates[-1], []).extend(group)
    decided: dict[str, Decision] = {}
    for candidates in sorted(groups):
        module = candidates[-1]
        top = module.split(".")[0]
        if top in locals_.tops:
            continue
        where = tuple(sorted({i.location for i in by_module[module]}))
        key = _mapping_key(module, mapping)
        if key is not None:
            if key not in decided:
                work.named(key, mapping[key], f"--pkg-mapping {key}={mapping[key]}", where)
                # named() records its decision; it joins the others once, from decided
                decided[key] = work.decisions.pop()
            continue
        if top in stdlib:
            decided.setdefault(
                top, Decision(top, "stdlib", "", f"Python {target[0]}.{target[1]}", where)
            )
            continue
        resolution = mapper.resolve(candidates)
        name = resolution.module
        if resolution.owner is not None:
            if name not in decided:
                requirement = work.take(resolution.owner)
                decided[name] = Decision(
                    name, resolution.owner.kind, requirement, resolution.reason, where
                )
            for hop in hops.follow(resolution.owner, candidates):
                key = f"{hop.module} -> {hop.owner.name}"
                if key not in decided:
                    requirement = work.take(hop.owner)
                    decided[key] = Decision(
                        hop.module, hop.owner.kind, requirement, hop.reason, where
                    )
            continue
        if locals_.project(
            top, [i for m, v in by_module.items() if m.split(".")[0] == top for i in v]
        ):
            continue
        if all(i.optional for i in by_module[module]):
            decided.setdefault(module, Decision(module, "optional", "", resolution.reason, where))
            continue
        hint = change_note(top, target)
        reason = f"{resolution.reason}; {hint}" if hint else resolution.reason
        unresolved.setdefault(module, (reason, by_module[module]))
        decided.setdefault(module, Decision(module, "unresolved", "", reason, where))
    hops.save()
    for module in [m for m in decided if m.split(".")[0] in locals_.tops]:
        if decided[module].outcome in ("unresolved", "optional"):
            del decided[module]  # a later import showed it is the project's
            unresolved.pop(module, None)
    for module, (what, places) in locals_.found.items():
        decided[module] = Decision(
            module, "local", "", what, tuple(sorted({i.location for i in places}))
        )
    work.decisions.extend(decided.values())
    if failures:
        raise failures[0]
    if locals_.found:
        if strict and not allow_local:
            local = {m: v for m, (_, v) in locals_.found.items()}
            pairs = [(m, i.location) for m, v in sorted(local.items()) for i in v]
            raise LocalImports(_local_message(local), pairs)
        notices.append(_local_notice(locals_.found))
    if unresolved:
        if strict:
            raise UnresolvedImports(_unresolved_message(unresolved), sorted(unresolved))
        warnings.append(_unresolved_warning(unresolved))

    for extra in extra_pkgs:
        work.named(extra, extra, f"--extra-pkg {extra}")
    for script in loaded:
        work.metadata(script)

    if work.python_spec:
        python = work.python_spec
    elif python_version:
        python = f"python={python_version}"
    elif python_owner is not None:
        python = python_owner.requirement(build=work.builds)
        work.builder.add_conda("python", python, python_owner.channel)
    else:
        python = f"python={env.python_version}"
    pip_owner = mapper.conda_package("pip")
    pip = pip_owner.requirement(build=work.builds) if pip_owner is not None else "pip"
    spec = work.builder.build(python, pip, channels)
    return Analysis(spec, sorted(work.decisions), tuple(notices), tuple(warnings))


def _mapping_key(module: str, mapping: Mapping[str, str]) -> str | None:
    best = None
    for key in mapping:
        if (module == key or module.startswith(key + ".")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return best


def _unresolved_message(unresolved: Mapping[str, tuple[str, list[Import]]]) -> str:
    return _unresolved_text(
        unresolved,
        "no installed package provides these imports:",
        "install the package providing each in this environment and run again, or name it "
        "with --pkg-mapping IMPORT=NAME",
    )


def _unresolved_text(
    unresolved: Mapping[str, tuple[str, list[Import]]], head: str, remedy: str
) -> str:
    """One line per unresolved import (where it is imported, why), between `head` and
    `remedy` (the warning by default, the error with --strict)."""
    lines = [head]
    for module in sorted(unresolved):
        reason, places = unresolved[module]
        where = ", ".join(sorted({i.location for i in places}))
        lines.append(f"  {module} (imported at {where}): {reason}")
    lines.append(remedy)
    return "\n".join(lines)
