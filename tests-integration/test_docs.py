"""The documentation is run and checked against the installed commands.

- Every page of docs/ (docs/dev/ and docs/dask.md aside) is run: its ```console blocks
  (``$ `` commands, with the output they show) and ```python blocks, in order, in one fresh
  folder per page, with the commands of `full_venv` first on PATH. A shell block that is
  not ```console must be marked ``<!-- not-run: reason -->`` on the line before it.
- Each man page's OPTIONS section lists every option of its command's parser, and nothing
  else; every command installed has a man page with the sections of the CCTools originals.
- docs/build.py converts the man pages to roff that groff reads without a warning, and
  fails with one line naming the place on a broken link.

No conda channel is reachable here: every ``poncho_package_create`` (and ``poncho create``)
a page runs gets ``--channel <local channel> --override-channels --no-index --find-links
<wheelhouse>`` put in front of its own arguments by a wrapper on PATH, so the pages can show
the ``conda-forge`` specs a user writes. ``poncho_package_analyze`` (and ``poncho
analyze``) maps imports to the packages of the environment it runs in: it runs from
`user_env`, a conda environment with poncho installed in it, as on a user's machine.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT, Venv, sh

DOCS = ROOT / "docs"
MAN = DOCS / "man"
# Pages run elsewhere: docs/dask.md's example needs Dask, and packages/poncho-dask's
# test_docs.py runs it.
ELSEWHERE = {DOCS / "dask.md"}
PAGES = sorted(
    p
    for p in DOCS.rglob("*.md")
    if not {"dev", "_build"} & set(p.relative_to(DOCS).parts) and p not in ELSEWHERE
)
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS",
                "EXAMPLES", "SEE ALSO"]  # fmt: skip
# command -> module whose build_parser() it uses (the umbrella `poncho` has none)
PARSERS = {
    "poncho_package_analyze": "poncho_analyze.cli",
    "poncho_package_create": "poncho_create.cli",
    "poncho_package_run": "poncho_run.cli",
    "poncho_fetch": "poncho_fetch.cli",
    "poncho_spec": "poncho_spec.cli",
}
SHELL_LANGUAGES = {"sh", "bash", "shell", "zsh", "console", "shell-session"}
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(\S.*?)\s*-->$")
PAGE_TIMEOUT = 1800  # a hang guard, not a speed check


# --------------------------------------------------------------------------- reading pages


@dataclass
class Command:
    """One ``$ `` command of a console block and the output lines shown under it."""

    line: int
    text: str
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int
    language: str
    body: list[str]
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{_shown(self.page)}:{self.line}"


def _shown(path: Path) -> Path:
    """*path* relative to the repository when it is inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def code_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the not-run reason written above each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[index])
        if not match:
            index += 1
            continue
        fence = match.group(2)
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        before = next((x.strip() for x in reversed(lines[:index]) if x.strip()), "")
        marker = NOT_RUN.match(before)
        indent = len(match.group(1))
        raw = lines[index + 1 : end]
        body = [x[indent:] if not x[:indent].strip() else x.lstrip() for x in raw]
        blocks.append(
            Block(
                page, index + 1, match.group(3).lower(), body, marker.group(1) if marker else None
            )
        )
        index = end + 1
    return blocks


def parse_console(block: Block) -> list[Command]:
    """The commands of a ```console block: ``$ `` lines, ``\\`` continuations, heredocs."""
    commands: list[Command] = []
    lines = block.body
    index = 0
    while index < len(lines):
        line = lines[index]
        number = block.line + 1 + index
        if not line.startswith("$ "):
            if not commands:
                if line.strip():
                    pytest.fail(f"{block.where}: output before the first '$ ' command: {line!r}")
                index += 1
                continue
            commands[-1].output.append(line)
            index += 1
            continue
        text = [line[2:]]
        index += 1
        while text[-1].endswith("\\") and index < len(lines):
            text.append(lines[index])
            index += 1
        heredocs = re.findall(r"(?<!<)<<(?!<)(-?)\s*['\"]?(\w+)['\"]?", "\n".join(text))
        for dash, term in heredocs:
            while index < len(lines):
                text.append(lines[index])
                index += 1
                if (text[-1].lstrip("\t") if dash else text[-1]) == term:
                    break
            else:
                pytest.fail(f"{block.where}: heredoc {term} is not closed")
        commands.append(Command(number, "\n".join(text)))
    if not commands:
        pytest.fail(f"{block.where}: a ```console block without a '$ ' command")
    return commands


