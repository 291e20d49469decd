"""The install commands of the README and the guide, run as written from a checkout, in fresh
venvs made with the standard library's venv and pip (third-party dependencies from the index);
and the release: what `make dist` builds (tools/dist.py), installed with
`pip install --find-links dist ...` from a folder with no checkout.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import PUBLISHED, ROOT, Venv, make_venv, sh

# The commands exactly as README.md and docs/guide.md give them (checked below).
EVERYTHING = (
    "python -m pip install ./packages/poncho-core ./packages/poncho-spec ./packages/poncho-fetch "
    "./packages/poncho-run ./packages/poncho-create ./packages/poncho-analyze ./packages/poncho"
)
WORKER = (
    "python -m pip install ./packages/poncho-core ./packages/poncho-spec ./packages/poncho-fetch "
    "./packages/poncho-run"
)

# The Dask plugin, as README.md and docs/dask.md give it.
DASK = (
    "python -m pip install ./packages/poncho-core ./packages/poncho-spec ./packages/poncho-fetch "
    "./packages/poncho-run ./packages/poncho-dask"
)


def _install(tmp_path: Path, command: str) -> Venv:
    venv = Venv(tmp_path / "venv")
    sh([sys.executable, "-m", "venv", venv.path])
    argv = shlex.split(command)
    assert argv[:1] == ["python"]
    sh([venv.python, *argv[1:], "--quiet", "--disable-pip-version-check"], cwd=ROOT)
    return venv


@pytest.mark.parametrize("page", ["README.md", "docs/guide.md"])
def test_the_pages_give_these_commands(page: str) -> None:
    text = " ".join((ROOT / page).read_text(encoding="utf-8").replace("\\\n", " ").split())
    assert EVERYTHING in text
    assert WORKER in text


@pytest.mark.parametrize("page", ["README.md", "docs/dask.md"])
def test_the_pages_give_the_dask_command(page: str) -> None:
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    assert DASK in text
    assert "pip install --find-links dist poncho-dask" in text
    assert "`pip install poncho-dask`" not in text  # nothing is published yet


def test_the_dask_plugin_from_a_checkout(tmp_path: Path) -> None:
    venv = _install(tmp_path, DASK)
    code = "import poncho_dask, distributed; print(poncho_dask.__name__)"
    assert sh([venv.python, "-c", code]).stdout.strip() == "poncho_dask"


def test_the_whole_tool_set_from_a_checkout_in_one_command(tmp_path: Path) -> None:
    venv = _install(tmp_path, EVERYTHING)
    for command in ("poncho", "poncho_package_analyze", "poncho_package_create",
                    "poncho_package_run", "poncho_fetch", "poncho_spec",
                    "python_package_create"):  # fmt: skip
        assert venv.script(command).exists()
    assert sh([venv.script("poncho"), "--version"]).stdout.strip() == "poncho 0.1.0"
    shown = sh([venv.python, "-m", "pip", "show", "poncho-tools"]).stdout
    assert "Name: poncho-tools" in shown
    code = "from poncho import package_create, package_analyze; print(package_create.__name__)"
    assert sh([venv.python, "-c", code]).stdout.strip() == "poncho.package_create"


def test_a_worker_gets_poncho_run_alone(tmp_path: Path) -> None:
    venv = _install(tmp_path, WORKER)
    assert sh([venv.script("poncho_package_run"), "--version"]).returncode == 0
    for heavy in ("rattler", "conda_pack", "libcst", "poncho_create", "poncho"):
        assert not venv.has_module(heavy), f"{heavy} reached the worker"
    proc = subprocess.run([venv.python, "-m", "pip", "show", "poncho-tools"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0


# --------------------------------------------------------------------------- make dist

VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
# Distribution names (the folder packages/poncho holds poncho-tools).
RELEASED = [n.replace("poncho", "poncho-tools") if n == "poncho" else n for n in PUBLISHED]
RELEASED.append("poncho-dask")


def _uv() -> str:
    found = shutil.which("uv", path=sysconfig.get_path("scripts")) or shutil.which("uv")
    assert found, "uv is in tests-integration/requirements.txt"
    return found


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make dist` writes (tools/dist.py: build from the sdists, twine check --strict),
    built offline with this environment's hatchling."""
    out = tmp_path_factory.mktemp("release") / "dist"
    sh([sys.executable, ROOT / "tools" / "dist.py", "--no-isolation", out])
    return out


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory, release: Path) -> Path:
    """The release copied to a folder with no checkout in or above it, the uv cache warmed
    with the third-party dependencies of the three installs checked below.

    Warming is the one step that may reach the registry (as conftest's venvs do); the
    installs checked are then made with `--offline`: from that folder and the cache only.
    """
    base = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(release, base / "dist")
    make_venv(base / "warm", "poncho-tools", "poncho-dask", find_links=release)
    shutil.rmtree(base / "warm")
    return base


