"""From imports to decisions: what each imported module becomes in the spec.

In order, for each module (imports of the same dotted names grouped, with every place):

1. the scripts' own code (relative imports, modules beside a script) is left out;
2. ``--pkg-mapping`` names its package;
3. the target's standard library needs nothing;
4. the installed package providing it is pinned, and what its submodule re-exports
   from another distribution too (one hop, see :mod:`poncho_analyze._hop`);
5. else it may be the project's own code, an optional import, or unresolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from poncho_analyze._assemble import Assembly
from poncho_analyze._conditions import Target
from poncho_analyze._hop import Hops
from poncho_analyze._local import Locals
from poncho_analyze.imports import Import
from poncho_analyze.specgen import Decision
from poncho_analyze.stdlib import change_note

__all__ = ["Resolver"]


def _mapping_key(module: str, mapping: Mapping[str, str]) -> str | None:
    """The longest key of *mapping* that is *module* or a package holding it."""
    best = None
    for key in mapping:
        if (module == key or module.startswith(key + ".")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return best


class Resolver:
    """Decides what each import becomes; fills ``decided`` (one decision per module or
    package) and ``unresolved`` (module -> (why, the imports of it))."""

    def __init__(
        self,
        work: Assembly,
        stdlib: frozenset[str],
        target: Target,
        locals_: Locals,
        pkg_mapping: Mapping[str, str] | None,
    ) -> None:
        self.work = work
        self.stdlib = stdlib
        self.locals = locals_
        self.mapping = dict(pkg_mapping or {})
        self.hops = Hops(work.mapper, stdlib, target)
        self.decided: dict[str, Decision] = {}
        self.unresolved: dict[str, tuple[str, list[Import]]] = {}
        self._by_module: dict[str, list[Import]] = {}

    def run(self, imports: Sequence[Import]) -> None:
        """Decide for every import; the scripts' own code last, as it may show that an
        import thought unresolved is the project's."""
        groups: dict[tuple[str, ...], list[Import]] = {}
        for imp in imports:
            if not self.locals.shadowing(imp):
                groups.setdefault(imp.candidates, []).append(imp)
        for candidates, group in groups.items():
            self._by_module.setdefault(candidates[-1], []).extend(group)
        for candidates in sorted(groups):
            self._decide(candidates)
        self.hops.save()
        tops = self.locals.tops
        for module in [m for m in self.decided if m.split(".")[0] in tops]:
            if self.decided[module].outcome in ("unresolved", "optional"):
                del self.decided[module]  # a later import showed it is the project's
                self.unresolved.pop(module, None)
        for module, (what, places) in self.locals.found.items():
            where = tuple(sorted({i.location for i in places}))
            self.decided[module] = Decision(module, "local", "", what, where)

    def _decide(self, candidates: tuple[str, ...]) -> None:
        module = candidates[-1]
        top = module.split(".")[0]
        if top in self.locals.tops:
            return
        imports = self._by_module[module]
        where = tuple(sorted({i.location for i in imports}))
        key = _mapping_key(module, self.mapping)
        if key is not None:
            if key not in self.decided:
                how = f"--pkg-mapping {key}={self.mapping[key]}"
                self.decided[key] = self.work.named(key, self.mapping[key], how, where)
            return
        if top in self.stdlib:
            version = f"Python {self.work.target[0]}.{self.work.target[1]}"
            self.decided.setdefault(top, Decision(top, "stdlib", "", version, where))
            return
        resolution = self.work.mapper.resolve(candidates)
        owner = resolution.owner
        if owner is not None:
            if resolution.module not in self.decided:
                requirement = self.work.take(owner)
                self.decided[resolution.module] = Decision(
                    resolution.module, owner.kind, requirement, resolution.reason, where
                )
            for hop in self.hops.follow(owner, candidates):
                key = f"{hop.module} -> {hop.owner.name}"
                if key not in self.decided:
                    requirement = self.work.take(hop.owner)
                    self.decided[key] = Decision(
                        hop.module, hop.owner.kind, requirement, hop.reason, where
                    )
            return
        under_top = [i for m, v in self._by_module.items() if m.split(".")[0] == top for i in v]
        if self.locals.project(top, under_top):
            return
        if all(i.optional for i in imports):
            decision = Decision(module, "optional", "", resolution.reason, where)
            self.decided.setdefault(module, decision)
            return
        hint = change_note(top, self.work.target)
        reason = f"{resolution.reason}; {hint}" if hint else resolution.reason
        self.unresolved.setdefault(module, (reason, imports))
        self.decided.setdefault(module, Decision(module, "unresolved", "", reason, where))
