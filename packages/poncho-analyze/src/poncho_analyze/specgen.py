"""Building the spec from the chosen packages, deterministically."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from poncho_spec import DEFAULT_CHANNELS, CondaSection, Spec

__all__ = ["Decision", "SpecBuilder"]


@dataclass(frozen=True, order=True)
class Decision:
    """What became of one import (or one requested package), and why.

    ``outcome`` is one of ``conda``, ``pip`` (a dependency), ``stdlib``, ``local``
    (left out), ``dropped`` (in a branch the target never takes), ``optional`` (an
    optional import not installed, left out), ``unresolved``, ``note``.  ``where`` lists
    the places that import it.
    """

    module: str
    outcome: str
    requirement: str = ""
    reason: str = ""
    where: tuple[str, ...] = field(default=(), compare=False)

    def line(self) -> str:
        """One line for ``--explain``: ``numpy -> conda numpy=1.26.4 (conda-meta: ...)``."""
        target = {
            "conda": f"conda {self.requirement}",
            "pip": f"pip {self.requirement}",
            "stdlib": "standard library",
            "local": "local module, left out",
            "optional": "optional import, not installed, left out",
            "unresolved": "NOT FOUND",
            "dropped": "never imported on the target, left out",
        }.get(self.outcome, self.outcome)
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.module} -> {target}{reason}"


class SpecBuilder:
    """Collects conda and pip requirements and channels, then builds a sorted Spec."""

    def __init__(self) -> None:
        self.conda: dict[str, str] = {}
        self.pip: dict[str, str] = {}
        self.channels: list[str] = []
        self.written = False
        """Whether an entry was written by a user (not made from installed records)."""

    def add_conda(
        self, name: str, requirement: str, channel: str = "", *, written: bool = False
    ) -> None:
        """Add a conda requirement for *name* (a later one for the same name wins);
        *written*: it comes from user text, not from an installed package's record."""
        self.conda[name.lower()] = requirement
        self.written |= written
        if channel and channel not in self.channels:
            self.channels.append(channel)

    def add_pip(self, key: str, requirement: str, *, written: bool = False) -> None:
        """Add a pip requirement under its canonical name *key* (*written*: see
        :meth:`add_conda`)."""
        self.pip[key] = requirement
        self.written |= written

    def to_dict(self, python: str, pip: str, channels: Iterable[str] | None) -> dict[str, Any]:
        """The spec document: ``python`` first, conda requirements sorted, ``pip`` (given as
        its requirement) and the ``{"pip": [...]}`` entry when there are pip packages."""
        deps: list[Any] = [python]
        conda = {k: v for k, v in self.conda.items() if k not in ("python", "pip")}
        deps.extend(conda[k] for k in sorted(conda))
        if self.pip or "pip" in self.conda:
            deps.append(self.conda.get("pip", pip))
        if self.pip:
            deps.append({"pip": [self.pip[k] for k in sorted(self.pip)]})
        chosen = list(dict.fromkeys([*(channels or ()), *sorted(self.channels)]))
        return {"conda": {"channels": chosen or list(DEFAULT_CHANNELS), "dependencies": deps}}

    def build(
        self,
        python: str,
        pip: str = "pip",
        channels: Iterable[str] | None = None,
        source: str = "<analysis>",
    ) -> Spec:
        """The validated :class:`~poncho_spec.Spec` (raises InvalidSpec on a bad entry).

        Entries made from installed records (``name=version`` from conda-meta,
        ``Name==version`` from a dist-info) are valid by construction; when all are, the
        spec is built without validating each again, which would import py-rattler
        (a tenth of a second, more than the rest of an analysis).  Anything a user wrote
        goes through :meth:`Spec.from_dict`."""
        data = self.to_dict(python, pip, channels)
        if self.written or channels:
            return Spec.from_dict(data, source=source)
        conda = data["conda"]
        deps = tuple(d for d in conda["dependencies"] if isinstance(d, str))
        return Spec(
            CondaSection(tuple(conda["channels"]), deps),
            tuple(self.pip[k] for k in sorted(self.pip)),
            source=source,
        )