def test_make_dist_writes_every_distribution_and_the_runner(release: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in release.iterdir())
    wheels = [f"{n.replace('-', '_')}-{VERSION}-py3-none-any.whl" for n in RELEASED]
    sdists = [f"{n.replace('-', '_')}-{VERSION}.tar.gz" for n in RELEASED]
    assert names == sorted([*wheels, *sdists, "poncho_package_run"])
    runner = release / "poncho_package_run"
    assert os.access(runner, os.X_OK)
    assert runner.read_bytes().startswith(b"#!/bin/sh")
    # The release asset runs as a worker runs it: copied alone, no poncho installed.
    copy = shutil.copy(runner, tmp_path / "poncho_package_run")
    proc = sh([copy, "--version"], env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert proc.stdout.strip() == f"poncho_package_run {VERSION}"


def test_dist_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "old.whl").write_text("")
    proc = subprocess.run([sys.executable, ROOT / "tools" / "dist.py", tmp_path],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr == f"dist.py: error: {tmp_path} is not empty: remove it first\n"


@pytest.mark.parametrize(
    ("requirement", "command"),
    [
        ("poncho-tools", ["poncho", "--version"]),
        ("poncho-run", ["poncho_package_run", "--help"]),
        ("poncho-dask", ["python", "-c", "import poncho_dask, poncho_run; print('ok')"]),
    ],
)
def test_pip_install_find_links_dist_needs_no_checkout(
    elsewhere: Path, requirement: str, command: list[str]
) -> None:
    venv = Venv(elsewhere / requirement)
    sh([_uv(), "venv", "--quiet", "--python", sys.executable, venv.path], cwd=elsewhere)
    sh([_uv(), "pip", "install", "--offline", "--quiet", "--python", venv.python,
        "--find-links", "dist", requirement], cwd=elsewhere)  # fmt: skip
    proc = sh(command, cwd=elsewhere, env=venv.env())
    if requirement == "poncho-tools":
        assert proc.stdout.strip() == f"poncho {VERSION}"
    # Installed from the release's wheels, not from the checkout (no editable, no direct URL).
    code = (
        "import importlib.metadata as m, sys; d = m.distribution(sys.argv[1]); "
        "print(d.version, d.read_text('direct_url.json'))"
    )
    shown = sh([venv.python, "-c", code, requirement]).stdout
    assert shown.split()[0] == VERSION
    assert str(ROOT) not in shown


# --------------------------------------------------------------------------- man pages

MAN_PAGES = sorted(p.stem for p in (ROOT / "docs" / "man").glob("*.md") if p.name != "README.md")


def _man() -> str | None:
    """man(1), installed with apt-get (man-db) as root where it is missing, like the other
    Debian tools of the integration tests; None where it cannot be had."""
    found = shutil.which("man")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get") is not None:
        sh(["apt-get", "update", "-q"])
        sh(["apt-get", "install", "-y", "-q", "man-db"])
        found = shutil.which("man")
    return found


def test_man_finds_the_pages_the_wheels_install(elsewhere: Path) -> None:
    venv = Venv(elsewhere / "man")
    sh([_uv(), "venv", "--quiet", "--python", sys.executable, venv.path], cwd=elsewhere)
    sh([_uv(), "pip", "install", "--offline", "--quiet", "--python", venv.python,
        "--find-links", "dist", "poncho-tools"], cwd=elsewhere)  # fmt: skip
    man1 = venv.path / "share" / "man" / "man1"
    assert sorted(p.name for p in man1.iterdir()) == [f"{c}.1" for c in MAN_PAGES]
    groff = shutil.which("groff")
    for command in MAN_PAGES:
        page = man1 / f"{command}.1"
        assert page.read_text(encoding="utf-8").startswith(f'.TH "{command.upper()}" "1" ')
        assert f'"poncho {VERSION}"' in page.read_text(encoding="utf-8").splitlines()[0]
        if groff is not None:
            check = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", page],
                                   capture_output=True, text=True, check=False)  # fmt: skip
            assert check.returncode == 0 and not check.stderr, f"{page.name}: {check.stderr}"
    man = _man()
    if man is None:
        return  # the pages are installed and groff reads them; man itself cannot be had here
    manpath = {**os.environ, "MANPATH": str(venv.path / "share" / "man")}
    for command in MAN_PAGES:
        found = sh([man, "-w", command], env=manpath, cwd=elsewhere).stdout.strip()
        assert found == str(man1 / f"{command}.1")
    # With the venv's bin first on PATH (an activated venv) man-db needs no MANPATH.
    activated = venv.env()
    activated.pop("MANPATH", None)
    found = sh([man, "-w", "poncho_package_run"], env=activated, cwd=elsewhere).stdout.strip()
    assert found == str(man1 / "poncho_package_run.1")


