"""The ``poncho_package_run`` script as pip installs it and as CCTools clients copy it: alone
in a sandbox, with a bare python3 (scenario 1) or no Python at all (scenario 2); its CCTools
dialects; its pure-sh warm path; the tar path's safety; and the one on-disk protocol shared
with the Python API (a race between both)."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from poncho_run._state import read_state
from poncho_run_helpers import make_tar, member, script, tree
from poncho_testing.tars import PACKED_STATE_MEMBERS, STATE_FOLDER_MEMBERS, make_indexed_tar

PACKAGE = Path(__file__).resolve().parents[1]
FRONT_END = PACKAGE / "scripts" / "poncho_package_run.sh"
# A Python without poncho (the one the test venv was made from).
BARE_PYTHON = Path(sys.base_prefix, "bin", "python3")
# What a worker without Python still has.
TOOLS = ("sh", "tar", "gzip", "flock", "mkdir", "rm", "mv", "ln", "ls", "readlink", "mktemp",
         "rmdir", "cat", "env", "sleep", "touch", "stat", "sha256sum")  # fmt: skip


def installed_script(name: str = "poncho_package_run") -> Path:
    path = Path(sysconfig.get_path("scripts"), name)
    assert path.is_file(), f"{path}: not installed (the wheel's build hook makes it)"
    return path


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A task sandbox holding a copy of the installed runner, as Work Queue makes one."""
    folder = tmp_path / "sandbox"
    folder.mkdir()
    shutil.copy2(installed_script(), folder / "poncho_package_run")
    return folder


@pytest.fixture
def no_python_path(tmp_path: Path) -> str:
    """A PATH with the usual tools of a worker node and no Python at all."""
    folder = tmp_path / "worker-bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    for tool in ("xz", "bzip2", "zstd"):
        if (found := shutil.which(tool)) is not None:
            (folder / tool).symlink_to(found)
    return str(folder)


@pytest.fixture
def bare_python_path(tmp_path: Path) -> str:
    """A PATH whose python3 has no poncho (nor poncho-spec, poncho-fetch) installed."""
    probe = subprocess.run(
        [BARE_PYTHON, "-c", "import poncho_run"], capture_output=True, check=False
    )
    assert probe.returncode != 0, "the base interpreter must not have poncho_run"
    folder = tmp_path / "py-bin"
    folder.mkdir()
    (folder / "python3").symlink_to(BARE_PYTHON)
    return f"{folder}:/usr/bin:/bin"


def bare_env_members(extra: list[tuple[tarfile.TarInfo, bytes | None]] | None = None) -> list:  # type: ignore[type-arg]
    """A small environment whose bin/python is a Python without poncho (its own
    interpreter, as far as the runner knows)."""
    return [
        member("bin", kind=tarfile.DIRTYPE, mode=0o755),
        member(
            "bin/hello",
            script('echo "hello prefix=$CONDA_PREFIX act=${HAND_ACTIVATED-}"; exit "${1:-0}"'),
            mode=0o755,
        ),
        member("bin/python", script(f'exec {BARE_PYTHON} "$@"'), mode=0o755),
        member("etc/conda/activate.d/hand.sh", b'export HAND_ACTIVATED="yes:$CONDA_PREFIX"\n'),
        *(extra or []),
    ]


@pytest.fixture
def bare_tarball(tmp_path: Path) -> Path:
    return make_tar(tmp_path / "env.tar.gz", bare_env_members())


def run(
    sandbox: Path, path: str, *argv: str, name: str = "poncho_package_run"
) -> subprocess.CompletedProcess[str]:
    """The runner copied alone into `sandbox`, run there with only PATH, HOME and TMPDIR."""
    env = {"PATH": path, "HOME": str(sandbox), "TMPDIR": str(sandbox)}
    return copied(sandbox, env, *argv, name=name)


def hello(prefix: Path) -> str:
    return f"hello prefix={prefix} act=yes:{prefix}\n"


# -- the file itself -------------------------------------------------------------------------


def test_the_installed_script_is_the_front_end_and_carries_the_engine() -> None:
    data = installed_script().read_bytes()
    front = FRONT_END.read_bytes()
    assert data.startswith(front) and data[len(front) : len(front) + 2] == b"PK"
    assert installed_script("python_package_run").read_bytes() == data


# Runs the script's engine (as `python3 SCRIPT` does) with `folder` on sys.path after it, and
# prints where poncho_run.cli came from.
WHICH_ENGINE = """
import runpy, sys
sys.path.insert(0, sys.argv[2])
sys.argv = [sys.argv[1], "--version"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print(sys.modules["poncho_run.cli"].__file__)
"""


