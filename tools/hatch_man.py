"""The man pages of the commands, from Markdown to roff: one converter for the whole repository.

``docs/man/<command>.md`` (first line ``# name(N)``) becomes ``<command>.N``. The converter
knows the Markdown these pages use: headings, paragraphs, lists, ``- `-x`, `--long` *ARG*:
text`` option items, tables, fenced blocks, inline code, emphasis, links.

Two users, one file:

- each package that installs a command builds its page into its wheel, as
  ``share/man/man1/<command>.1`` (a venv's ``share/man``, where ``man`` looks with
  ``MANPATH=$VENV/share/man`` or with the venv's ``bin`` on PATH). Its pyproject names this
  file as its hatch build hook (``packages/<name>/hatch_man.py`` is a link to this file) and
  the pages (``man-pages = ["poncho_spec"]``); its sdist carries a copy of this file and of the
  pages (``man/<command>.md``), so a wheel built from the sdist has them too.
  poncho-run's own hook (hatch_build.py) calls :func:`add_man_pages`;
- ``docs/build.py`` imports the converter for ``nox -s docs``.

Standard library only, but for hatchling, imported only where a wheel is built.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # docs/build.py uses the converter alone
    BuildHookInterface = object  # type: ignore[assignment,misc]

FENCE = re.compile(r"^\s*(```+|~~~+)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


_OPTION_ITEM = re.compile(
    r"^((?:`[^`]+`)(?:,\s*`[^`]+`)*(?:\s+\*[^*]+\*(?:\.\.\.)?)?):\s+(.*)$", re.DOTALL
)
_TITLE = re.compile(r"^#\s+([\w.-]+)\((\d)\)\s*$")


def roff_escape(text: str) -> str:
    """Plain text made safe for roff (backslashes, hyphens)."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def roff_inline(text: str) -> str:
    """Inline Markdown to roff: code and strong as bold, emphasis as italics, links as text."""
    out = []
    pos = 0
    for match in INLINE_CODE.finditer(text):
        out.append(_roff_prose(text[pos : match.start()]))
        code = match.group().strip("`")
        out.append(r"\fB" + roff_escape(code.strip()) + r"\fR")
        pos = match.end()
    out.append(_roff_prose(text[pos:]))
    return "".join(out)


def _roff_prose(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        page = re.fullmatch(r"(?:\.\./man/|)([\w.-]+)\.md", target)
        if page and re.search(r"\(\d\)$", label):
            return label  # "[poncho_package_run(1)](poncho_package_run.md)"
        if EXTERNAL.match(target):
            return f"{label} <{target}>"
        return label

    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)", link, text)
    text = re.sub(r"<!--.*?-->", "", text)
    text = roff_escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\\fI\1\\fR", text)
    text = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\\fI\1\\fR", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _roff_line(text: str) -> str:
    """A text line that roff cannot mistake for a request."""
    text = text.strip()
    return "\\&" + text if text[:1] in {".", "'"} else text


