"""A real Work Queue run: makeflow -T wq with a local work_queue_worker (Debian's
coop-computing-tools), each rule shipping our copied poncho_package_run and a tarball (our
demo tarball is indexed: GNU tar reads its gzip members as one stream), or CCTools' own bash
runner (Debian's /usr/bin/python_package_run, shipped as cctools_package_run: the worker
hides every python* on PATH), or unpacking as TaskVine's declare_poncho does; the
worker in a private mount namespace where the venvs and every Python are hidden (the
runner then has only the environment's own interpreter). Tasks share DIRs beside their
sandboxes, as Work Queue's bindings name them, and use the CCTools dialects."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Venv, sh

# Debian's makeflow is linked with Open MPI, which refuses root without these.
MPI_AS_ROOT = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

CODE = "import sys, poncho_demo_app; print(sys.prefix)"

# \$ reaches the task's shell as $ (makeflow expands its own variables).
MAKEFLOW = f"""
CATEGORY=tasks

nopython.txt:
\tif command -v python3 || command -v python; then echo found; else echo none; fi > nopython.txt

a1.txt: poncho_package_run demo.tar.gz
\t./poncho_package_run -e demo.tar.gz -u "\\$WORK_QUEUE_SANDBOX/../shared-demo" -- python -c "{CODE}" > a1.txt

a2.txt: poncho_package_run demo.tar.gz
\t./poncho_package_run -e demo.tar.gz --unpack-to "\\$WORK_QUEUE_SANDBOX/../shared-demo" poncho-demo-app > a2.txt

a3.txt: poncho_package_run demo.tar.gz
\t./poncho_package_run -d -e demo.tar.gz -u "\\$WORK_QUEUE_SANDBOX/../shared-demo" -- python -c "{CODE}" > a3.txt

a4.txt: poncho_package_run demo.tar.gz
\t./poncho_package_run -e demo.tar.gz -d "\\$WORK_QUEUE_SANDBOX/../shared-demo" python -c "{CODE}" > a4.txt

b1.txt: poncho_package_run pack.tar.gz
\t./poncho_package_run -e pack.tar.gz --unpack-to "\\$WORK_QUEUE_SANDBOX/pack.tar.gz-env" python -c "{CODE}" > b1.txt

b2.txt: poncho_package_run pack.tar.gz
\t./poncho_package_run -e pack.tar.gz -u "\\$WORK_QUEUE_SANDBOX/../shared-pack" -- python -c "{CODE}" > b2.txt

b3.txt: python_package_run pack.tar.gz
\t./python_package_run -e pack.tar.gz -u "\\$WORK_QUEUE_SANDBOX/../shared-pack" -- python -c "{CODE}" > b3.txt

c1.txt: cctools_package_run demo.tar.gz
\tPATH="\\$WORK_QUEUE_SANDBOX/../cctools-demo/bin:\\$PATH" ./cctools_package_run -e demo.tar.gz -u "\\$WORK_QUEUE_SANDBOX/../cctools-demo" -- python -c "{CODE}" > c1.txt