@functools.cache
def _line_pattern(shown: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in shown.rstrip().split("...")))


def output_shows(shown: list[str], actual: str) -> bool:
    """Whether the lines *shown* appear in *actual*, in order and next to each other, where
    a line ``...`` stands for any number of lines and ``...`` in a line for any text."""
    expected = [x.rstrip() for x in shown]
    while expected and not expected[-1]:
        expected.pop()
    got = [x.rstrip() for x in actual.splitlines()]

    @functools.cache
    def match(e: int, a: int) -> bool:
        if e == len(expected):
            return True
        if expected[e].strip() == "...":
            return any(match(e + 1, k) for k in range(a, len(got) + 1))
        return (
            a < len(got)
            and bool(_line_pattern(expected[e]).fullmatch(got[a]))
            and match(e + 1, a + 1)
        )

    return any(match(0, a) for a in range(len(got) + 1))


def page_script(page: Path) -> tuple[str, list[tuple[Block, Command | None]]]:
    """A bash script running the page's blocks in order, with a marker line before each
    command; and the (block, command) each marker number stands for."""
    steps: list[tuple[Block, Command | None]] = []
    parts = ["exec 2>&1", "set -eo pipefail"]
    for block in code_blocks(page):
        if block.language in SHELL_LANGUAGES or (
            not block.language and any(x.startswith("$ ") for x in block.body)
        ):
            if block.language == "console" and block.not_run is None:
                for command in parse_console(block):
                    parts.append(f"printf '\\n@@doc-step {len(steps)}@@\\n'")
                    parts.append(command.text)
                    steps.append((block, command))
            elif block.language == "console":
                pytest.fail(f"{block.where}: a ```console block is run; use ```sh for "
                            "commands that are not")  # fmt: skip
            elif block.not_run is None:
                pytest.fail(f"{block.where}: a ```{block.language or '(no language)'} block of "
                            "commands: write it as ```console to have it run, or put "
                            "'<!-- not-run: reason -->' on the line before it")  # fmt: skip
        elif block.language == "python" and block.not_run is None:
            parts.append(f"printf '\\n@@doc-step {len(steps)}@@\\n'")
            parts.append("python - <<'PONCHO_DOC_PYTHON'\n" + "\n".join(block.body) +
                         "\nPONCHO_DOC_PYTHON")  # fmt: skip
            steps.append((block, None))
    return "\n".join(parts) + "\n", steps


# --------------------------------------------------------------------------- running pages


