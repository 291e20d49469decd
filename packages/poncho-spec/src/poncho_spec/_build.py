"""Walking a spec document section by section, with the rules of :mod:`poncho_spec._rules`,
into the fields of a :class:`~poncho_spec.Spec`; legacy forms are converted on the way (see
:mod:`poncho_spec.validate` for the forms accepted).

Every problem is collected before :class:`~poncho_spec.InvalidSpec` is raised, once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypedDict

from poncho_spec import _pip, matchspec
from poncho_spec._document import document_problems, json_path
from poncho_spec._rules import (
    CONDA_KEYS,
    GIT_KEYS,
    HTTP_KEYS,
    IGNORED_TOP_KEYS,
    TOP_KEYS,
    Checker,
    type_name,
)
from poncho_spec._sections import (
    DEFAULT_CHANNELS,
    CondaSection,
    GitSource,
    HttpSource,
    pin_matchspec,
)
from poncho_spec.errors import InvalidSpec, Problem

__all__ = ["SpecFields", "spec_fields"]


class SpecFields(TypedDict):
    """The arguments of :class:`~poncho_spec.Spec` for a validated document."""

    conda: CondaSection
    pip: tuple[str, ...]
    git: dict[str, GitSource]
    http: dict[str, HttpSource]
    pinned: dict[str, str]
    warnings: tuple[str, ...]
    base_dir: Path | None
    source: str | None


def spec_fields(data: object, source: str | None, base_dir: Path | None) -> SpecFields:
    """Validate `data` (a decoded JSON document) and return the fields of its Spec.

    Raises InvalidSpec with every problem found.
    """
    return _Builder(base_dir).build(data, source)


class _Builder(Checker):
    def build(self, data: object, source: str | None) -> SpecFields:
        if not isinstance(data, dict):
            raise InvalidSpec(
                [Problem("", f"a spec must be a JSON object, got {type_name(data)}")], source
            )
        unsafe = document_problems(data)
        if unsafe:  # checked first: what follows may encode, recurse over or print them
            raise InvalidSpec(unsafe, source)
        self.check_keys(data, TOP_KEYS, "", ignored=IGNORED_TOP_KEYS)
        channels: list[str] = []
        dependencies: list[str] = []
        pip: list[str] = []
        if "conda" in data:
            self.conda(data["conda"], channels, dependencies, pip)
        if "pip" in data:
            pip.extend(self.pip_list(data["pip"], "pip"))
        git = self.git(data["git"]) if "git" in data else {}
        http = self.http(data["http"]) if "http" in data else {}
        pinned = self.pinned(data["pinned"]) if "pinned" in data else {}
        for key, message in IGNORED_TOP_KEYS.items():
            if key in data:
                self.warn(key, message)
        for var in sorted(git.keys() & http.keys()):
            self.error(
                json_path("http", var),
                f"{var!r} is also defined in git: each variable names one data source",
            )
        if self.problems:
            raise InvalidSpec(self.problems, source)
        return SpecFields(
            conda=CondaSection(tuple(channels) or DEFAULT_CHANNELS, tuple(dependencies)),
            pip=tuple(pip),
            git=git,
            http=http,
            pinned=pinned,
            warnings=tuple(self.warnings),
            base_dir=self.base_dir,
            source=source,
        )

    # -- conda ----------------------------------------------------------------------------

    def conda(
        self, value: object, channels: list[str], dependencies: list[str], pip: list[str]
    ) -> None:
        if isinstance(value, list):  # oldest CCTools form: "conda": [match specs]
            self.conda_dependencies(value, "conda", dependencies, pip)
            return
        conda = self.mapping(value, "conda")
        if conda is None:
            return
        self.check_keys(conda, CONDA_KEYS, "conda")
        if "channels" in conda:
            for i, item in enumerate(self.array(conda["channels"], "conda.channels")):
                channel = self.channel(item, json_path("conda.channels", i))
                if channel is not None:
                    channels.append(channel)
        for key in ("dependencies", "packages"):
            if key in conda:
                path = json_path("conda", key)
                self.conda_dependencies(self.array(conda[key], path), path, dependencies, pip)
        if "name" in conda and self.string(conda["name"], "conda.name") is not None:
            self.warn("conda.name", "ignored: an environment is named by its hash")
        if "prefix" in conda:
            self.error(
                "conda.prefix",
                "not allowed: an absolute, user-specific path (remove it; poncho-create "
                "decides where environments are built)",
            )

    def conda_dependencies(
        self, items: list[Any], path: str, dependencies: list[str], pip: list[str]
    ) -> None:
        for i, item in enumerate(items):
            item_path = json_path(path, i)
            if isinstance(item, dict):
                if set(item) != {"pip"}:
                    keys = ", ".join(map(repr, item)) or "none"
                    self.error(
                        item_path, f'an object entry must be {{"pip": [...]}}, got keys {keys}'
                    )
                    continue
                pip.extend(self.pip_list(item["pip"], json_path(item_path, "pip")))
                continue
            if not isinstance(item, str):
                self.error(item_path, f"must be a conda match spec string, got {type_name(item)}")
                continue
            spec = item.strip()
            reason = matchspec.check(spec) if spec else "empty match spec"
            if reason is not None:
                self.error(item_path, f"{item!r} is not a valid conda match spec: {reason}")
                continue
            dependencies.append(spec)

    def pinned(self, value: object) -> dict[str, str]:
        """CCTools' ``{"pinned": {"conda": {"package": "version"}}}``: conda-meta/pinned."""
        pinned = self.mapping(value, "pinned")
        if pinned is None:
            return {}
        self.check_keys(pinned, ("conda",), "pinned")
        if "conda" not in pinned:
            return {}
        pins = self.mapping(pinned["conda"], "pinned.conda")
        out: dict[str, str] = {}
        for key in getattr(pins, "duplicates", ()):
            self.error(json_path("pinned.conda", key), "package given more than once")
        for name, version in (pins or {}).items():
            path = json_path("pinned.conda", name)
            text = self.string(version, path, what="a version string")
            if text is None:
                continue
            pin = pin_matchspec(name, text)
            reason = matchspec.check(pin)
            if reason is not None or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", name):
                self.error(path, f"{pin!r} is not a valid conda pin: {reason or 'bad name'}")
                continue
            out[name.lower()] = text
        return out

    # -- pip ------------------------------------------------------------------------------

    def pip_list(self, value: object, path: str) -> list[str]:
        out = []
        for i, item in enumerate(self.array(value, path)):
            item_path = json_path(path, i)
            if not isinstance(item, str):
                self.error(item_path, f"must be a string, got {type_name(item)}")
                continue
            entry = item.strip()
            checked = _pip.classify(entry, self.base_dir)
            if checked.warning:
                self.warn(item_path, checked.warning)
            if checked.problem:
                self.error(item_path, checked.problem)
                continue
            out.append(entry)
        return out

    # -- data sources ---------------------------------------------------------------------

    def variables(self, value: object, section: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The (variable, path, entry) of a git or http section whose names are valid."""
        mapping = self.mapping(value, section)
        if mapping is None:
            return []
        for key in getattr(mapping, "duplicates", ()):
            self.error(json_path(section, key), "variable given more than once")
        out = []
        for var, entry in mapping.items():
            path = json_path(section, var)
            ok = self.variable_name(var, path)
            obj = self.mapping(entry, path)
            if obj is not None and ok:
                out.append((var, path, obj))
            elif obj is not None:
                self.check_entry_only(obj, section, path)
        return out

    def check_entry_only(self, obj: dict[str, Any], section: str, path: str) -> None:
        # Still report what is wrong inside an entry whose name is invalid.
        if section == "git":
            self.git_entry(obj, path)
        else:
            self.http_entry(obj, path)

    def git(self, value: object) -> dict[str, GitSource]:
        out = {}
        for var, path, obj in self.variables(value, "git"):
            source = self.git_entry(obj, path)
            if source is not None:
                out[var] = source
        return out

    def git_entry(self, obj: dict[str, Any], path: str) -> GitSource | None:
        self.check_keys(obj, GIT_KEYS, path)
        remote = None
        if "remote" not in obj:
            self.error(json_path(path, "remote"), "missing (the URL of the git repository)")
        else:
            remote = self.git_remote(obj["remote"], json_path(path, "remote"))
        ref_path = json_path(path, "ref")
        if "ref" not in obj:
            ref: str | None = "HEAD"
            self.warn(
                ref_path,
                "missing: the default branch (HEAD) is used, which moves; give a commit sha",
            )
        else:
            ref = self.git_ref(obj["ref"], ref_path)
        if remote is None or ref is None:
            return None
        return GitSource(remote=remote, ref=ref)

    def http(self, value: object) -> dict[str, HttpSource]:
        out = {}
        for var, path, obj in self.variables(value, "http"):
            source = self.http_entry(obj, path)
            if source is not None:
                out[var] = source
        return out

    def http_entry(self, obj: dict[str, Any], path: str) -> HttpSource | None:
        self.check_keys(obj, HTTP_KEYS, path)
        problems = len(self.problems)
        url = None
        if "url" not in obj:
            self.error(json_path(path, "url"), "missing (the http:// or https:// URL to fetch)")
        else:
            url = self.http_url(obj["url"], json_path(path, "url"))
        kind = obj.get("type", "file")
        compression = obj.get("compression")
        sha256 = obj.get("sha256")
        self.http_options(kind, compression, sha256, path)
        if url is None or len(self.problems) != problems:
            return None
        return HttpSource(
            url=url, type=kind, compression=compression, sha256=sha256.lower() if sha256 else None
        )
