"""``poncho inspect PATH`` and ``poncho diff A B``: what an environment holds, and how two differ.

Thin layers over :mod:`poncho.inventory`; ``--json`` prints the inventory's (or the diff's)
``to_dict()`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from poncho.inventory import Inventory, Package, diff_inventories, read_inventory
from poncho_core.cli_common import ArgumentParser, add_verbosity_options, epilog, verbosity
from poncho_spec import PonchoError

__all__ = ["build_diff_parser", "build_inspect_parser", "diff_main", "inspect_main"]

_PATHS = "a tarball (poncho's or conda-pack's), a lock.json, a spec, or an unpacked folder"


def build_inspect_parser(prog: str = "poncho inspect") -> argparse.ArgumentParser:
    """The argument parser of ``poncho inspect``."""
    parser = ArgumentParser(
        prog=prog,
        description=f"Show what an environment holds. PATH is {_PATHS}; a tarball is read "
        "without unpacking it. With -q, only its first line (kind and sizes).",
        epilog=epilog(
            exit_status=[("0", "shown"), ("1", "the path cannot be read"), ("2", "bad usage")]
        ),
    )
    parser.add_argument("path", metavar="PATH")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print it as JSON (schema: docs/schemas/inspect.schema.json)",
    )
    add_verbosity_options(parser)
    return parser


def inspect_main(argv: Sequence[str] | None = None, *, prog: str = "poncho inspect") -> int:
    """``poncho inspect``: returns the exit status (0 shown, 1 error, 2 bad usage)."""
    parser = build_inspect_parser(prog)
    args = parser.parse_args(argv)
    level = verbosity(parser, args)
    try:
        inventory = read_inventory(args.path)
    except PonchoError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(inventory.to_dict(), indent=2))
    else:
        text = _render(inventory)
        print(text.splitlines()[0] if level < 0 else text)
    return 0


def build_diff_parser(prog: str = "poncho diff") -> argparse.ArgumentParser:
    """The argument parser of ``poncho diff``."""
    parser = ArgumentParser(
        prog=prog,
        description=f"Show which packages differ between A and B, each {_PATHS}. "
        "With -q, nothing: the exit status tells.",
        epilog=epilog(
            exit_status=[
                ("0", "the same packages (as diff's)"),
                ("1", "they differ"),
                ("2", "an error or bad usage"),
            ]
        ),
    )
    parser.add_argument("a", metavar="A")
    parser.add_argument("b", metavar="B")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the differences as JSON (schema: docs/schemas/diff.schema.json)",
    )
    add_verbosity_options(parser)
    return parser


def diff_main(argv: Sequence[str] | None = None, *, prog: str = "poncho diff") -> int:
    """``poncho diff``: 0 the same packages, 1 they differ, 2 an error or bad usage."""
    parser = build_diff_parser(prog)
    args = parser.parse_args(argv)
    level = verbosity(parser, args)
    try:
        diff = diff_inventories(read_inventory(args.a), read_inventory(args.b))
    except PonchoError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(diff.to_dict(), indent=2))
    elif level < 0:
        pass
    else:
        for package in diff.only_a:
            print(f"- {package.kind} {package.name} {package.describe()}")
        for package in diff.only_b:
            print(f"+ {package.kind} {package.name} {package.describe()}")
        for old, new in diff.changed:
            if old.describe() == new.describe():  # the same version from another source
                print(f"~ {old.kind} {old.name} {old.describe()} {old.origin()} -> {new.origin()}")
            else:
                print(f"~ {old.kind} {old.name} {old.describe()} -> {new.describe()}")
        if diff.same:
            print("the same packages")
    return 0 if diff.same else 1


def _render(inventory: Inventory) -> str:
    lines = [f"{inventory.path}: {inventory.kind}{_sizes(inventory)}"]
    for label, value in (
        ("platform", inventory.platform),
        ("python", inventory.python),
        ("spec hash", inventory.spec_hash),
        ("channels", ", ".join(inventory.channels) or None),
    ):
        if value:
            lines.append(f"  {label:<10} {value}")
    for name, source in sorted(inventory.data.items()):
        lines.append(f"  {'data':<10} {name}: {source}")
    if inventory.requested:
        lines.append(f"  requested ({len(inventory.requested)}; no lock says what was installed)")
        lines += [f"    {item}" for item in inventory.requested]
    for kind in ("conda", "pip"):
        packages = [p for p in inventory.packages if p.kind == kind]
        if packages:
            lines.append(f"  {kind} ({len(packages)})")
            lines += _table(packages)
    return "\n".join(lines)


def _table(packages: list[Package]) -> list[str]:
    rows = [(p.name, p.describe(), p.source) for p in packages]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"    {n:<{widths[0]}}  {v:<{widths[1]}}  {s}".rstrip() for n, v, s in rows]


def _sizes(inventory: Inventory) -> str:
    parts = []
    if inventory.size is not None:
        parts.append(_mb(inventory.size))
    if inventory.unpacked_size is not None:
        parts.append(f"{_mb(inventory.unpacked_size)} in {inventory.files:,} files unpacked")
    return f", {', '.join(parts)}" if parts else ""


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
