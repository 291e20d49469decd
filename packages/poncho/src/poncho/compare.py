"""How two inventories differ: `diff_inventories`, what ``poncho diff`` prints.

What is compared depends on what each side knows:

- two sides that list installed packages (tarball, lock, folder): every package, by kind and
  name; a package differs in its version, its build, or (pip) where it came from (index, a
  path, a VCS or URL: each known source, and the URL of a direct reference);
- two specs: the requests, by kind and name; a request differs in its constraint or channel
  as written (``python=3.11.7`` and ``python=3.11`` differ, though one environment may
  satisfy both);
- a spec and a side with packages: each request against the installed package of its name
  (the conda version and build patterns, the pip version specifier), a local path request
  (``./mylib``) against the package built from that folder; a request that is missing or
  not met is a difference; the packages nobody asked for (dependencies) are not.

In a `Diff` a request is a `Package` whose `version` is its constraint as written after the
name (``=3.11``, ``>=2,<3``, ``@ git+https://...``; empty for any version) and whose
`source` is its channel (conda) or ``requested``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from poncho.inventory import Inventory, Package
from poncho_spec import matchspec

__all__ = ["Diff", "diff_inventories", "requests_of"]

_PATH_PREFIXES = ("./", "../", "/", "~", "file:")  # a pip entry that is a local path
_PIP_NAME = re.compile(r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


@dataclass(frozen=True)
class Diff:
    """Packages (or requests) only in A, only in B, and in both but different.

    `compared` says what was compared: ``packages``, ``requests`` (two specs),
    ``requests-packages`` (A a spec, B an environment) or ``packages-requests``.
    """

    only_a: list[Package]
    only_b: list[Package]
    changed: list[tuple[Package, Package]]
    compared: str = "packages"

    def is_request(self, side: str) -> bool:
        """Whether side ``"a"`` or ``"b"`` holds requests (a spec) rather than packages."""
        sides = self.compared.split("-")  # "packages", "requests" or "A-B"
        return sides[(side == "b") * (len(sides) - 1)] == "requests"

    @property
    def same(self) -> bool:
        """True when nothing differs."""
        return not (self.only_a or self.only_b or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``poncho diff --json`` prints)."""
        return {
            "compared": self.compared,
            "only_a": [asdict(p) for p in self.only_a],
            "only_b": [asdict(p) for p in self.only_b],
            "changed": [{"a": asdict(a), "b": asdict(b)} for a, b in self.changed],
        }


def diff_inventories(a: Inventory, b: Inventory) -> Diff:
    """Compare `a` and `b` as the module says: packages, requests, or one against the other."""
    a_spec, b_spec = a.kind == "spec", b.kind == "spec"
    if a_spec and b_spec:
        return _diff(requests_of(a), requests_of(b), _request_changed, "requests")
    if a_spec or b_spec:
        return _requests_against(a, b, spec_is_a=a_spec)
    return _diff(a.packages, b.packages, _package_changed, "packages")


def requests_of(inventory: Inventory) -> list[Package]:
    """A spec inventory's requests (its ``requested`` entries) as `Package` objects."""
    found = []
    for entry in inventory.requested:
        if entry.startswith("pip: "):
            found.append(_pip_request(entry[len("pip: ") :]))
        else:
            found.append(_conda_request(entry))
    return found


def _diff(left: Iterable[Package], right: Iterable[Package], changed: Any, compared: str) -> Diff:
    a = {_key(p): p for p in left}
    b = {_key(p): p for p in right}
    return Diff(
        only_a=[a[k] for k in sorted(a.keys() - b.keys())],
        only_b=[b[k] for k in sorted(b.keys() - a.keys())],
        changed=[(a[k], b[k]) for k in sorted(a.keys() & b.keys()) if changed(a[k], b[k])],
        compared=compared,
    )