def _wrapper(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture(scope="session")
def doc_bin(
    tmp_path_factory: pytest.TempPathFactory,
    full_venv: Venv,
    local_channel: object,
    wheelhouse: object,
) -> Callable[[Venv | None], Path]:
    """A folder of wrappers put first on PATH for the pages (see the module docstring)."""
    offline = " ".join(shlex.quote(x) for x in [
        "--channel", local_channel.url, "--override-channels",  # type: ignore[attr-defined]
        "--no-index", "--find-links", str(wheelhouse.path),  # type: ignore[attr-defined]
    ])  # fmt: skip

    def make(user: Venv | None) -> Path:
        folder = tmp_path_factory.mktemp("doc-bin")
        full = shlex.quote(str(full_venv.bin))
        _wrapper(folder / "poncho_package_create",
                 f'exec {full}/poncho_package_create {offline} "$@"')  # fmt: skip
        # analyze maps imports to the packages of the environment it runs in: the user's.
        user_bin = shlex.quote(str(user.bin)) if user else full
        _wrapper(folder / "poncho_package_analyze", f'exec {user_bin}/poncho_package_analyze "$@"')
        _wrapper(folder / "poncho", "\n".join([
            'case "$1" in',
            f'  create) shift; exec {full}/poncho create {offline} "$@" ;;',
            f'  analyze) exec {user_bin}/poncho "$@" ;;',
            f'  *) exec {full}/poncho "$@" ;;',
            "esac",
        ]))  # fmt: skip
        return folder

    return make


def _uses_analyze(page: Path) -> bool:
    return any(
        re.search(r"\bponcho(_package_| )analyze\b", "\n".join(b.body))
        for b in code_blocks(page)
        if b.not_run is None
    )


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs(
    page: Path,
    request: pytest.FixtureRequest,
    full_venv: Venv,
    local_channel: object,
    wheelhouse: object,
    doc_bin: Callable[[Venv | None], Path],
    tmp_path: Path,
) -> None:
    script, steps = page_script(page)
    if not steps:
        pytest.skip("no command on this page")
    user = request.getfixturevalue("user_env") if _uses_analyze(page) else None
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(ROOT / "demo" / "example.py", work / "example.py")
    # What the offline sections of the guide call ./channel and ./wheelhouse.
    (work / "channel").symlink_to(local_channel.path)  # type: ignore[attr-defined]
    (work / "wheelhouse").symlink_to(wheelhouse.path)  # type: ignore[attr-defined]
    drop = {"PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX", "PONCHO_ENVS_DIR", "PONCHO_FETCH_CACHE",
            "PONCHO_FETCH_MAX_SIZE", "PONCHO_CREATE_TMPDIR", "XDG_CACHE_HOME"}  # fmt: skip
    env = {k: v for k, v in full_venv.env().items() if k not in drop}
    env["PATH"] = f"{doc_bin(user)}{os.pathsep}{env['PATH']}"
    if user is not None:  # the reader's conda environment is the activated one
        env.pop("VIRTUAL_ENV", None)
        env["CONDA_PREFIX"] = str(user.path)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.setdefault("PONCHO_PKGS_DIR", str(tmp_path / "pkgs"))
    env.update(GIT_AUTHOR_NAME="Doc Test", GIT_AUTHOR_EMAIL="doc@example.org",
               GIT_COMMITTER_NAME="Doc Test", GIT_COMMITTER_EMAIL="doc@example.org",
               GIT_CONFIG_NOSYSTEM="1", LC_ALL="C.UTF-8", COLUMNS="100")  # fmt: skip
    proc = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
        timeout=PAGE_TIMEOUT, check=False,
    )  # fmt: skip
    outputs = re.split(r"\n?@@doc-step (\d+)@@\n", proc.stdout)
    ran = {int(n): out for n, out in zip(outputs[1::2], outputs[2::2], strict=False)}
    last = max(ran, default=-1)
    for number, (block, command) in enumerate(steps):
        assert number in ran, f"{block.where}: not reached ({proc.stdout[-2000:]})"
        out = ran[number]
        what = f"{_shown(page)}:{command.line if command else block.line}"
        shown = command.text if command else "\n".join(block.body)
        if number == last and proc.returncode != 0:
            pytest.fail(f"{what}: exit status {proc.returncode}\n$ {shown}\n{out}")
        if command and command.output:
            assert output_shows(command.output, out), (
                f"{what}: the output shown is not what the command prints\n$ {shown}\n"
                "--- shown ---\n" + "\n".join(command.output) + f"\n--- printed ---\n{out}"
            )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_shell_blocks_are_run_or_marked() -> None:
    """Quick, without any environment: every command block of every page is console (run)
    or carries a not-run reason; console blocks parse."""
    for page in PAGES:
        page_script(page)


# --------------------------------------------------------------------------- the harness


@pytest.mark.parametrize(
    ("shown", "printed", "expected"),
    [
        (["a", "b"], "x\na\nb\ny\n", True),
        (["a", "b"], "a\nx\nb\n", False),
        (["a", "...", "b"], "a\nx\ny\nb\n", True),
        (["env-...-linux-64.tar.gz"], "env-abc-linux-64.tar.gz\n", True),
        (["env-...-linux-64.tar.gz"], "env-abc-osx-64.tar.gz\n", False),
        (["b", "a"], "a\nb\n", False),
    ],
)
def test_output_shows(shown: list[str], printed: str, expected: bool) -> None:
    assert output_shows(shown, printed) is expected


