"""Data on a bare worker through the tarball's own bin/run_in_env (issue 22 item 3): a real
Work Queue run (makeflow -T wq, Debian's work_queue_worker) in a private mount namespace
where every Python, the venvs and poncho_package_run are hidden. The tasks do what TaskVine
does with a Poncho tarball: one unpacks it with plain tar and runs ``bin/run_in_env`` with
no argument (declare_poncho), the others run ``run_in_env CMD`` from that shared folder and
read the spec's git and http data, fetched once for the node into one data cache."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

from conftest import Venv, sh
from test_work_queue import cctools, run_flow_on_a_worker_without_python

__all__ = ["cctools"]  # the fixture, imported for the tests below

TABLE = b"a,b\n1,2\n"

# \$ reaches the task's shell as $ (makeflow expands its own variables); @CACHE@ is replaced.
# A failed task writes its error and status into its output (makeflow would retry it).
MAKEFLOW = r"""
CATEGORY=tasks

nopython.txt:
	for p in python3 python poncho_package_run poncho; do command -v \$p; done > nopython.txt; true

declared.txt: env.tar.gz
	V="\$WORK_QUEUE_SANDBOX/../vine_env" && mkdir "\$V" && tar xf env.tar.gz -C "\$V" && "\$V/bin/run_in_env" && echo declared > declared.txt

t1.txt: declared.txt
	export PONCHO_FETCH_CACHE=@CACHE@; "\$WORK_QUEUE_SANDBOX/../vine_env/bin/run_in_env" sh -c 'cat "\$TABLE" "\$REPO/data/values.txt"; ls "\$BUNDLE/bundle"' > t1.txt 2>&1 || echo "exit \$?" >> t1.txt

t2.txt: declared.txt
	export PONCHO_FETCH_CACHE=@CACHE@; "\$WORK_QUEUE_SANDBOX/../vine_env/bin/run_in_env" sh -c 'cat "\$TABLE" "\$REPO/data/values.txt"; ls "\$BUNDLE/bundle"' > t2.txt 2>&1 || echo "exit \$?" >> t2.txt

t3.txt: t1.txt t2.txt
	export PONCHO_FETCH_CACHE=@CACHE@; V="\$WORK_QUEUE_SANDBOX/../vine_env"; test -f "\$V/poncho/data.sh" && "\$V/bin/run_in_env" sh -c 'cat "\$TABLE" "\$REPO/data/values.txt"; ls "\$BUNDLE/bundle"' > t3.txt 2>&1 || echo "exit \$?" >> t3.txt
"""  # noqa: E501 (makeflow rules, one line each)


def _gzip_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_run_in_env_fetches_the_data_on_a_work_queue_worker_with_nothing_but_the_tarball(
    cctools: None,
    full_venv: Venv,
    local_channel: object,
    http_server: object,
    git_repo: object,
    tmp_path: Path,
) -> None:
    root: Path = http_server.root  # type: ignore[attr-defined]
    (root / "table.csv").write_bytes(TABLE)
    (root / "bundle.tar.gz").write_bytes(_gzip_tar({"bundle/readme.txt": b"from the tarball\n"}))
    spec = {
        "conda": {
            "channels": [local_channel.url],  # type: ignore[attr-defined]
            "dependencies": [f"python={local_channel.python_version}"],  # type: ignore[attr-defined]
        },
        "http": {
            "TABLE": {
                "type": "file",
                "url": f"{http_server.url}/table.csv",  # type: ignore[attr-defined]
                "sha256": hashlib.sha256(TABLE).hexdigest(),
            },
            "BUNDLE": {
                "type": "tar",
                "compression": "gzip",
                "url": f"{http_server.url}/bundle.tar.gz",  # type: ignore[attr-defined]
            },
        },
        # A branch: poncho_package_create pins the commit it names into the tarball.
        "git": {"REPO": {"remote": git_repo.url, "ref": "main"}},  # type: ignore[attr-defined]
    }
    work = tmp_path / "submit"
    work.mkdir()
    (tmp_path / "spec.json").write_text(json.dumps(spec, indent=2))
    sh([full_venv.script("poncho_package_create"), "--quiet", tmp_path / "spec.json",
        work / "env.tar.gz"], env=full_venv.env())  # fmt: skip
    cache = tmp_path / "node-cache"
    (work / "flow.mf").write_text(MAKEFLOW.replace("@CACHE@", str(cache)))

    run_flow_on_a_worker_without_python(work, full_venv, tmp_path)
    assert (work / "nopython.txt").read_text() == "", "the worker must see no Python, no poncho"
    assert (work / "declared.txt").read_text() == "declared\n"
    expected = "a,b\n1,2\n1\n2\n3\n4\nreadme.txt\n"  # main's head: the fourth line
    for task in ("t1", "t2", "t3"):
        assert (work / f"{task}.txt").read_text() == expected, task
    # Fetched once for the node: two tasks at once, then a third served from the record.
    requests: list[str] = http_server.requests  # type: ignore[attr-defined]
    assert [r for r in requests if r.endswith("/table.csv")] == ["GET /table.csv"]
    assert [r for r in requests if r.endswith("/bundle.tar.gz")] == ["GET /bundle.tar.gz"]
    assert len(list((cache / "entries").iterdir())) == 3
    shutil.rmtree(tmp_path / "worker", ignore_errors=True)