def _requests_against(a: Inventory, b: Inventory, *, spec_is_a: bool) -> Diff:
    spec, environment = (a, b) if spec_is_a else (b, a)
    requests = requests_of(spec)
    installed = {_key(p): p for p in environment.packages}
    missing: list[Package] = []
    unmet: list[tuple[Package, Package]] = []
    for request in sorted(requests, key=_key):
        package = installed.get(_key(request)) or _built_from(
            request, Path(spec.path).parent, environment.packages
        )
        if package is None:
            missing.append(request)
        elif not _satisfies(package, request):
            unmet.append((request, package) if spec_is_a else (package, request))
    if spec_is_a:
        return Diff(missing, [], unmet, "requests-packages")
    return Diff([], missing, unmet, "packages-requests")


def _built_from(request: Package, folder: Path, packages: Iterable[Package]) -> Package | None:
    """The pip package a local path request (``./mylib``, relative to the spec's `folder`)
    was built from: the one whose source is that folder (a ``file:`` URL in the lock)."""
    entry = request.name
    if request.kind != "pip" or not entry.startswith(_PATH_PREFIXES):
        return None
    target = _file_path(entry) if entry.startswith("file:") else folder / Path(entry).expanduser()
    for package in packages:
        url = package.url or ""
        if package.kind == "pip" and url.startswith("file:") and _same(_file_path(url), target):
            return package
    return None


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _file_path(url: str) -> Path:
    from urllib.request import url2pathname  # urllib.request imports http.client, ssl...

    return Path(url2pathname(urlsplit(url).path))


def _key(package: Package) -> tuple[str, str]:
    return package.kind, _normal_name(package.kind, package.name)


def _normal_name(kind: str, name: str) -> str:
    if kind == "pip" and _PIP_NAME.fullmatch(name):
        return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503
    return name.lower()


def _package_changed(a: Package, b: Package) -> bool:
    """Another version or build; for pip also another source (kind, commit, URL of a direct
    reference, file hash when both know one), unless a side does not say (``installed``)."""
    if (a.version, a.build) != (b.version, b.build):
        return True
    if a.kind != "pip" or "installed" in (a.source, b.source):
        return False
    if a.key() != b.key() or (a.source not in ("", "index") and a.url != b.url):
        return True
    return None not in (a.sha256, b.sha256) and a.sha256 != b.sha256


def _request_changed(a: Package, b: Package) -> bool:
    return (a.version, a.build, a.source) != (b.version, b.build, b.source)


def _conda_request(entry: str) -> Package:
    parts = matchspec.split(entry)
    if parts is None:  # not a valid match spec: compared as written
        return Package(name=entry.strip(), version="", kind="conda", source="requested")
    channel, name, rest = parts
    return Package(
        name=name, version=" ".join(rest.split()), kind="conda", source=channel or "requested"
    )


def _pip_request(entry: str) -> Package:
    match = _PIP_NAME.match(entry)
    rest = entry[match.end() :] if match else ""
    if match is None or (rest.strip() and rest.strip()[0] not in "[(=<>!~@;"):
        # a path or a bare URL: compared as written
        return Package(name=entry.strip(), version="", kind="pip", source="requested")
    return Package(
        name=match["name"], version=" ".join(rest.split()), kind="pip", source="requested"
    )


def _satisfies(package: Package, request: Package) -> bool:
    constraint = request.version
    if not constraint:
        return True
    if package.kind == "conda":
        return _conda_satisfies(package, request)
    return _pip_satisfies(package, constraint)


def _conda_satisfies(package: Package, request: Package) -> bool:
    import rattler

    try:
        spec = rattler.MatchSpec(f"{request.name}{request.version}", strict=False)
    except Exception:  # rattler's own exception types; an invalid spec is not met
        return False
    if spec.version is not None:
        try:
            if not rattler.VersionSpec(str(spec.version)).matches(rattler.Version(package.version)):
                return False
        except Exception:
            return False
    return spec.build is None or fnmatch.fnmatchcase(package.build, str(spec.build))


def _pip_satisfies(package: Package, constraint: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion

    try:
        requirement = Requirement(f"{package.name}{constraint}")
    except InvalidRequirement:
        return False
    if requirement.url:  # a direct reference: what it holds is only known once built
        return True
    try:
        return requirement.specifier.contains(package.version, prereleases=True)
    except InvalidVersion:
        return False