c2.txt: demo.tar.gz
\tV="\\$WORK_QUEUE_SANDBOX/../vine-demo" && mkdir "\\$V" && tar xf demo.tar.gz -C "\\$V" && "\\$V/bin/run_in_env" && "\\$V/bin/run_in_env" python -c "{CODE}" > c2.txt
"""  # noqa: E501 (makeflow rules, one line each)


@pytest.fixture(scope="session")
def cctools() -> None:
    """makeflow and work_queue_worker, installed with apt-get on a bare (root) machine."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for the worker's private mount namespace")
    if shutil.which("makeflow") is None or shutil.which("work_queue_worker") is None:
        if shutil.which("apt-get") is None:
            pytest.skip("needs coop-computing-tools (makeflow, work_queue_worker)")
        sh(["apt-get", "update", "-q"])
        sh(["apt-get", "install", "-y", "-q", "coop-computing-tools"])
    if not Path("/usr/bin/orted").exists() and shutil.which("apt-get") is not None:
        # makeflow is linked with Open MPI; its singleton start needs orted.
        sh(["apt-get", "install", "-y", "-q", "openmpi-bin"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hide_python_script(hidden: list[Path]) -> str:
    """The worker's start: hide every Python on PATH and the given folders, then exec."""
    lines = ["set -e"]
    for folder in hidden:
        lines.append(f"mount -t tmpfs none '{folder}'")
    lines.append(
        'IFS=:; for d in $PATH; do for f in "$d"/python*; do '
        '[ -e "$f" ] && mount --bind /dev/null "$f"; done; done; unset IFS'
    )
    lines.append('exec "$@"')
    return "\n".join(lines)


def run_flow_on_a_worker_without_python(work: Path, venv: Venv, tmp_path: Path) -> None:
    """Run `work`/flow.mf with makeflow on a real work_queue_worker that sees no Python (a
    private mount namespace hides every python on PATH, this Python and `venv`'s folder,
    and pyenv's); fail with both logs when the flow fails."""
    port = free_port()
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    candidates = (Path(sys.prefix), venv.path.parent, Path.home() / ".pyenv")
    hidden = sorted({p for p in candidates if p.is_dir()})
    worker = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", hide_python_script(hidden),
         "sh", "work_queue_worker", "--cores", "4", "-t", "120", "--single-shot",
         "-s", str(worker_dir), "127.0.0.1", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        flow = subprocess.run(
            ["makeflow", "-T", "wq", "-p", str(port), "flow.mf"],
            cwd=work, env={**os.environ, **MPI_AS_ROOT}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
    finally:
        worker.terminate()
        worker_out = worker.communicate(timeout=60)[0]
    assert flow.returncode == 0, f"{flow.stdout}\n{flow.stderr}\n--- worker ---\n{worker_out}"


@pytest.fixture(scope="session")
def pack_tarball(tmp_path_factory: pytest.TempPathFactory, local_channel: object) -> Path:
    """A plain conda-pack tarball (no poncho/ folder, no run_in_env)."""
    from poncho_testing import build_env_tarball

    dest = tmp_path_factory.mktemp("pack") / "pack.tar.gz"
    return build_env_tarball(local_channel, ["python", "poncho-demo-app"], dest)  # type: ignore[arg-type]


def test_a_work_queue_run_with_the_copied_runner_and_no_python_on_the_worker(
    cctools: None,
    run_venv: Venv,
    demo_tarball: Path,
    pack_tarball: Path,
    tmp_path: Path,
) -> None:
    work = tmp_path / "submit"
    work.mkdir()
    shutil.copy2(run_venv.script("poncho_package_run"), work / "poncho_package_run")
    shutil.copy2(run_venv.script("python_package_run"), work / "python_package_run")
    shutil.copy2(demo_tarball, work / "demo.tar.gz")
    shutil.copy2(pack_tarball, work / "pack.tar.gz")
    cctools_runner = Path("/usr/bin/python_package_run")
    if not cctools_runner.is_file():
        pytest.skip("needs Debian's coop-computing-tools runner /usr/bin/python_package_run")
    shutil.copy2(cctools_runner, work / "cctools_package_run")
    (work / "flow.mf").write_text(MAKEFLOW)
    run_flow_on_a_worker_without_python(work, run_venv, tmp_path)
    assert (work / "nopython.txt").read_text() == "none\n", "the worker must see no Python"
    shared_demo = {(work / f"a{i}.txt").read_text().splitlines()[0] for i in (1, 3, 4)}
    assert len(shared_demo) == 1 and shared_demo.pop().endswith("/shared-demo")
    assert "poncho-demo-app" in (work / "a2.txt").read_text()
    assert (work / "b1.txt").read_text().strip().endswith("/pack.tar.gz-env")
    shared_pack = {(work / f"b{i}.txt").read_text() for i in (2, 3)}
    assert len(shared_pack) == 1 and shared_pack.pop().strip().endswith("/shared-pack")
    assert (work / "c1.txt").read_text().strip().endswith("/cctools-demo")  # CCTools' runner
    assert (work / "c2.txt").read_text().strip().endswith("/vine-demo")  # TaskVine's unpack