def test_console_parsing_and_not_run_marks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ cat > f <<'EOF'\nx\nEOF\n$ echo a \\\n  b\na b\n```\n\n"
        "<!-- not-run: needs PyPI -->\n```sh\npip install poncho\n```\n"
    )
    console, sh_block = code_blocks(page)
    assert sh_block.not_run == "needs PyPI"
    commands = parse_console(console)
    assert [c.text for c in commands] == ["cat > f <<'EOF'\nx\nEOF", "echo a \\\n  b"]
    assert commands[1].output == ["a b"]
    page.write_text("```sh\npip install poncho\n```\n")
    with pytest.raises(pytest.fail.Exception, match="not-run"):
        page_script(page)


# --------------------------------------------------------------------------- man pages

_OPTIONS_PROBE = """
import argparse, importlib, json, re, sys
parsers = json.loads(sys.argv[1])

def walk(parser):
    options, commands = set(), set()
    for action in parser._actions:
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands.add(name)
                sub_options, _ = walk(sub)
                options |= sub_options
    return options, commands

out = {}
for command, module in parsers.items():
    try:
        parser = importlib.import_module(module).build_parser()
    except Exception as exc:  # reported by the test, not here
        out[command] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    options, commands = walk(parser)
    out[command] = {"options": sorted(options), "commands": sorted(commands)}
import poncho.cli
out["poncho"] = {
    "usage_options": sorted(set(re.findall(r"\\[(-[-\\w]+)", poncho.cli.usage()))),
    "commands": sorted(poncho.cli.COMMANDS),
}
from importlib.metadata import distributions
out["_scripts"] = sorted(
    {ep.name for d in distributions() if (d.metadata["Name"] or "").startswith("poncho")
     for ep in d.entry_points if ep.group == "console_scripts"}
    # scripts that are files, not entry points (poncho_package_run: a sh front end)
    | {f.name for d in distributions() if (d.metadata["Name"] or "").startswith("poncho")
       for f in d.files or () if f.parent.name == "bin" and f.name.startswith("poncho")}
)
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def installed_cli(full_venv: Venv) -> dict[str, dict[str, list[str]]]:
    """Options and sub-commands of each command, read from its parser in `full_venv`."""
    proc = sh([full_venv.python, "-c", _OPTIONS_PROBE, json.dumps(PARSERS)], env=full_venv.env())
    result: dict[str, dict[str, list[str]]] = json.loads(proc.stdout)
    return result


def man_sections(page: Path) -> dict[str, str]:
    """``## SECTION`` -> its text."""
    sections: dict[str, str] = {}
    current = None
    for line in page.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^##\s+(.+?)\s*$", line)
        if match:
            current = match.group(1)
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def man_options(page: Path) -> set[str]:
    """The options an OPTIONS section documents: the leading code spans of its list items,
    ``- `-e`, `--environment` *ENV*: text``."""
    found: set[str] = set()
    for line in man_sections(page).get("OPTIONS", "").splitlines():
        if not line.startswith("- "):
            continue
        head = re.match(r"^- ((?:`[^`]+`)(?:,\s*`[^`]+`)*)(?:\s+\*[^*]+\*)?:\s", line)
        assert head, f"{page.name}: an OPTIONS item is not '- `-x`, `--long` *ARG*: text': {line}"
        found |= {span.split()[0] for span in re.findall(r"`([^`]+)`", head.group(1))}
    return found


def test_every_command_has_a_man_page(installed_cli: dict[str, dict[str, list[str]]]) -> None:
    # The old CCTools names (python_package_analyze...), kept because Parsl looks them up,
    # are aliases: the page of their poncho_package_* name says so.
    aliases = {s for s in installed_cli["_scripts"] if s.startswith("python_package_")}
    for alias in aliases:
        page = MAN / f"{alias.replace('python_package_', 'poncho_package_')}.md"
        assert alias in page.read_text(encoding="utf-8"), f"{page.name} does not name {alias}"
    scripts = set(installed_cli["_scripts"]) - aliases
    assert scripts == set(PARSERS) | {"poncho"}, "a command was added: write its man page"
    assert {p.stem for p in MAN.glob("*.md") if p.name != "README.md"} == scripts


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_man_page_lists_exactly_the_parser_options(
    command: str, installed_cli: dict[str, dict[str, list[str]]]
) -> None:
    info = installed_cli[command]
    assert "error" not in info, f"{command}: build_parser() failed: {info.get('error')}"
    page = MAN / f"{command}.md"
    documented = man_options(page)
    options = set(info["options"])
    assert documented - options == set(), f"{page.name} documents options {command} lacks"
    assert options - documented == set(), f"{page.name} lacks options of {command}"
    text = page.read_text(encoding="utf-8")
    for sub in info["commands"]:
        assert f"`{sub}" in text, f"{page.name} does not describe the sub-command {sub}"


def test_umbrella_man_page(installed_cli: dict[str, dict[str, list[str]]], full_venv: Venv) -> None:
    """`poncho` has no argparse parser: its usage line and a probe of each option decide."""
    page = MAN / "poncho.md"
    documented = man_options(page)
    info = installed_cli["poncho"]
    assert set(info["usage_options"]) <= documented
    for option in sorted(documented):
        proc = subprocess.run([full_venv.script("poncho"), option], capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, f"poncho {option}: {proc.stderr}"
    text = page.read_text(encoding="utf-8")
    for sub in info["commands"]:
        assert f"`{sub}`" in text, f"poncho.md does not describe poncho {sub}"


@pytest.mark.parametrize("page", sorted(p for p in MAN.glob("*.md") if p.name != "README.md"),
                         ids=lambda p: p.stem)  # fmt: skip
def test_man_page_has_the_sections_of_the_originals(page: Path) -> None:
    first = page.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# {page.stem}(1)"
    assert list(man_sections(page)) == MAN_SECTIONS
    name = man_sections(page)["NAME"].strip()
    assert name.startswith(f"{page.stem} - "), name


# --------------------------------------------------------------------------- docs/build.py


def test_build_writes_man_pages_groff_reads_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, DOCS / "build.py", out, "--no-api"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pages = sorted(p.stem for p in (out / "man").glob("*.1"))
    assert pages == sorted(p.stem for p in MAN.glob("*.md") if p.name != "README.md")
    assert (out / "guide.html").exists() or (out / "guide.md").exists()
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed")
    for page in (out / "man").glob("*.1"):
        check = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", page],
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert check.returncode == 0 and not check.stderr, f"{page.name}: {check.stderr}"
        text = subprocess.run([groff, "-man", "-Tutf8", page], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        text = re.sub(r".\x08", "", re.sub(r"\x1b\[[0-9;]*m", "", text))  # no bold, no colour
        assert "SYNOPSIS" in text and page.stem in text
        if page.stem == "poncho_package_run":  # an OPTIONS item, as man shows it
            assert re.search(r"^ +-u, -d, --unpack-to DIR$", text, re.MULTILINE), text


def test_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    for entry in ROOT.iterdir():  # the rest of the repository, which the pages link to
        if entry.name != "docs":
            (tmp_path / entry.name).symlink_to(entry)
    guide = docs / "guide.md"
    text = guide.read_text(encoding="utf-8").splitlines()
    text.insert(2, "See [the missing page](man/poncho_nothing.md) and [here](#no-such-heading).")
    guide.write_text("\n".join(text) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, docs / "build.py", tmp_path / "out", "--no-api"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "build.py: error: docs/guide.md:3: broken link 'man/poncho_nothing.md'",
        "build.py: error: docs/guide.md:3: broken link '#no-such-heading' (no such heading)",
    ]
    assert not (tmp_path / "out").exists(), "nothing is written when a link is broken"
