"""Build the documentation: ``python docs/build.py OUTDIR [--no-api]``.

Writes into OUTDIR:

- ``man/<command>.1``: roff man pages converted from ``docs/man/<command>.md`` by
  tools/hatch_man.py, the converter whose build hook puts the same pages into the wheels;
- ``*.html`` and ``man/*.html``: every page of docs/ as HTML (with markdown2, which pdoc
  brings; without it the ``.md`` files are copied);
- ``api/``: the API reference of every published package, made with pdoc (``--no-api``
  leaves it out, for checks where pdoc is not installed).

Before anything is written, every relative link between the Markdown files of docs/ (and
every ``#anchor`` into one) is checked: a broken link stops the build with exit status 1 and
one line per broken link, ``build.py: error: FILE:LINE: broken link 'TARGET'``.
Links to ``api/...`` are checked against the pdoc output once it is made.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# The man page converter is the one the wheels' build hooks use (tools/hatch_man.py).
sys.path.insert(0, str(DOCS.parent / "tools"))
from hatch_man import EXTERNAL, FENCE, INLINE_CODE, markdown_to_roff, page_section  # noqa: E402

API_MODULES = ["poncho", "poncho_spec", "poncho_analyze", "poncho_create", "poncho_run",
               "poncho_fetch"]  # fmt: skip
# Public modules that pdoc does not reach through a package's __all__, and what they need.
OPTIONAL_API_MODULES = {"poncho_dask": "pip install poncho-dask (it brings Dask distributed)"}
# One version for every distribution (tools/versions.py holds the packages to it).
VERSION = (DOCS.parent / "VERSION").read_text(encoding="utf-8").strip()
PROG = "build.py"


class BuildError(Exception):
    """A problem that stops the build; each line of the message is one problem."""


# --------------------------------------------------------------------------- Markdown source


@dataclass(frozen=True)
class Link:
    """A relative link found in a Markdown file."""

    source: Path
    line: int
    target: str


_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def markdown_files(docs: Path = DOCS) -> list[Path]:
    """Every Markdown file under *docs* except the build output."""
    return sorted(p for p in docs.rglob("*.md") if "_build" not in p.relative_to(docs).parts)


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of *text* outside fenced code blocks, inline code blanked out."""
    text = _HTML_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        yield number, INLINE_CODE.sub(lambda m: " " * len(m.group()), line)


def find_links(path: Path) -> list[Link]:
    """The relative links of a Markdown file (external URLs left out)."""
    links = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        ref = _REF_DEF.match(line)
        if ref:
            targets.append(ref.group(1))
        links += [Link(path, number, t) for t in targets if not EXTERNAL.match(t)]
    return links


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link counts by its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes for the headings of a Markdown file (duplicates numbered)."""
    seen: dict[str, int] = {}
    result = set()
    for _number, line in prose_lines(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = slugify(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def check_links(docs: Path = DOCS, api_dir: Path | None = None) -> list[str]:
    """One message per broken relative link between the Markdown files of *docs*.

    Links into ``api/`` are checked in *api_dir* (the pdoc output), or skipped without it.
    """
    problems = []
    root = docs.parent
    for path in markdown_files(docs):
        for link in find_links(path):
            where = f"{path.relative_to(root)}:{link.line}"
            target, _, anchor = link.target.partition("#")
            if not target:
                resolved = path
            else:
                resolved = (path.parent / target).resolve()
                rel = _relative_to(resolved, docs)
                if rel is not None and rel.parts[:1] == ("api",):
                    if api_dir is None:
                        continue
                    resolved = api_dir.joinpath(*rel.parts[1:])
                if not resolved.exists():
                    problems.append(f"{where}: broken link '{link.target}'")
                    continue
            if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where}: broken link '{link.target}' (no such heading)")
    return problems


def _relative_to(path: Path, folder: Path) -> Path | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


# --------------------------------------------------------------------------- man pages


def build_man(docs: Path, out: Path) -> list[Path]:
    """Convert docs/man/*.md into *out*/<name>.<section>; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for page in sorted((docs / "man").glob("*.md")):
        if page.name == "README.md":
            continue
        text = page.read_text(encoding="utf-8")
        try:
            roff = markdown_to_roff(text, str(page.relative_to(docs.parent)), version=VERSION)
        except ValueError as exc:
            raise BuildError(str(exc)) from exc
        section = page_section(text)
        target = out / f"{page.stem}.{section}"
        _write(target, roff)
        written.append(target)
    return written


