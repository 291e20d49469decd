"""``poncho inspect PATH`` and ``poncho diff A B``: what an environment holds, and how two differ.

Thin layers over :mod:`poncho.inventory`; ``--json`` prints the inventory's (or the diff's)
``to_dict()`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence

from poncho.compare import Diff, diff_inventories
from poncho.inventory import Inventory, Package, read_inventory
from poncho_core.cli_common import (
    ArgumentParser,
    add_verbosity_options,
    epilog,
    report_error,
    verbosity,
)
from poncho_spec import PonchoError

__all__ = ["build_diff_parser", "build_inspect_parser", "diff_main", "inspect_main"]

_PATHS = "a tarball (poncho's or conda-pack's), a lock.json, a spec, or an unpacked folder"


def build_inspect_parser(prog: str = "poncho inspect") -> argparse.ArgumentParser:
    """The argument parser of ``poncho inspect``."""
    parser = ArgumentParser(
        prog=prog,
        description="Show what an environment holds: platform, Python, packages, data, "
        "sizes. A tarball (.tar.gz, .tar.zst, .tar.bz2, .tar) is read without unpacking it; "
        "one with an index (poncho-create's .tar.gz and .tar.zst) from its index, without "
        "decompressing it. "
        "With -q, only its first line (kind and sizes).",
        epilog=epilog(
            exit_status=[("0", "shown"), ("1", "the path cannot be read"), ("2", "bad usage")]
        ),
    )
    parser.add_argument("path", metavar="PATH", help=f"what to look into: {_PATHS}")
    parser.add_argument(
        "--sizes",
        action="store_true",
        help="also each package's unpacked size and file count, largest first (what makes "
        "it this big; with a bar per row on a terminal)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print it as JSON, sizes included (schema: docs/schemas/inspect.schema.json)",
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
        return report_error(prog, exc, json_output=args.json, exit_status=1)
    if args.json:
        print(json.dumps(inventory.to_dict(), indent=2))
    else:
        text = _render(inventory)
        if args.sizes and level >= 0:
            text += "\n" + "\n".join(size_lines(inventory, bars=sys.stdout.isatty()))
        print(text.splitlines()[0] if level < 0 else text)
    return 0


def build_diff_parser(prog: str = "poncho diff") -> argparse.ArgumentParser:
    """The argument parser of ``poncho diff``."""
    parser = ArgumentParser(
        prog=prog,
        description=f"Show what differs between A and B, each {_PATHS}. Packages differ "
        "in version, build or (pip) source. Two specs compare their requests as written "
        "(python=3.11 and python=3.11.7 differ); a spec and an environment, whether each "
        "request is installed as asked (dependencies nobody asked for do not count). "
        "With -q, nothing: the exit status tells.",
        epilog=epilog(
            exit_status=[
                ("0", "nothing differs (as diff's)"),
                ("1", "they differ"),
                ("2", "an error or bad usage"),
            ]
        ),
    )
    parser.add_argument("a", metavar="A", help="the old side: lines only in A start with -")
    parser.add_argument("b", metavar="B", help="the new side: lines only in B start with +")
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
        return report_error(prog, exc, json_output=args.json, exit_status=2)  # as diff's
    if args.json:
        print(json.dumps(diff.to_dict(), indent=2))
    elif level >= 0:
        print("\n".join(_diff_lines(diff, args.a, args.b)))
    return 0 if diff.same else 1


def _diff_lines(diff: Diff, a: str, b: str) -> list[str]:
    lines = [f"- {p.kind} {p.name} {_shown(p, diff.is_request('a'))}" for p in diff.only_a]
    lines += [f"+ {p.kind} {p.name} {_shown(p, diff.is_request('b'))}" for p in diff.only_b]
    for old, new in diff.changed:
        before, after = _shown(old, diff.is_request("a")), _shown(new, diff.is_request("b"))
        if before == after:  # the same version from another place: say which
            before, after = f"{before} {_place(old)}", f"{after} {_place(new)}"
        lines.append(f"~ {old.kind} {old.name} {before} -> {after}")
    if diff.same:
        lines.append(
            {
                "packages": "the same packages",
                "requests": "the same requests",
                "requests-packages": f"{b} holds what {a} requests",
                "packages-requests": f"{a} holds what {b} requests",
            }[diff.compared]
        )
    return [line.rstrip() for line in lines]


def _place(package: Package) -> str:
    """Where a package came from: its source kind and URL (with the commit of a VCS one)."""
    url = f"{package.url}@{package.commit}" if package.commit else package.url
    return f"from {package.source} {url}".rstrip()


def _shown(package: Package, request: bool) -> str:
    if not request:
        return package.describe()
    said = f"requested {package.version or 'any version'}"
    return said if package.source == "requested" else f"{said} from {package.source}"


def _render(inventory: Inventory) -> str:
    lines = [f"{inventory.path}: {inventory.kind}{_sizes(inventory)}"]
    for label, value in (
        ("platform", inventory.platform),
        ("python", inventory.python),
        ("spec hash", inventory.spec_hash),
        ("channels", ", ".join(inventory.channels) or None),
        ("layout", _layout(inventory)),
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


def _layout(inventory: Inventory) -> str | None:
    """How a tarball is laid out: indexed (read from its end) or one stream."""
    if inventory.indexed is None:
        return None
    if not inventory.indexed:
        return "one stream, no index"
    count = len(inventory.members)
    return f"indexed, {count} member{'s' * (count != 1)}"


def size_lines(inventory: Inventory, *, bars: bool, columns: int | None = None) -> list[str]:
    """The ``--sizes`` table: a row per package, largest first, with a bar when `bars`."""
    rows = inventory.package_sizes
    if not rows:
        return [f"  sizes: none (a {inventory.kind} holds no files)"]
    cells = [
        (f"{r.kind} {r.name}".strip(), _human(r.size), f"{r.files:,} file{'s' * (r.files != 1)}")
        for r in rows
    ]
    widths = [max(len(cell[i]) for cell in cells) for i in range(3)]
    lines = [f"  sizes ({len(rows)}, unpacked, largest first)"]
    room = (columns or shutil.get_terminal_size().columns) - sum(widths) - 11
    largest = max(rows[0].size, 1)
    for row, (name, size, files) in zip(rows, cells, strict=True):
        line = f"    {name:<{widths[0]}}  {size:>{widths[1]}}  {files:>{widths[2]}}"
        if bars and room >= 10:
            line += "  " + _bar(row.size / largest * room)
        lines.append(line)
    return lines


def _bar(width: float) -> str:
    """A bar of `width` columns, in eighths of a column; at least a sliver."""
    eighths = max(round(width * 8), 1)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


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


def _human(size: int) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