# --------------------------------------------------------------------------- release workflow

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def _run_steps(text: str) -> dict[str, str]:
    """The `run:` steps of a workflow by their `name:` (plain, `|` and `>-` scalars only)."""
    steps: dict[str, str] = {}
    lines = text.splitlines()
    name = ""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("- name:", "name:")):
            name = stripped.split(":", 1)[1].strip()
        if not stripped.startswith("run:"):
            continue
        value = stripped[len("run:") :].strip()
        if value not in ("|", ">-"):
            steps[name] = value
            continue
        indent = len(line) - len(line.lstrip()) + 2
        block = []
        for follow in lines[index + 1 :]:
            if follow.strip() and len(follow) - len(follow.lstrip()) < indent:
                break
            block.append(follow[indent:])
        steps[name] = ("\n" if value == "|" else " ").join(block).strip()
    return steps


def test_the_release_workflow_runs_here_up_to_the_publish_step(
    tmp_path: Path, release: Path
) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    steps = _run_steps(text)
    build = text[text.index("  build:") : text.index("  pypi:")]
    assert "run: make dist" in build  # the build job is `make dist`, which `release` runs
    publish = text[text.index("  pypi:") : text.index("  forge-release:")]
    assert "pypa/gh-action-pypi-publish@release/v1" in publish
    assert "id-token: write" in publish and "password" not in publish  # trusted publishing
    # The shell steps, run as the forge runs them, on a checkout's files and this release.
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("VERSION", "CHANGELOG.md"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(release, work / "dist")
    env = {**os.environ, "GITHUB_REF_NAME": f"v{VERSION}"}
    for name, script in steps.items():
        if "make dist" in script or "gh release" in script:
            continue  # the build is the `release` fixture; the upload needs the forge
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    assert sorted(p.name for p in (work / "pypi").iterdir()) == sorted(
        p.name for p in release.iterdir() if p.name != "poncho_package_run"
    )
    assert [p.name for p in (work / "dist").iterdir()] == ["poncho_package_run"]
    notes = (work / "notes.md").read_text(encoding="utf-8")
    assert notes.startswith(f"## {VERSION} - ")  # CHANGELOG.md has this version's section
    assert notes.count("\n## ") == 0
    # A tag that is not VERSION stops the build before anything is built.
    check = steps["The tag is the version every distribution says (VERSION)"]
    wrong = subprocess.run(["bash", "-e", "-c", check], cwd=work, check=False,
                           env={**env, "GITHUB_REF_NAME": "v9.9.9"})  # fmt: skip
    assert wrong.returncode != 0
