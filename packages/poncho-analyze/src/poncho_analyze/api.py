"""``analyze()``: scripts in, a pinned spec and the decisions behind it out."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from poncho_analyze.errors import (
    AnalyzeError,
    FunctionNotFound,
    LocalImports,
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
    """The result of :func:`analyze`: the spec and one decision per import/package."""

    spec: Spec
    decisions: list[Decision]


def _sibling(name: str, folder: Path) -> str | None:
    """The file or folder beside the scripts that Python would import as *name*."""
    if (folder / f"{name}.py").is_file():
        return f"{name}.py"
    package = folder / name
    if (package / "__init__.py").is_file():
        return f"{name}/"
    try:
        for entry in folder.iterdir():
            if entry.name.startswith(name + ".") and entry.suffix in (".so", ".pyd"):
                return entry.name
    except OSError:
        pass
    return None


def _scan(scripts: list[Script], toplevel: bool, fast: bool) -> list[FileImports]:
    files = [s.path for s in scripts if s.path != "<stdin>"]
    by_path = scan_files(files, toplevel=toplevel, fast=fast) if files else {}
    out = []
    for script in scripts:
        if script.path in by_path:
            out.append(by_path[script.path])
            continue
        result = FileImports()
        for cell, text in script.cells:
            found = find_imports(text, path=script.path, cell=cell, toplevel=toplevel, fast=fast)
            result = result.merged(found)
        out.append(result)
    return out


def _select_function(
    scripts: list[Script], found: list[FileImports], function: str
) -> list[Import]:
    def defined(results: list[FileImports]) -> bool:
        return any(matches_function(s, function) for r in results for s in r.functions)

    if not defined(found):  # fast mode meets only functions that import: look closer
        found = _scan(scripts, toplevel=False, fast=False)
        if not defined(found):
            names = ", ".join(s.path for s in scripts)
            raise FunctionNotFound(f"function {function!r} is not defined in {names}")
    return [i for r in found for i in r.imports if matches_function(i.scope, function)]


class _Analyzer:
    def __init__(
        self, mapper: Mapper, target: tuple[int, int], python_full: str, builds: bool,
        stdlib: frozenset[str],
    ) -> None:  # fmt: skip
        self.mapper = mapper
        self.target = target
        self.python_full = python_full
        self.builds = builds
        self.stdlib = stdlib
        self.builder = SpecBuilder()
        self.decisions: list[Decision] = []

    def take(self, owner: Owner, extras: Sequence[str] = ()) -> str:
        requirement = owner.requirement(build=self.builds, extras=extras)
        if owner.kind == "conda":
            self.builder.add_conda(owner.name, requirement, owner.channel)
        else:
            self.builder.add_pip(canonical_name(owner.name), requirement)
        return requirement

    def named(self, module: str, text: str, how: str, where: tuple[str, ...] = ()) -> None:
        """A package given by name (--pkg-mapping, --extra-pkg): ``NAME``,
        ``conda:SPEC`` or ``pip:SPEC`` / a pip requirement with a version."""
        if text.startswith("conda:"):
            spec = text[len("conda:") :].strip()
            name = spec.split("::")[-1].split("=")[0].split()[0].split("[")[0]
            self.builder.add_conda(name, spec)
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
            self.decisions.append(Decision(module, owner.kind, requirement,
                                           f"{how}; {owner.evidence}", where))  # fmt: skip
            return
        self.builder.add_pip(canonical_name(req.name), str(req))
        reason = f"{how}, as written" if not plain else f"{how}; not installed, unpinned"
        self.decisions.append(Decision(module, "pip", str(req), reason, where))

    def metadata(self, script: Script) -> None:
        meta = script.metadata
        if meta is None:
            return
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
        from packaging.specifiers import SpecifierSet

        full = self.python_full if self.python_full.count(".") == 2 else f"{self.python_full}.0"
        if meta.requires_python and not SpecifierSet(meta.requires_python).contains(
            full, prereleases=True
        ):
            raise ScriptMetadataError(
                f"{meta.path}: the script requires Python {meta.requires_python}, "
                f"the target is {self.python_full} (use --python)"
            )
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
            if owner is None:
                self.builder.add_pip(canonical_name(req.name), str(req))
                self.decisions.append(
                    Decision(req.name, "pip", str(req), f"{how}; not installed, as written")
                )
                continue
            if req.specifier and not req.specifier.contains(owner.version, prereleases=True):
                raise ScriptMetadataError(
                    f"{meta.path}: the script needs {req}, but {owner.name} {owner.version} "
                    "is installed"
                )
            requirement = self.take(owner, sorted(req.extras))
            self.decisions.append(Decision(req.name, owner.kind, requirement,
                                           f"{how}; installed: {owner.evidence}"))  # fmt: skip


def _check_local(imports: Iterable[Import], scripts: list[Script]) -> dict[str, list[Import]]:
    folders = {s.path: s.directory for s in scripts}
    local: dict[str, list[Import]] = {}
    for imp in imports:
        if imp.level:
            local.setdefault(imp.display, []).append(imp)
        elif imp.top not in sys.builtin_module_names:
            sibling = _sibling(imp.top, folders.get(imp.path, Path.cwd()))
            if sibling is not None:
                local.setdefault(imp.top, []).append(imp)
    return local


def _local_message(local: Mapping[str, list[Import]]) -> str:
    lines = ["modules beside the scripts are not packages (use --allow-local to leave them "
             "out of the spec knowingly):"]  # fmt: skip
    for module in sorted(local):
        places = ", ".join(sorted({i.location for i in local[module]}))
        kind = "relative import" if module.startswith(".") else "local module"
        lines.append(f"  {module} ({kind}, imported at {places})")
    return "\n".join(lines)


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
) -> Analysis:
    """Find the imports of *scripts* and map them to the installed packages.

    *scripts* are ``.py`` files, ``.ipynb`` notebooks or ``"-"`` (stdin).  *pkg_mapping*
    maps an import name (``yaml``, or dotted ``google.protobuf``) to a package name or
    requirement (``conda:SPEC`` / ``pip:SPEC`` force the kind); *extra_pkgs* are added
    as if imported.  *python_version* (``X.Y`` or ``X.Y.Z``) targets another Python: its
    standard library is left out and ``python=`` is pinned to it.  *channels* come first
    in the spec's channels, before those the conda packages came from.  *environment*
    is the environment to inspect (default: the running interpreter's).

    Raises :class:`LocalImports`, :class:`UnresolvedImports`,
    :class:`FunctionNotFound`, :class:`ScriptMetadataError`, other
    :class:`AnalyzeError` subclasses, or ``poncho_spec.InvalidSpec``.
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
    try:
        base_version = parse_version(env.python_version)
        target = parse_version(python_version) if python_version else parse_version(running)
        stdlib = stdlib_modules(target, base=env.stdlib or None, base_version=base_version)
    except ValueError as exc:
        raise AnalyzeError(f"--python: {exc}") from None
    python_full = python_version or running
    work = _Analyzer(mapper, target, python_full, build_strings, stdlib)

    loaded = [read_script(s, stdin=stdin) for s in scripts]
    found = _scan(loaded, toplevel=toplevel, fast=True)
    if function:
        imports = _select_function(loaded, found, function)
    else:
        imports = [i for r in found for i in r.imports]
    for result in found:
        for note in result.notes:
            work.decisions.append(
                Decision(note.split(": ", 1)[0], "note", "", note.split(": ", 1)[1])
            )

    local = _check_local(imports, loaded)
    if local and not allow_local:
        raise LocalImports(
            _local_message(local), [(m, i.location) for m, v in sorted(local.items()) for i in v]
        )
    for module, places in local.items():
        work.decisions.append(Decision(module, "local", "", "beside the scripts",
                                       tuple(sorted({i.location for i in places}))))  # fmt: skip
    local_tops = {i.top for v in local.values() for i in v}

    groups: dict[tuple[str, ...], list[Import]] = {}
    for imp in imports:
        if imp.level or imp.top in local_tops:
            continue
        groups.setdefault(imp.candidates, []).append(imp)
    mapping = dict(pkg_mapping or {})
    unresolved: dict[str, tuple[str, list[Import]]] = {}
    by_module: dict[str, list[Import]] = {}
    for candidates, group in groups.items():
        by_module.setdefault(candidates[-1], []).extend(group)
    decided: dict[str, Decision] = {}
    for candidates in sorted(groups):
        module = candidates[-1]
        where = tuple(sorted({i.location for i in by_module[module]}))
        top = module.split(".")[0]
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
            continue
        if all(i.optional for i in by_module[module]):
            decided.setdefault(module, Decision(module, "optional", "", resolution.reason, where))
            continue
        hint = change_note(top, target)
        reason = f"{resolution.reason}; {hint}" if hint else resolution.reason
        unresolved.setdefault(module, (reason, by_module[module]))
        decided.setdefault(module, Decision(module, "unresolved", "", reason, where))
    work.decisions.extend(decided.values())
    if unresolved:
        raise UnresolvedImports(_unresolved_message(unresolved), sorted(unresolved))

    for extra in extra_pkgs:
        work.named(extra, extra, f"--extra-pkg {extra}")
    for script in loaded:
        work.metadata(script)

    if python_version:
        python = f"python={python_version}"
    elif python_owner is not None:
        python = python_owner.requirement(build=build_strings)
        work.builder.add_conda("python", python, python_owner.channel)
    else:
        python = f"python={env.python_version}"
    pip_owner = mapper.conda_package("pip")
    pip = pip_owner.requirement(build=build_strings) if pip_owner is not None else "pip"
    spec = work.builder.build(python, pip, channels)
    return Analysis(spec, sorted(work.decisions))


def _mapping_key(module: str, mapping: Mapping[str, str]) -> str | None:
    best = None
    for key in mapping:
        if (module == key or module.startswith(key + ".")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return best


def _unresolved_message(unresolved: Mapping[str, tuple[str, list[Import]]]) -> str:
    lines = ["no installed package provides these imports:"]
    for module in sorted(unresolved):
        reason, places = unresolved[module]
        where = ", ".join(sorted({i.location for i in places}))
        lines.append(f"  {module} (imported at {where}): {reason}")
    lines.append(
        "install the package providing each in this environment and run again, or name it "
        "with --pkg-mapping IMPORT=NAME"
    )
    return "\n".join(lines)