def _roff_code(line: str) -> str:
    """A line of a code block, its indentation kept."""
    text = roff_escape(line.rstrip())
    return "\\&" + text if text[:1] in {".", "'"} else text


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Split Markdown lines into (kind, lines): heading, fence, item, table, para, comment."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif line.lstrip().startswith("<!--"):
            end = index
            while "-->" not in lines[end]:
                end += 1
            index = end + 1
        elif line.startswith("#"):
            yield "heading", [line]
            index += 1
        elif FENCE.match(line):
            fence = FENCE.match(line).group(1)  # type: ignore[union-attr]
            end = index + 1
            while end < len(lines) and not lines[end].lstrip().startswith(fence):
                end += 1
            yield "fence", lines[index + 1 : end]
            index = end + 1
        elif re.match(r"^\s*(?:[-*+]|\d+\.)\s", line):
            item = [re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", line)]
            index += 1
            while index < len(lines) and lines[index].startswith("  ") and lines[index].strip():
                item.append(lines[index].strip())
                index += 1
            yield "item", item
        elif line.lstrip().startswith("|"):
            end = index
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            yield "table", lines[index:end]
            index = end
        else:
            end = index
            while end < len(lines) and lines[end].strip() and not _starts_block(lines[end]):
                end += 1
            yield "para", [x.strip() for x in lines[index:end]]
            index = end


def _starts_block(line: str) -> bool:
    return bool(
        line.startswith("#")
        or FENCE.match(line)
        or re.match(r"^\s*(?:[-*+]|\d+\.)\s", line)
        or line.lstrip().startswith(("|", "<!--"))
    )


def markdown_to_roff(
    text: str, source: str = "page.md", date: str | None = None, version: str = ""
) -> str:
    """Convert one man page written in Markdown (first line ``# name(N)``) to roff.

    *date* defaults to SOURCE_DATE_EPOCH's day (reproducible builds) or today's; *version*
    goes in the footer. A page without its title line raises ValueError naming *source*.
    """
    lines = text.splitlines()
    title = _TITLE.match(lines[0]) if lines else None
    if title is None:
        raise ValueError(f"{source}:1: a man page starts with '# name(section)'")
    name, section = title.groups()
    date = date or _build_date()
    out = [
        f'.TH "{name.upper()}" "{section}" "{date}" "poncho {version}" "Poncho manual"',
        ".nh",
        ".ad l",
    ]
    for kind, block in _blocks(lines[1:]):
        if kind == "heading":
            level = len(block[0]) - len(block[0].lstrip("#"))
            heading = block[0].lstrip("#").strip()
            macro = ".SH" if level <= 2 else ".SS"
            out.append(
                f'{macro} "{roff_inline(heading).upper() if level <= 2 else roff_inline(heading)}"'
            )
        elif kind == "fence":
            out += [".PP", ".RS 4", ".nf"] + [_roff_code(x) for x in block] + [".fi", ".RE"]
        elif kind == "item":
            joined = " ".join(block)
            option = _OPTION_ITEM.match(joined)
            if option:
                out += [".TP", _roff_line(roff_inline(option.group(1)))]
                out.append(_roff_line(roff_inline(option.group(2))))
            else:
                out += [".IP \\(bu 2", _roff_line(roff_inline(joined))]
        elif kind == "table":
            rows = [r for r in block if not re.match(r"^\s*\|[\s:|-]+\|\s*$", r)]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            out += [".PP", ".TS", "l " * max(len(c) for c in cells) + "."]
            out += ["\t".join(roff_inline(c) for c in row) for row in cells]
            out.append(".TE")
        else:
            out += [".PP", _roff_line(roff_inline(" ".join(block)))]
    return "\n".join(out) + "\n"


def _build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        day = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc).date()
    else:
        day = datetime.date.today()
    return day.isoformat()


def page_section(text: str) -> str:
    """The section number of a page's title line (``# name(N)``)."""
    title = _TITLE.match(text.splitlines()[0]) if text else None
    if title is None:
        raise ValueError("a man page starts with '# name(section)'")
    return title.group(2)


# --------------------------------------------------------------------------- build hook


def man_source(root: Path, command: str) -> Path:
    """The Markdown page of *command* for the package at *root*: ``man/`` in its sdist, else
    the repository's ``docs/man/``."""
    for candidate in (root / "man" / f"{command}.md",
                      root.parent.parent / "docs" / "man" / f"{command}.md"):  # fmt: skip
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"the man page of {command} is neither in {root / 'man'} "
                            f"nor in {root.parent.parent / 'docs' / 'man'}")  # fmt: skip


def add_man_pages(root: Path, commands: list[str], version: str,
                  build_data: dict[str, Any]) -> Path:  # fmt: skip
    """Write the roff page of each of *commands* to a new temporary folder (returned: the
    caller removes it once the wheel is written) and add each to the wheel's shared data as
    ``share/man/man<N>/<command>.<N>``."""
    folder = Path(tempfile.mkdtemp(prefix="poncho-man-"))
    for command in commands:
        source = man_source(root, command)
        text = source.read_text(encoding="utf-8")
        section = page_section(text)
        page = folder / f"{command}.{section}"
        page.write_text(markdown_to_roff(text, source.name, version=version), encoding="utf-8")
        build_data["shared_data"][os.fspath(page)] = f"share/man/man{section}/{page.name}"
    return folder


def configured_pages(config: dict[str, Any]) -> list[str]:
    """The hook's ``man-pages`` option: a list of command names."""
    pages = config.get("man-pages", [])
    if not isinstance(pages, list) or not all(isinstance(p, str) for p in pages):
        raise TypeError('man-pages: a list of command names, e.g. ["poncho_spec"]')
    return pages


class ManPageHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    """Adds the roff man pages named by the hook's ``man-pages`` option to the wheel."""

    PLUGIN_NAME = "custom"

    _folder: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Write the pages and add them to the wheel (wheels only; sdists carry the sources)."""
        if self.target_name != "wheel":
            return
        pages = configured_pages(self.config)
        self._folder = add_man_pages(Path(self.root), pages, self.metadata.version, build_data)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary pages once they are in the wheel."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