def test_the_engine_imports_the_installed_package_of_its_own_build(tmp_path: Path) -> None:
    """Beside the package pip installed with it, the script's engine imports that one (its
    byte code compiled once) instead of compiling the zip's sources at each run; any other
    poncho_run on the path (another build) is not used."""
    installed = Path(sysconfig.get_path("purelib"), "poncho_run")
    proc = subprocess.run(
        [sys.executable, "-c", WHICH_ENGINE, installed_script(), str(installed.parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == str(installed / "cli.py"), proc.stderr
    other = tmp_path / "other" / "poncho_run"
    shutil.copytree(installed, other)
    (other / "_engine_id").write_text("another build\n")
    proc = subprocess.run(
        [sys.executable, "-c", WHICH_ENGINE, installed_script(), str(other.parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == f"{installed_script()}/poncho_run/cli.py"


def test_the_front_end_is_posix_sh_that_shellcheck_accepts() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); make lint runs it")
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", str(FRONT_END)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout


# -- scenario 1 and 2 ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_a_copied_runner_unpacks_then_runs_warm(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    shutil.copy(bare_tarball, sandbox / "env.tar.gz")
    cold = run(sandbox, path, "-e", "env.tar.gz", "-u", "envdir", "-v", "--", "hello", "3")
    assert (cold.returncode, cold.stdout) == (3, hello(sandbox / "envdir")), cold.stderr
    assert ("(tar: no python3" in cold.stderr) == (scenario == "no python")
    assert read_state(str(sandbox / "envdir")) is not None
    (sandbox / "env.tar.gz").unlink()  # warm: not read
    warm = run(sandbox, no_python_path, "-e", "env.tar.gz", "-u", "envdir", "--", "hello")
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, hello(sandbox / "envdir"), "")
    missing = run(sandbox, no_python_path, "-u", "envdir", "--", "no-such-command")
    assert missing.returncode == 127 and "no-such-command: command not found" in missing.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_a_copied_runner_unpacks_an_indexed_tarball(
    scenario: str, sandbox: Path, no_python_path: str, bare_python_path: str
) -> None:
    """The script's zip carries the indexed extractor: an indexed tarball runs (with no
    Python, GNU tar reads it as one stream), and one whose index lies about a file's data
    is refused by the engine (read as a stream, it would pass)."""
    path = no_python_path if scenario == "no python" else bare_python_path
    members = bare_env_members()
    make_indexed_tar(sandbox / "env.tar.gz", [members[:2], members[2:]])
    cold = run(sandbox, path, "-e", "env.tar.gz", "-u", "envdir", "--", "hello", "3")
    assert (cold.returncode, cold.stdout) == (3, hello(sandbox / "envdir")), cold.stderr
    assert (sandbox / "envdir" / "poncho" / "index.json").is_file()
    if scenario == "no python":
        return

    def lie(index: Any) -> Any:
        files = [
            dataclasses.replace(f, sha256="0" * 64) if f.path == "bin/hello" else f
            for f in index.files
        ]
        return dataclasses.replace(index, files=tuple(files))

    make_indexed_tar(sandbox / "lies.tar.gz", [members[:2], members[2:]], edit=lie)
    bad = run(sandbox, path, "-e", "lies.tar.gz", "-u", "other", "--", "hello")
    assert bad.returncode == 1 and bad.stdout == "", bad.stderr
    assert bad.stderr == (
        "poncho_package_run: error: lies.tar.gz: 'bin/hello' does not match its sha256 in "
        "the index\n"
    )
    assert not (sandbox / "other").exists()


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_without_a_folder_a_temporary_one_is_used_and_removed(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    proc = run(sandbox, path, "-e", str(bare_tarball), "hello", "4")
    assert proc.returncode == 4 and proc.stdout.startswith("hello prefix="), proc.stderr
    assert sorted(p.name for p in sandbox.iterdir()) == ["poncho_package_run"]


def test_the_warm_path_starts_no_python(sandbox: Path, bare_tarball: Path) -> None:
    ready = run(sandbox, "/usr/bin:/bin", "-e", str(bare_tarball), "-u", "d")
    assert ready.returncode == 0, ready.stderr
    # A python3 first on PATH that leaves a trace: the warm run must not start it.
    trap = sandbox / "trap"
    trap.mkdir()
    (trap / "python3").write_text(f"#!/bin/sh\ntouch {sandbox}/python-ran\nexit 9\n")
    (trap / "python3").chmod(0o755)
    proc = run(sandbox, f"{trap}:/usr/bin:/bin", "-u", "d", "--", "hello")
    assert proc.returncode == 0 and not (sandbox / "python-ran").exists(), proc.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_the_node_store_is_the_engines_and_no_store_turns_it_off(
    scenario: str, sandbox: Path, bare_tarball: Path, no_python_path: str, bare_python_path: str
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    shutil.copy(bare_tarball, sandbox / "env.tar.gz")
    store = sandbox / f".poncho-store-{os.getuid()}"
    off = run(sandbox, path, "--no-store", "-e", "env.tar.gz", "-u", "one", "--", "hello")
    assert (off.returncode, off.stdout) == (0, hello(sandbox / "one")), off.stderr
    assert not store.exists()
    on = run(sandbox, path, "-e", "env.tar.gz", "-u", "two", "--", "hello")
    assert (on.returncode, on.stdout) == (0, hello(sandbox / "two")), on.stderr
    # The engine shares DIR's files through the store; tar (no Python) does not.
    assert store.is_dir() == (scenario == "bare python3")
    linked = (sandbox / "two" / "bin" / "hello").stat().st_nlink
    assert linked == (2 if scenario == "bare python3" else 1)
    warm = run(sandbox, no_python_path, "--no-store", "-u", "two", "--", "hello")
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, hello(sandbox / "two"), "")


# -- dialects --------------------------------------------------------------------------------

DIALECTS = {
    # CCTools 7.3.2 manual: -d DIR
    "-d DIR": ["-e", "env.tar.gz", "-d", "envdir", "hello"],
    # coffea: -d is --debug before another option
    "-d then option": ["-d", "-e", "env.tar.gz", "-u", "envdir", "--", "hello"],
    # today's CCTools runner: -d beside -u is --debug, even before a non-option
    "-d with -u": ["-e", "env.tar.gz", "-u", "envdir", "-d", "hello"],
    "--unpack-to=": ["--environment=env.tar.gz", "--unpack-to=envdir", "--debug", "hello"],
    "attached": ["-eenv.tar.gz", "-uenvdir", "-w5", "hello"],
}


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_cctools_dialect(
    dialect: str,
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    shutil.copy(bare_tarball, sandbox / "env.tar.gz")
    proc = run(sandbox, path, *DIALECTS[dialect])
    assert (proc.returncode, proc.stdout) == (0, hello(sandbox / "envdir")), proc.stderr
    debug = dialect in ("-d then option", "-d with -u", "--unpack-to=")
    assert ("unpacking" in proc.stderr) == debug, proc.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_no_command_prepares_the_folder_and_exits_0(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    proc = run(sandbox, path, "-e", str(bare_tarball), "-u", "envdir", name="poncho_package_run")
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert read_state(str(sandbox / "envdir")) is not None
    again = run(sandbox, path, "-u", "envdir")
    assert again.returncode == 0, again.stderr


def test_the_old_name_and_an_unpacked_folder(
    sandbox: Path, bare_tarball: Path, no_python_path: str
) -> None:
    shutil.copy(sandbox / "poncho_package_run", sandbox / "python_package_run")
    folder = sandbox / "unpacked"
    folder.mkdir()
    with tarfile.open(bare_tarball) as tar:
        tar.extractall(folder, filter="data")
    # -e DIR: an unpacked environment, prepared in place (its own python runs the engine).
    proc = run(sandbox, no_python_path, "-e", "unpacked", "hello", name="python_package_run")
    assert (proc.returncode, proc.stdout) == (0, hello(folder)), proc.stderr


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["hello"], 2, "give an environment"),
        (["-e", "x.tar.gz", "-w", "soon", "hello"], 2, "-w/--wait-for-lock"),
        (["-e"], 2, "expected one argument"),
        (["--help-env-creation"], 0, ""),
        (["-e", "missing.tar.gz", "-u", "d", "true"], 1, "missing.tar.gz"),
    ],
)
def test_usage_without_python(
    argv: list[str], status: int, message: str, sandbox: Path, no_python_path: str
) -> None:
    proc = run(sandbox, no_python_path, *argv)
    assert proc.returncode == status and message in proc.stderr, proc.stderr


def test_help_env_creation_with_python(sandbox: Path, bare_python_path: str) -> None:
    proc = run(sandbox, bare_python_path, "--help-env-creation")
    assert proc.returncode == 0 and "poncho_package_create" in proc.stdout


# -- the tar path's safety -------------------------------------------------------------------

HOSTILE = {
    "dotdot": [member("../outside/evil", b"x")],
    "symlink escape": [member("lib/esc", kind=tarfile.SYMTYPE, linkname="../../../outside")],
    "symlink then file": [
        member("esc", kind=tarfile.SYMTYPE, linkname="../../outside"),
        member("esc/evil", b"x"),
    ],
    "absolute symlink then file": [
        member("esc", kind=tarfile.SYMTYPE, linkname="/OUTSIDE"),
        member("esc/evil", b"x"),
    ],
    "hardlink escape": [member("h", kind=tarfile.LNKTYPE, linkname="../../outside/secret")],
    "device": [member("dev/null2", kind=tarfile.CHRTYPE)],
    "fifo": [member("fifo", kind=tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_gnu_tar_path_writes_nothing_outside_and_runs_nothing(
    case: str, tmp_path: Path, sandbox: Path, no_python_path: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    members = HOSTILE[case]
    for info, _ in members:
        info.linkname = info.linkname.replace("/OUTSIDE", str(outside))
    tarball = make_tar(tmp_path / "bad.tar.gz", bare_env_members(members))
    before = tree(tmp_path)
    proc = run(sandbox, no_python_path, "-e", str(tarball), "-u", "envdir", "--", "hello")
    assert proc.returncode != 0 and "hello" not in proc.stdout, (proc.stdout, proc.stderr)
    assert tree(outside) == {"secret"} and (outside / "secret").read_text() == "secret"
    assert not (sandbox / "envdir").exists()
    assert tree(tmp_path) - before <= {
        "sandbox/envdir.poncho.lock",
    }, "nothing left but the lock file"


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
@pytest.mark.parametrize("case", sorted(STATE_FOLDER_MEMBERS))
def test_a_refused_state_folder_leaves_dir_usable_on_both_paths(
    case: str,
    scenario: str,
    tmp_path: Path,
    sandbox: Path,
    no_python_path: str,
    bare_python_path: str,
    bare_tarball: Path,
) -> None:
    """Issue 22: the archive's own ``.poncho-run`` in a shape that would stop the state
    being published is refused (the tar path checks it before its link shows DIR), nothing
    is left, and a good tarball into the same -u DIR then runs."""
    path = no_python_path if scenario == "no python" else bare_python_path
    unsafe = STATE_FOLDER_MEMBERS[case]
    bad = make_tar(tmp_path / "bad.tar.gz", bare_env_members(unsafe.members))
    before = tree(tmp_path)
    proc = run(sandbox, path, "-e", str(bad), "-u", "envdir", "--", "hello")
    assert proc.returncode == 1 and proc.stdout == "", (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("poncho_package_run: error: "), proc.stderr
    assert f"unsafe archive member {unsafe.reason}" in proc.stderr, proc.stderr
    assert tree(tmp_path) - before <= {"sandbox/envdir.poncho.lock"}
    good = run(sandbox, path, "-e", str(bare_tarball), "-u", "envdir", "--", "hello")
    assert (good.returncode, good.stdout) == (0, hello(sandbox / "envdir")), good.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_the_packed_state_of_a_used_dir_is_dropped_on_both_paths(
    scenario: str,
    tmp_path: Path,
    sandbox: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    tarball = make_tar(tmp_path / "env.tar.gz", bare_env_members(PACKED_STATE_MEMBERS))
    for _ in ("cold", "warm"):
        proc = run(sandbox, path, "-e", str(tarball), "-u", "envdir", "--", "hello")
        assert (proc.returncode, proc.stdout) == (0, hello(sandbox / "envdir")), proc.stderr
    assert "/elsewhere" not in (sandbox / "envdir" / ".poncho-run" / "state.sh").read_text()


# -- one protocol: the shell path and the Python API race on one folder ----------------------

WAIT_FOR_GO = 'go=$1; shift; while [ ! -e "$go" ]; do sleep 0.01; done; exec "$@"'
API_RACER = """
import os, sys, time
from poncho_run import prepare
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
env = prepare(sys.argv[2], sys.argv[3], wait=60)
print(env.prefix, sorted(os.listdir(env.prefix)))
"""


def test_the_shell_path_and_the_python_api_share_one_folder(
    tmp_path: Path, sandbox: Path, no_python_path: str
) -> None:
    members = [member(f"lib/pad/f{i}.py", b"x = 1\n" * 50) for i in range(1500)]
    tarball = make_tar(tmp_path / "env.tar.gz", bare_env_members(members))
    target = sandbox / "shared"
    go = tmp_path / "go"
    shells = [
        subprocess.Popen(
            [
                "sh",
                "-c",
                WAIT_FOR_GO,
                "sh",
                str(go),
                "./poncho_package_run",
                "-v",
                "-e",
                str(tarball),
                "-u",
                str(target),
                "--",
                "hello",
            ],
            cwd=sandbox,
            env={"PATH": no_python_path},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    apis = [
        subprocess.Popen(
            [sys.executable, "-c", API_RACER, str(go), str(tarball), str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    time.sleep(0.5)
    go.touch()
    results = [(p.wait(120), *p.communicate()) for p in shells + apis]
    assert [r[0] for r in results] == [0] * 12, results
    assert [r[1] for r in results[:6]] == [hello(target)] * 6
    unpackings = sum(err.count("unpacking ") for _, _, err in results)
    assert unpackings == 1, [err for _, _, err in results]
    assert sorted(p.name for p in sandbox.iterdir()) == [
        "poncho_package_run",
        "shared",
        "shared.poncho.lock",
    ]
    assert len(list((target / "lib" / "pad").iterdir())) == 1500


def test_gnu_tar_path_keeps_absolute_members_inside(
    tmp_path: Path, sandbox: Path, no_python_path: str
) -> None:
    """GNU tar strips the leading / (our reader refuses the member): either way nothing is
    written outside the folder."""
    outside = tmp_path / "abs-outside"
    tarball = make_tar(tmp_path / "abs.tar.gz", bare_env_members([member(f"{outside}/evil", b"x")]))
    proc = run(sandbox, no_python_path, "-e", str(tarball), "-u", "envdir", "--", "hello")
    assert proc.returncode == 0, proc.stderr
    assert not outside.exists()
    assert (sandbox / "envdir" / str(outside).lstrip("/") / "evil").read_text() == "x"


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_a_real_conda_pack_environment_in_both_scenarios(
    scenario: str,
    demo_tarball: Path,
    sandbox: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    shutil.copy(demo_tarball, sandbox / "env.tar.gz")
    code = "import os, sys, poncho_demo_app; print(sys.prefix, os.environ['PONCHO_DEMO_ACTIVATED'])"
    for _ in ("cold", "warm"):
        proc = run(sandbox, path, "-e", "env.tar.gz", "-u", "e", "python", "-c", code)
        assert (proc.returncode, proc.stdout) == (0, f"{sandbox / 'e'} yes\n"), proc.stderr
    app = run(sandbox, no_python_path, "-u", "e", "--", "poncho-demo-app")
    assert app.returncode == 0 and "poncho-demo-app" in app.stdout, app.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_a_folder_refuses_another_archive(
    scenario: str,
    tmp_path: Path,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    assert run(sandbox, path, "-e", str(bare_tarball), "-u", "d").returncode == 0
    # A copy (new mtime, same content), as Work Queue makes one per sandbox: the same.
    shutil.copyfile(bare_tarball, sandbox / "copy.tar.gz")
    os.utime(sandbox / "copy.tar.gz", (1, 1))
    same = run(sandbox, path, "-e", "copy.tar.gz", "-u", "d", "hello")
    assert (same.returncode, same.stdout) == (0, hello(sandbox / "d")), same.stderr
    other = make_tar(tmp_path / "other.tar.gz", bare_env_members([member("x", b"other")]))
    wrong = run(sandbox, path, "-e", str(other), "-u", "d", "hello")
    assert wrong.returncode == 65 and wrong.stdout == "", wrong.stderr
    assert str(other) in wrong.stderr and str(bare_tarball) in wrong.stderr


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_a_rebuilt_archive_at_the_same_path(
    scenario: str, sandbox: Path, bare_tarball: Path, no_python_path: str, bare_python_path: str
) -> None:
    """Issue 26 item 5: a byte-identical rebuild (new file, new mtime) is the same archive;
    other bytes at the same path are named as a change, with what differs."""
    path = no_python_path if scenario == "no python" else bare_python_path
    archive = sandbox / "env.tar.gz"
    data = bare_tarball.read_bytes()
    archive.write_bytes(data)
    assert run(sandbox, path, "-e", "env.tar.gz", "-u", "d").returncode == 0
    (sandbox / "new").write_bytes(data)
    os.utime(sandbox / "new", (2, 2))
    os.replace(sandbox / "new", archive)
    same = run(sandbox, path, "-e", "env.tar.gz", "-u", "d", "hello")
    assert (same.returncode, same.stdout) == (0, hello(sandbox / "d")), same.stderr
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(changed))
    os.utime(archive, (3, 3))  # sh trusts size and mtime (whole seconds) when both agree
    wrong = run(sandbox, path, "-e", "env.tar.gz", "-u", "d", "hello")
    assert wrong.returncode == 65 and wrong.stdout == "", wrong.stderr
    assert "another archive)" not in wrong.stderr
    assert "before that file changed (sha256 " in wrong.stderr, wrong.stderr
    archive.write_bytes(data + b"x")
    wrong = run(sandbox, path, "-e", "env.tar.gz", "-u", "d", "hello")
    assert f"({len(data) + 1} bytes, not {len(data)})" in wrong.stderr, wrong.stderr


def test_the_installed_script_runs_the_engine_with_the_python_beside_it(
    tmp_path: Path, bare_tarball: Path
) -> None:
    """pip puts the script beside the venv's python, which has poncho-fetch (for data):
    not any python3 that comes first on PATH."""
    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / "python3").write_text(f"#!/bin/sh\ntouch {tmp_path}/trap-ran\nexit 9\n")
    (trap / "python3").chmod(0o755)
    proc = subprocess.run(
        [installed_script(), "-e", str(bare_tarball), "-u", str(tmp_path / "d"), "hello"],
        env={"PATH": f"{trap}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, hello(tmp_path / "d")), proc.stderr
    assert not (tmp_path / "trap-ran").exists()


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_the_command_does_not_keep_the_folder_locked(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    """The front end takes the lock and hands it to the engine on a descriptor: neither it
    nor its variable may reach the command (which would hold DIR locked while it runs)."""
    path = no_python_path if scenario == "no python" else bare_python_path
    probe = (
        "if flock -n d.poncho.lock sh -c :; then echo free; else echo locked; fi; "
        'echo "fd=${PONCHO_RUN_LOCK_FD-unset}"'
    )
    proc = run(sandbox, path, "-e", str(bare_tarball), "-u", "d", "--", "sh", "-c", probe)
    assert (proc.returncode, proc.stdout) == (0, "free\nfd=unset\n"), proc.stderr


@pytest.mark.parametrize("scenario", ["no python", "bare python3"])
def test_a_folder_given_through_a_link_is_unpacked_where_the_link_points(
    sandbox: Path, bare_tarball: Path, no_python_path: str, bare_python_path: str, scenario: str
) -> None:
    """`-u link` with link -> an empty folder (issue 13: it said 'Not a directory')."""
    path = no_python_path if scenario == "no python" else bare_python_path
    (sandbox / "real").mkdir()
    (sandbox / "link").symlink_to(sandbox / "real")
    first = run(sandbox, path, "-e", str(bare_tarball), "-u", "link", "--", "hello")
    assert first.returncode == 0, first.stderr
    assert first.stdout == hello(sandbox / "real")
    assert (sandbox / "link").is_symlink() and (sandbox / "real.poncho.lock").is_file()
    warm = run(sandbox, path, "-e", str(bare_tarball), "-u", "link", "--", "hello")
    assert warm.returncode == 0 and warm.stdout == first.stdout


# -- data served by the front end from poncho-fetch's cache ----------------------------------

TABLE = b"a,b\n1,2\n"
# Prints the data variable's file, then how many of its descriptors are the data cache's
# lock files (the in-use locks that keep the entry from eviction).
SHOW_DATA = (
    'cat "$TABLE"; n=0; for f in /proc/$$/fd/*; do case $(readlink "$f") in'
    " */locks/*.lock) n=$((n + 1)) ;; esac; done; echo locks=$n"
)


def data_tarball(tmp_path: Path, url: str) -> Path:
    spec = {
        "conda": {"channels": ["conda-forge"], "dependencies": ["python"]},
        "http": {"TABLE": {"type": "file", "url": f"{url}/table.csv"}},
    }
    extra = [member("poncho/spec.json", json.dumps(spec).encode())]
    return make_tar(tmp_path / "data-env.tar.gz", bare_env_members(extra))


def with_python(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The installed runner, whose engine (the venv's python beside it) has poncho-fetch."""
    return subprocess.run(
        [installed_script(), *argv], env=env, capture_output=True, text=True, check=False
    )


def copied(
    sandbox: Path, env: dict[str, str], *argv: str, name: str = "poncho_package_run"
) -> subprocess.CompletedProcess[str]:
    """The runner copied alone into `sandbox`, run there with `env`."""
    return subprocess.run(
        [f"./{name}", *argv],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def python_trap(tmp_path: Path) -> str:
    """A PATH whose only python3 leaves a trace (tmp_path/python-ran) and fails."""
    trap = tmp_path / "trap"
    trap.mkdir(exist_ok=True)
    (trap / "python3").write_text(f"#!/bin/sh\ntouch {tmp_path}/python-ran\nexit 9\n")
    (trap / "python3").chmod(0o755)
    return f"{trap}:/usr/bin:/bin"


CACHE_RULES = ["--data-cache", "PONCHO_FETCH_CACHE", "XDG_CACHE_HOME", "HOME"]


@pytest.mark.parametrize("rule", CACHE_RULES)
def test_a_warm_run_serves_the_data_without_python(
    rule: str, tmp_path: Path, sandbox: Path, http_server: Any
) -> None:
    """The engine's run fetches and records where the entry is; the next runs find the
    cache folder by poncho-fetch's own rules, hold the entry in use and exec from sh."""
    http_server.add("table.csv", TABLE)
    tarball = data_tarball(tmp_path, http_server.url)
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    option: list[str] = []
    cache = home / ".cache" / "poncho" / "data"
    if rule == "--data-cache":
        cache = tmp_path / "option-cache"
        option = ["--data-cache", str(cache)]
    elif rule == "PONCHO_FETCH_CACHE":
        cache = tmp_path / "env-cache"
        env[rule] = str(cache)
    elif rule == "XDG_CACHE_HOME":
        env[rule] = str(tmp_path / "xdg")
        cache = tmp_path / "xdg" / "poncho" / "data"
    target = sandbox / "d"
    cold = with_python(env, "-e", str(tarball), "-u", str(target), *option, "sh", "-c", SHOW_DATA)
    assert (cold.returncode, cold.stdout) == (0, "a,b\n1,2\nlocks=1\n"), cold.stderr
    assert http_server.hits("/table.csv") == 1
    assert "_poncho_data_recorded=1" in (target / ".poncho-run" / "state.sh").read_text()
    (entry,) = (cache / "entries").iterdir()
    os.utime(entry / ".used", (1_000_000_000, 1_000_000_000))  # last used long ago
    env["PATH"] = python_trap(tmp_path)
    for _ in range(2):
        proc = copied(sandbox, env, "-u", "d", *option, "--", "sh", "-c", SHOW_DATA)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "a,b\n1,2\nlocks=1\n", "")
    assert not (tmp_path / "python-ran").exists()
    assert http_server.hits("/table.csv") == 1
    assert (entry / ".used").stat().st_mtime > 1_000_000_000, "its use recorded, for LRU"


EVICT = """
import sys
from poncho_fetch import DataCache
print(len(DataCache(sys.argv[1]).clear()))
"""


def evict(cache: Path) -> str:
    """Evict every entry not in use, from another process (as `poncho cache prune`)."""
    proc = subprocess.run(
        [sys.executable, "-c", EVICT, str(cache)], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_the_data_cannot_be_evicted_while_a_warm_command_runs(
    tmp_path: Path, sandbox: Path, http_server: Any
) -> None:
    http_server.add("table.csv", TABLE)
    tarball = data_tarball(tmp_path, http_server.url)
    cache = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PONCHO_FETCH_CACHE": str(cache)}
    cold = with_python(env, "-e", str(tarball), "-u", str(sandbox / "d"))
    assert cold.returncode == 0, cold.stderr
    first = with_python(env, "-u", str(sandbox / "d"), "true")  # fetches and records
    assert first.returncode == 0, first.stderr
    started, go = tmp_path / "started", tmp_path / "go"
    wait = f'cat "$TABLE"; touch {started}; while [ ! -e {go} ]; do sleep 0.01; done'
    env["PATH"] = python_trap(tmp_path)
    warm = subprocess.Popen(
        ["./poncho_package_run", "-u", "d", "sh", "-c", wait],
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and warm.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists(), warm.communicate()
        assert evict(cache) == "0", "the entry is in use: eviction must skip it"
        assert len(list((cache / "entries").iterdir())) == 1
    finally:
        go.touch()
        out, err = warm.communicate(timeout=60)
    assert (warm.returncode, out, err) == (0, "a,b\n1,2\n", "")
    assert not (tmp_path / "python-ran").exists()
    assert evict(cache) == "1", "the command is over: nothing holds the entry any more"
    assert list((cache / "entries").iterdir()) == []


def test_a_missing_entry_is_fetched_again_by_the_engine(
    tmp_path: Path, sandbox: Path, http_server: Any
) -> None:
    http_server.add("table.csv", TABLE)
    tarball = data_tarball(tmp_path, http_server.url)
    cache = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PONCHO_FETCH_CACHE": str(cache)}
    target = str(sandbox / "d")
    cold = with_python(env, "-e", str(tarball), "-u", target, "sh", "-c", SHOW_DATA)
    assert (cold.returncode, cold.stdout) == (0, "a,b\n1,2\nlocks=1\n"), cold.stderr
    assert evict(cache) == "1"
    again = with_python(env, "-u", target, "sh", "-c", SHOW_DATA)
    assert (again.returncode, again.stdout) == (0, "a,b\n1,2\nlocks=1\n"), again.stderr
    assert http_server.hits("/table.csv") == 2, "fetched again"
    env["PATH"] = python_trap(tmp_path)
    (entry,) = (cache / "entries").iterdir()
    # An entry being evicted (its lock held exclusively) is left to the engine, which
    # waits for it (here: the trap python3 fails).
    with (cache / "locks" / f"{entry.name}.lock").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = copied(sandbox, env, "-u", "d", "--", "sh", "-c", SHOW_DATA)
    assert (tmp_path / "python-ran").exists(), "handed to the engine"
    assert busy.returncode != 0 and "1,2" not in busy.stdout
    (tmp_path / "python-ran").unlink()
    # A damaged entry (no meta.json) is not served by sh either.
    (entry / "meta.json").unlink()
    shell = copied(sandbox, env, "-u", "d", "--", "sh", "-c", SHOW_DATA)
    assert (tmp_path / "python-ran").exists(), "handed to the engine"
    assert shell.returncode != 0 and "1,2" not in shell.stdout
    # --no-data needs no cache at all.
    del env["PONCHO_FETCH_CACHE"]
    bare = copied(sandbox, env, "-u", "d", "--no-data", "--", "sh", "-c", 'echo "${TABLE-}"')
    assert (bare.returncode, bare.stdout) == (0, "\n"), bare.stderr


def test_simultaneous_first_runs_start_the_engine_once(
    tmp_path: Path, sandbox: Path, bare_tarball: Path
) -> None:
    """Runs that start together wait for the lock in sh, then find DIR ready and exec the
    command from sh: one Python engine in all (16 runs on a large environment cost about
    one cold run)."""
    log = tmp_path / "engine-starts"
    engine = tmp_path / "python3"
    engine.write_text(
        f'#!/bin/sh\n[ "$1" = -V ] || echo "$*" >> {log}\nexec {sys.executable} "$@"\n'
    )
    engine.chmod(0o755)
    go = tmp_path / "go"
    env = {"PATH": "/usr/bin:/bin", "PONCHO_RUN_PYTHON": str(engine), "HOME": str(tmp_path)}
    argv = ["./poncho_package_run", "-e", str(bare_tarball), "-u", "shared", "--", "hello"]
    runs = [
        subprocess.Popen(
            ["sh", "-c", WAIT_FOR_GO, "sh", str(go), *argv],
            cwd=sandbox,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    time.sleep(0.3)
    go.touch()
    results = [(p.wait(120), *p.communicate()) for p in runs]
    assert results == [(0, hello(sandbox / "shared"), "")] * 8
    assert len(log.read_text().splitlines()) == 1, log.read_text()


HOLD_LOCK = """
import sys
from poncho_run.lock import folder_lock
with folder_lock(sys.argv[1], 5):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_waiters_take_over_when_the_holder_leaves_dir_unprepared(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    """Runs wait for the lock shared (to wake together once DIR is ready); a holder that
    leaves without preparing DIR (a killed run) makes one of them unpack it, then the
    others run warm."""
    path = no_python_path if scenario == "no python" else bare_python_path
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(sandbox / "d")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    argv = ["./poncho_package_run", "-v", "-e", str(bare_tarball), "-u", "d", "--", "hello"]
    env = {"PATH": path, "HOME": str(sandbox), "TMPDIR": str(sandbox)}
    runs = [
        subprocess.Popen(
            argv, cwd=sandbox, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    time.sleep(0.5)
    assert [p.poll() for p in runs] == [None] * 4, "waiting for the holder"
    holder.communicate("")
    results = [(p.wait(120), *p.communicate()) for p in runs]
    assert [r[:2] for r in results] == [(0, hello(sandbox / "d"))] * 4, results
    assert sum(err.count("unpacking ") for _, _, err in results) == 1


# -- verbosity: -q, -v, -vv and $PONCHO_VERBOSITY, the same rule in sh and in the engine ----


def run_with(
    sandbox: Path, path: str, variables: dict[str, str], *argv: str
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(sandbox), "TMPDIR": str(sandbox), **variables}
    return copied(sandbox, env, *argv)


@pytest.mark.parametrize(
    ("options", "variable"),
    [(["-q"], None), (["-v"], None), (["-vv"], None), (["--quiet"], "2"), ([], "-1"), ([], "2")],
)
def test_the_warm_path_takes_every_verbosity_without_python(
    options: list[str], variable: str | None, sandbox: Path, bare_tarball: Path
) -> None:
    ready = run(sandbox, "/usr/bin:/bin", "-e", str(bare_tarball), "-u", "d")
    assert ready.returncode == 0, ready.stderr
    trap = sandbox / "trap"
    trap.mkdir()
    (trap / "python3").write_text(f"#!/bin/sh\ntouch {sandbox}/python-ran\nexit 9\n")
    (trap / "python3").chmod(0o755)
    variables = {} if variable is None else {"PONCHO_VERBOSITY": variable}
    proc = run_with(sandbox, f"{trap}:/usr/bin:/bin", variables, *options, "-u", "d", "--", "hello")
    assert (proc.returncode, proc.stdout) == (0, hello(sandbox / "d")), proc.stderr
    assert not (sandbox / "python-ran").exists()


@pytest.mark.parametrize("value", ["loud", "1.5", "-", "--1", "+1"])
def test_a_bad_variable_is_a_usage_error_in_sh_and_in_the_engine(
    value: str, sandbox: Path, bare_tarball: Path, no_python_path: str, bare_python_path: str
) -> None:
    ready = run(sandbox, "/usr/bin:/bin", "-e", str(bare_tarball), "-u", "d")
    assert ready.returncode == 0, ready.stderr
    for path in (no_python_path, bare_python_path):
        proc = run_with(sandbox, path, {"PONCHO_VERBOSITY": value}, "-u", "d", "hello")
        assert proc.returncode == 2, proc.stderr
        assert f"PONCHO_VERBOSITY='{value}': expected an integer" in proc.stderr
        # The command line wins: the variable is not read.
        proc = run_with(sandbox, path, {"PONCHO_VERBOSITY": value}, "-v", "-u", "d", "hello")
        assert proc.returncode == 0, proc.stderr
    engine = subprocess.run(
        [sys.executable, "-m", "poncho_run", "-u", str(sandbox / "d"), "hello"],
        env={**os.environ, "PONCHO_VERBOSITY": value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert engine.returncode == 2 and "expected an integer" in engine.stderr


@pytest.mark.parametrize(
    ("options", "variable", "says"),
    [
        ([], None, False),
        (["-v"], None, True),
        ([], "1", True),
        (["-q"], "1", False),  # the command line wins
        (["-v", "-q"], "2", False),  # counted against each other
        ([], "-1", False),
    ],
)
def test_the_tar_path_honours_the_verbosity(
    options: list[str],
    variable: str | None,
    says: bool,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
) -> None:
    variables = {} if variable is None else {"PONCHO_VERBOSITY": variable}
    argv = [*options, "-e", str(bare_tarball), "-u", "d", "--", "hello"]
    proc = run_with(sandbox, no_python_path, variables, *argv)
    assert proc.returncode == 0, proc.stderr
    assert ("(tar: no python3 on this worker)" in proc.stderr) == says, proc.stderr


@pytest.mark.parametrize(
    ("options", "variable", "info", "debug"),
    [
        ([], None, False, False),
        (["-v"], None, True, False),
        (["-vv"], None, True, True),
        (["--verbose", "--debug"], None, True, True),
        ([], "2", True, True),
        (["-q"], "2", False, False),
    ],
)
def test_the_engine_honours_the_verbosity(
    options: list[str],
    variable: str | None,
    info: bool,
    debug: bool,
    sandbox: Path,
    bare_tarball: Path,
    bare_python_path: str,
) -> None:
    variables = {} if variable is None else {"PONCHO_VERBOSITY": variable}
    argv = [*options, "-e", str(bare_tarball), "-u", "d", "--", "hello"]
    proc = run_with(sandbox, bare_python_path, variables, *argv)
    assert proc.returncode == 0, proc.stderr
    assert ("poncho_package_run: unpacking " in proc.stderr) == info, proc.stderr
    assert ("no bin/conda-unpack, nothing to relocate" in proc.stderr) == debug, proc.stderr


def test_a_verbose_warm_run_in_sh_says_which_folder_and_environment(
    sandbox: Path, bare_tarball: Path, no_python_path: str
) -> None:
    shutil.copy(bare_tarball, sandbox / "env.tar.gz")
    assert run(sandbox, no_python_path, "-e", "env.tar.gz", "-u", "envdir").returncode == 0
    archive = read_state(str(sandbox / "envdir"))["archive"]["path"]  # type: ignore[index]
    warm = run(sandbox, no_python_path, "-v", "-e", "env.tar.gz", "-u", "envdir", "--", "hello")
    assert warm.returncode == 0
    assert warm.stderr == (
        f"poncho_package_run: using the environment in {sandbox}/envdir, unpacked from {archive}\n"
    )
    quiet = run(sandbox, no_python_path, "-e", "env.tar.gz", "-u", "envdir", "--", "hello")
    assert (quiet.returncode, quiet.stderr) == (0, "")


@pytest.mark.parametrize("scenario", ["bare python3", "no python"])
def test_no_command_and_no_folder_says_nothing_was_run_on_both_paths(
    scenario: str,
    sandbox: Path,
    bare_tarball: Path,
    no_python_path: str,
    bare_python_path: str,
) -> None:
    path = no_python_path if scenario == "no python" else bare_python_path
    proc = run(sandbox, path, "-e", str(bare_tarball))
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr.startswith("poncho_package_run: note: no COMMAND: "), proc.stderr
    assert "nothing was run" in proc.stderr and proc.stderr.count("\n") == 1
    assert sorted(p.name for p in sandbox.iterdir()) == ["poncho_package_run"]
    assert run(sandbox, path, "-q", "-e", str(bare_tarball)).stderr == ""


def test_a_cold_run_without_python_on_a_terminal_says_it_is_unpacking(
    sandbox: Path, bare_tarball: Path, no_python_path: str
) -> None:
    import pty

    shutil.copy(bare_tarball, sandbox / "env.tar.gz")
    master, slave = pty.openpty()
    env = {"PATH": no_python_path, "HOME": str(sandbox), "TMPDIR": str(sandbox)}
    argv = ["./poncho_package_run", "-e", "env.tar.gz", "-u", "envdir", "--", "hello"]
    with subprocess.Popen(
        argv, cwd=sandbox, env=env, stdout=subprocess.DEVNULL, stderr=slave
    ) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait() == 0
    os.close(master)
    err = b"".join(chunks).decode().replace("\r\n", "\n")
    assert err == f"poncho_package_run: unpacking env.tar.gz into {sandbox}/envdir...\n"