# --------------------------------------------------------------------------- HTML and API

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{max-width:52rem;margin:2rem auto;padding:0 1rem;font-family:sans-serif;
line-height:1.5}}pre{{background:#f4f4f4;padding:.6rem;overflow-x:auto}}
code{{background:#f4f4f4}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem}}</style></head>
<body>
{body}
</body></html>
"""


def build_html(docs: Path, out: Path) -> list[Path]:
    """Every Markdown page of docs/ (dev/ included) as HTML, or copied without markdown2."""
    try:
        import markdown2  # pdoc's dependency
    except ImportError:
        markdown2 = None
    written = []
    for page in markdown_files(docs):
        rel = page.relative_to(docs)
        text = page.read_text(encoding="utf-8")
        if markdown2 is None:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, target)
        else:
            text = _html_links(text, page, out / rel, docs)
            body = markdown2.markdown(
                text, extras=["fenced-code-blocks", "tables", "header-ids", "code-friendly"]
            )
            title = next((x.lstrip("# ").strip() for x in text.splitlines() if x.startswith("#")),
                         rel.stem)  # fmt: skip
            target = out / rel.with_suffix(".html")
            _write(target, _PAGE.format(title=title, body=body))
        written.append(target)
    return written


def _html_links(text: str, page: Path, target: Path, docs: Path) -> str:
    """Links of *page* made right for its HTML copy at *target*: ``.md`` pages of docs/
    become ``.html``; files outside docs/ are reached from where the copy is."""

    def fix(match: re.Match[str]) -> str:
        link = match.group(1)
        path, hash_, anchor = link.partition("#")
        if not path or EXTERNAL.match(path):
            return match.group()
        resolved = (page.parent / path).resolve()
        if _relative_to(resolved, docs) is not None:
            if resolved.suffix == ".md":
                path = path[: -len(".md")] + ".html"
        else:
            path = os.path.relpath(resolved, target.parent.resolve())
        return f"]({path}{hash_}{anchor})"

    return re.sub(r"\]\(([^)\s]+)\)", fix, text)


def build_api(out: Path) -> list[str]:
    """The pdoc API reference of the published packages into *out*; returns pdoc's warnings.

    The packages load their public names lazily (module ``__getattr__``), which pdoc does not
    see: each name of ``__all__`` is resolved first so that it is documented where exported.
    """
    import importlib

    import pdoc

    problems = []
    modules = list(API_MODULES)
    for name, needs in OPTIONAL_API_MODULES.items():
        try:
            importlib.import_module(name)
        except ImportError:
            problems.append(f"{name} is not documented: it needs {needs}")
        else:
            modules.append(name)
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            try:
                setattr(module, attr, getattr(module, attr))
            except Exception as exc:  # an export that does not import is a doc defect
                problems.append(f"{name}.{attr} is exported but cannot be loaded: {exc}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=out)
    problems += [str(w.message).splitlines()[0] for w in caught]
    return problems


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- command line


def build(out: Path, *, api: bool = True, docs: Path = DOCS) -> list[str]:
    """Check links, then write man pages, HTML and (with *api*) the API reference to *out*.

    Returns warnings; raises BuildError for broken links.
    """
    problems = check_links(docs)
    if problems:
        raise BuildError("\n".join(problems))
    warned: list[str] = []
    build_man(docs, out / "man")
    build_html(docs, out)
    if api:
        warned += build_api(out / "api")
        problems = check_links(docs, api_dir=out / "api")
        if problems:
            raise BuildError("\n".join(problems))
    return warned


def main(argv: Sequence[str] | None = None) -> int:
    """Build the docs; exit status 0, 1 on a broken link or failed step, 2 on bad usage."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("out", metavar="OUTDIR", type=Path, help="output folder")
    parser.add_argument("--no-api", action="store_true", help="skip the pdoc API reference")
    parser.add_argument("--strict", action="store_true", help="fail on API reference warnings too")
    args = parser.parse_args(argv)
    try:
        warned = build(args.out, api=not args.no_api)
    except BuildError as exc:
        sys.stderr.write("".join(f"{PROG}: error: {line}\n" for line in str(exc).splitlines()))
        return 1
    for line in warned:
        sys.stderr.write(f"{PROG}: warning: {line}\n")
    if warned and args.strict:
        return 1
    sys.stdout.write(f"{PROG}: documentation written to {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
