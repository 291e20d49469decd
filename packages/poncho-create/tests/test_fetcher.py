"""poncho/fetch.pyz: a tarball's own data fetcher, so that bin/run_in_env sets the spec's
git/http variables on a worker that has nothing but the tarball (issue 22 item 3)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from poncho_create import _fetch_main, create
from poncho_create.fetcher import FETCHER, fetcher_zip, write_fetcher
from poncho_fetch import DataCache, fetch
from poncho_spec import Spec
from poncho_testing import GitRepo, ServedDirectory, make_git_repo, serve_directory

FILE_DATA = b"hello from the http file\n"


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDirectory]:
    with serve_directory(tmp_path_factory.mktemp("served")) as served:
        yield served


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_git_repo(tmp_path_factory.mktemp("remote") / "repo", {"code.txt": "v1\n"})


@pytest.fixture(scope="module")
def data_tarball(
    tmp_path_factory: pytest.TempPathFactory,
    local_channel: Any,
    pkgs_dir: Path,
    server: ServedDirectory,
    remote: GitRepo,
) -> Path:
    """python from the local channel; a git entry on a branch (create pins it), an http file
    and an http tar.gz."""
    root = tmp_path_factory.mktemp("data-env")
    spec = {
        "conda": {"channels": [local_channel.url], "dependencies": ["python"]},
        "git": {"CODE": {"remote": remote.url, "ref": "main"}},
        "http": {
            "DATA": {"url": server.add("files/data.txt", FILE_DATA), "type": "file"},
            "TREE": {
                "url": server.add("files/tree.tar.gz", _tar_gz({"tree/a.txt": b"a\n"})),
                "type": "tar",
            },
        },
    }
    (root / "spec.json").write_text(json.dumps(spec))
    return create(root / "spec.json", root / "env.tar.gz", pkgs_dir=pkgs_dir,
                  cache_dir=root / "envs", tmp_dir=root)  # fmt: skip


def bare_path(folder: Path) -> str:
    """A PATH of links to every program in /usr/bin and /bin but Pythons and poncho's: what
    a worker without Python has."""
    folder.mkdir()
    for source in (Path("/usr/bin"), Path("/bin")):
        for program in sorted(source.iterdir()):
            name = program.name
            if name.startswith(("python", "poncho", "pip")) or (folder / name).exists():
                continue
            (folder / name).symlink_to(program)
    return str(folder)


SHOW = 'echo "$DATA|$CODE|$TREE"; cat "$DATA" "$CODE/code.txt" "$TREE/tree/a.txt"'


def test_run_in_env_fetches_the_data_with_nothing_but_the_tarball(
    data_tarball: Path, tmp_path: Path, server: ServedDirectory, remote: GitRepo, helpers: Any
) -> None:
    prefix = helpers.unpack(data_tarball, tmp_path / "unpacked env")  # plain tar, a space
    cache = tmp_path / "cache"
    env = {"PATH": bare_path(tmp_path / "bin"), "HOME": str(tmp_path), "PONCHO_FETCH_CACHE":
           str(cache)}  # fmt: skip
    hits = server.hits("files/data.txt")
    script = str(prefix / "bin" / "run_in_env")
    assert subprocess.run([script], env=env).returncode == 0  # TaskVine's declare_poncho
    first = subprocess.run([script, "sh", "-c", SHOW], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    paths, *content = first.stdout.splitlines()
    assert content == ["hello from the http file", "v1", "a"]
    data, code, tree = paths.split("|")
    assert all(p.startswith(f"{cache}/entries/") for p in (data, code, tree))
    assert server.hits("files/data.txt") == hits + 1
    # The same cache entries poncho-fetch (so poncho_package_run) uses for this spec.
    spec = Spec.from_dict(json.loads((prefix / "poncho" / "spec.json").read_text()))
    assert spec.git["CODE"].ref == remote.head  # the branch, pinned at create time
    assert fetch(spec, cache) == {"DATA": data, "CODE": code, "TREE": tree}
    assert (prefix / "poncho" / "data.sh").is_file()

    # Second run: served by run_in_env itself (sh) from the recorded entries: no fetcher
    # (moved away), no server hit, no git.
    (prefix / FETCHER).rename(tmp_path / "fetch.pyz")
    second = subprocess.run([script, "sh", "-c", SHOW], capture_output=True, text=True, env=env)
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")
    assert server.hits("files/data.txt") == hits + 1


def test_the_data_a_command_uses_is_never_evicted(
    data_tarball: Path, tmp_path: Path, helpers: Any
) -> None:
    prefix = helpers.unpack(data_tarball, tmp_path / "env")
    cache = tmp_path / "cache"
    env = {"PATH": bare_path(tmp_path / "bin"), "PONCHO_FETCH_CACHE": str(cache)}
    script = str(prefix / "bin" / "run_in_env")
    for path in ("fetcher", "sh"):  # first through poncho/fetch.pyz, then recorded
        if path == "sh":
            (prefix / FETCHER).unlink()
        with subprocess.Popen(
            [script, "sh", "-c", 'echo "$DATA"; read line'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        ) as task:  # fmt: skip
            assert task.stdout is not None
            data = task.stdout.readline().strip()
            assert data.startswith(str(cache)), path
            assert DataCache(cache).clear() == [], path  # in use: kept
            assert Path(data).is_file()
            task.communicate("done\n")
        assert task.returncode == 0
    assert len(DataCache(cache).clear()) == 3  # no longer in use
    assert not list((cache / "entries").iterdir())


def test_a_fetch_error_is_one_line_and_the_command_does_not_run(
    data_tarball: Path, tmp_path: Path, helpers: Any
) -> None:
    prefix = helpers.unpack(data_tarball, tmp_path / "env")
    spec_path = prefix / "poncho" / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["http"]["DATA"]["url"] = spec["http"]["DATA"]["url"].replace("data.txt", "missing")
    spec_path.write_text(json.dumps(spec))
    env = {"PATH": bare_path(tmp_path / "bin"), "PONCHO_FETCH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([str(prefix / "bin" / "run_in_env"), "echo", "ran"],
                            capture_output=True, text=True, env=env)  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("run_in_env: error: http.DATA: cannot download ")
    assert "HTTP 404" in result.stderr and "Traceback" not in result.stderr


# --- the zip and its __main__ in process ------------------------------------------------


def test_the_fetcher_is_written_only_for_data_and_is_reproducible(tmp_path: Path) -> None:
    assert write_fetcher(tmp_path, {"conda": {"dependencies": ["python"]}}) is None
    assert not (tmp_path / "poncho").exists()
    written = write_fetcher(tmp_path, {"http": {"X": {"url": "http://h/x", "type": "file"}}})
    assert written == tmp_path / FETCHER
    assert written.read_bytes() == fetcher_zip()
    names = zipfile.ZipFile(written).namelist()
    assert "__main__.py" in names
    for module in ("poncho_fetch/cache.py", "poncho_fetch/_stdlib_http.py",
                   "poncho_spec/validate.py", "poncho_core/lock.py"):  # fmt: skip
        assert module in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so"))]


def test_data_script_quotes_paths_and_refuses_odd_entries(tmp_path: Path) -> None:
    text = _fetch_main.data_script([("DATA", "ab12", "data/it's here.txt")])
    assert text is not None
    (tmp_path / "data.sh").write_text(text)
    calls = subprocess.run(
        ["sh", "-c", '. "$1"; show() { printf "%s|" "$@"; }; _poncho_data_each show', "sh",
         str(tmp_path / "data.sh")], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert calls.stdout == "DATA|ab12|data/it's here.txt|"
    for odd in [("1X", "ab", "data"), ("X", "AB", "data"), ("X", "ab", "../x"),
                ("X", "ab", "/abs"), ("X", "ab", "")]:  # fmt: skip
        assert _fetch_main.data_script([odd]) is None


class Execed(Exception):
    pass


def fake_exec(path: str, argv: Any, env: Any) -> NoReturn:
    raise Execed(path, list(argv), dict(env))


def _prefix_with(tmp_path: Path, spec: dict[str, Any]) -> Path:
    prefix = tmp_path / "env"
    (prefix / "poncho").mkdir(parents=True)
    (prefix / "poncho" / "spec.json").write_text(json.dumps(spec))
    return prefix


def test_main_fetches_records_and_hands_over(
    tmp_path: Path, server: ServedDirectory, remote: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONCHO_FETCH_CACHE", str(tmp_path / "cache"))
    url = server.add("main/x.txt", b"x\n")
    prefix = _prefix_with(tmp_path, {"http": {"X": {"url": url, "type": "file"}}})
    with pytest.raises(Execed) as info:
        _fetch_main.main([str(prefix), "/path/run_in_env", "--", "cmd", "arg"], fake_exec)
    path, argv, env = info.value.args
    assert (path, argv) == ("/path/run_in_env", ["/path/run_in_env", "--poncho-data-held",
                                                 "cmd", "arg"])  # fmt: skip
    assert Path(env["X"]).read_bytes() == b"x\n"
    assert "_poncho_data_each" in (prefix / "poncho" / "data.sh").read_text()
    # A branch is resolved again at each run: nothing recorded for it.
    branch = _prefix_with(tmp_path / "b", {"git": {"C": {"remote": remote.url, "ref": "main"}}})
    with pytest.raises(Execed):
        _fetch_main.main([str(branch), "/r", "cmd"], fake_exec)
    assert not (branch / "poncho" / "data.sh").exists()


def test_main_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PONCHO_FETCH_CACHE", str(tmp_path / "cache"))
    assert _fetch_main.main(["only", "two"], fake_exec) == 2
    assert capsys.readouterr().err.startswith("usage: run_in_env fetcher: PREFIX RUN_IN_ENV")
    missing = tmp_path / "missing"
    assert _fetch_main.main([str(missing), "/r", "cmd"], fake_exec) == 1
    assert capsys.readouterr().err.startswith(f"run_in_env: error: {missing}/poncho/spec.json")
    bad = _prefix_with(tmp_path, {"http": {"X": {"url": "ftp://x", "type": "file"}}})
    assert _fetch_main.main([str(bad), "/r", "cmd"], fake_exec) == 1
    assert "run_in_env: error: " in capsys.readouterr().err
    (bad / "poncho" / "spec.json").write_text("[]")
    assert _fetch_main.main([str(bad), "/r", "cmd"], fake_exec) == 1
    assert "not a JSON object" in capsys.readouterr().err

    def cannot_exec(path: str, argv: Any, env: Any) -> NoReturn:
        raise PermissionError(13, "Permission denied")

    empty = _prefix_with(tmp_path / "e", {"http": {}})
    assert _fetch_main.main([str(empty), "/r", "cmd"], cannot_exec) == 126
    assert capsys.readouterr().err == "run_in_env: error: cannot run /r: Permission denied\n"


# --- which Python runs the fetcher: a hand-made prefix whose python is too old ----------


@pytest.fixture
def old_python_env(tmp_path: Path, server: ServedDirectory) -> Path:
    """A prefix (no conda-unpack: nothing to prepare) whose bin/python says 3.8, with a
    spec naming an http file and the fetcher."""
    from poncho_create.pack import run_in_env_script

    spec = {"http": {"X": {"url": server.add("old/x.txt", b"x\n"), "type": "file"}}}
    prefix = _prefix_with(tmp_path, spec)
    (prefix / "bin").mkdir()
    for name, text in (("run_in_env", run_in_env_script()),
                       ("python", "#!/bin/sh\necho 'Python 3.8.18'\nexit 0\n")):  # fmt: skip
        (prefix / "bin" / name).write_text(text)
        (prefix / "bin" / name).chmod(0o755)
    write_fetcher(prefix, spec)
    return prefix


def test_a_python_older_than_3_10_is_not_used_and_the_command_still_runs(
    old_python_env: Path, tmp_path: Path
) -> None:
    env = {"PATH": bare_path(tmp_path / "bin"), "PONCHO_FETCH_CACHE": str(tmp_path / "cache")}
    argv = [str(old_python_env / "bin" / "run_in_env"), "sh", "-c", 'echo "X=${X-unset}"']
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert (result.returncode, result.stdout) == (0, "X=unset\n")
    assert "no python >= 3.10 here to fetch it (poncho/fetch.pyz)" in result.stderr


def test_poncho_run_python_names_the_interpreter(old_python_env: Path, tmp_path: Path) -> None:
    import sys

    env = {"PATH": bare_path(tmp_path / "bin"), "PONCHO_FETCH_CACHE": str(tmp_path / "cache"),
           "PONCHO_RUN_PYTHON": sys.executable}  # fmt: skip
    argv = [str(old_python_env / "bin" / "run_in_env"), "sh", "-c", 'cat "$X"']
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "x\n", "")
