"""Round trips (issue 26): every form that analyze, ``poncho_spec import`` and create write is
read back by the tool that takes it (create, ``create --from-lock``, run, inspect, diff), and
the environment that results is the same one.

One project, ``proj/``, asks for a package from each source: a conda package from the local
channel (poncho-demo-app, which brings poncho-demo-core), an index wheel from the local
wheelhouse (poncho-demo-piptop, which brings poncho-demo-pipbase), a pip package from a local
git repository at tag ``v1`` (``main`` has moved on since) and a local folder (``./localpkg``).
Every command runs as users run it: the CLI in a subprocess, from another folder than the
spec's (``users/alice``, paths given relative to it), twice in a row, the second create a
cache hit. Environments are compared by what ``poncho inspect --json`` says (names,
versions, builds, sources) and by what a task prints: a marker from each source.

The built tarballs are shared by module-scoped fixtures; each form builds once (in its own
cache folder, so that it is a build and not a hit of another form's tarball).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Venv, sh

MARKERS = {
    "conda": "import poncho_demo_core as m; print(m.VALUE)",
    "index": "import poncho_demo_piptop as m; print(m.VALUE)",
    "git": "import poncho_rt_git as m; print(m.VALUE)",
    "path": "import poncho_rt_local as m; print(m.VALUE)",
}
EXPECTED = {"conda": "core", "index": "piptop", "git": "poncho-rt-git", "path": "poncho-rt-local"}
TASK = "import poncho_demo_app, poncho_demo_piptop, poncho_rt_git, poncho_rt_local\nprint('ok')\n"

Env = set[tuple[str | None, ...]]


@dataclass
class World:
    """The project, the folder commands run from, the tools and the local sources."""

    root: Path
    here: Path  # the user's working folder: not the spec's
    full: Venv
    run_venv: Venv
    wheelhouse: Path
    channel: str
    repo: Any  # poncho_testing.GitRepo
    env: dict[str, str]

    def rel(self, path: Path) -> str:
        """`path` as the user types it in `here`."""
        return os.path.relpath(path, self.here)

    def cli(self, name: str, *args: str | Path) -> str:
        """Run the command `name` of the full install in `here`; its stdout (status 0)."""
        argv = [str(self.full.script(name)), *map(str, args)]
        proc = subprocess.run(argv, cwd=self.here, env=self.env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{argv} -> {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return proc.stdout

    def create(self, *args: str | Path, cache: str) -> dict[str, Any]:
        out = self.cli(
            "poncho_package_create", "--json", "-q", "--no-index", "--find-links",
            self.wheelhouse, "--cache-dir", self.rel(self.root / "envs" / cache), *args,
        )  # fmt: skip
        made: dict[str, Any] = json.loads(out)
        made["path"] = (self.here / made["path"]).resolve()
        return made

    def create_twice(self, *args: str | Path, cache: str, lock_out: Path | None = None) -> Path:
        """create ARGS twice: the second call is a cache hit of the first's tarball (and
        writes the same lock)."""
        extra = ("--lock-out", self.rel(lock_out)) if lock_out else ()
        first = self.create(*extra, *args, cache=cache)
        lock = lock_out.read_text() if lock_out else ""
        second = self.create(*extra, *args, cache=cache)
        assert second["cache_hit"] and second["path"] == first["path"]
        assert second["spec_hash"] == first["spec_hash"]
        if lock_out:
            assert lock_out.read_text() == lock
        path: Path = first["path"]
        return path

    def inspect(self, path: Path) -> dict[str, Any]:
        """``poncho inspect --json PATH``, twice: the same answer."""
        first = self.cli("poncho", "inspect", "--json", self.rel(path))
        assert self.cli("poncho", "inspect", "--json", self.rel(path)) == first
        found: dict[str, Any] = json.loads(first)
        return found

    def environment(self, path: Path, *, files: bool = True) -> Env:
        """Every package of `path`: kind, name, version, build, source, commit, URL and sha256.
        Without `files`, an index package's file (URL, sha256) is left out: an environment
        packed as it is knows a wheel's version, not the file pip took it from."""
        found: Env = set()
        for p in self.inspect(path)["packages"]:
            keep = files or p["source"] != "index"
            found.add((p["kind"], p["name"], p["version"], p["build"], p["source"], p["commit"],
                       p["url"] if keep else None, p["sha256"] if keep else None))  # fmt: skip
        return found

    def same(self, a: Path, b: Path) -> None:
        """``poncho diff A B`` finds nothing that differs (exit status 0), twice."""
        said = {self.cli("poncho", "diff", self.rel(a), self.rel(b)) for _ in range(2)}
        assert len(said) == 1 and said <= {
            "the same packages\n",
            f"{self.rel(b)} holds what {self.rel(a)} requests\n",
            f"{self.rel(a)} holds what {self.rel(b)} requests\n",
        }

    def markers(self, tarball: Path, sources: tuple[str, ...] = tuple(MARKERS)) -> None:
        """Each source's marker, printed by a task run twice (unpack, then warm) with
        poncho_package_run of a worker (poncho-run alone)."""
        unpack = self.root / "unpacked" / hashlib.sha256(str(tarball).encode()).hexdigest()[:12]
        run = str(self.run_venv.script("poncho_package_run"))
        code = "; ".join(MARKERS[s] for s in sources)
        for _ in range(2):
            argv = [run, "-q", "-e", self.rel(tarball), "-u", self.rel(unpack), "--",
                    "python", "-c", code]  # fmt: skip
            proc = subprocess.run(argv, cwd=self.here, env=self.env, capture_output=True,
                                  text=True)  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.split() == [EXPECTED[s] for s in sources]


def _project_files(project: Path) -> dict[str, bytes]:
    return {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    full_venv: Venv,
    run_venv: Venv,
    local_channel: Any,
    wheelhouse: Any,
) -> World:
    from poncho_testing import make_git_repo, make_local_project

    root = tmp_path_factory.mktemp("roundtrip")
    proj = root / "proj"
    make_local_project(proj / "localpkg", "poncho-rt-local", "0.2.0")
    repo = make_git_repo(root / "gitrepo", _project_files(
        make_local_project(root / "gitsrc", "poncho-rt-git", "0.3.0")))  # fmt: skip
    repo.commit({"src/poncho_rt_git/__init__.py": "VALUE = 'main moved on'\n"}, "after v1")
    python = "python=" + ".".join(local_channel.python_version.split(".")[:2])
    pip = ["poncho-demo-piptop", f"poncho-rt-git @ git+{repo.url}@v1", "./localpkg"]
    spec = {"conda": {"channels": [local_channel.url],
                      "dependencies": [python, "poncho-demo-app", {"pip": pip}]}}  # fmt: skip
    (proj / "spec.json").write_text(json.dumps(spec, indent=2))
    (proj / "environment.yml").write_text(
        f"name: roundtrip\nchannels:\n  - {local_channel.url}\ndependencies:\n"
        f"  - {python}\n  - poncho-demo-app\n  - pip:\n" + "".join(f"    - {p}\n" for p in pip)
    )
    (proj / "requirements.txt").write_text(f"{pip[0]}\n{pip[1]}\n-e {pip[2]}\n")
    (proj / "task.py").write_text(TASK)
    here = root / "users" / "alice"
    here.mkdir(parents=True)
    env = full_venv.env(XDG_CACHE_HOME=str(root / "cache"), HOME=str(root / "home"))
    return World(root, here, full_venv, run_venv, Path(wheelhouse.path), local_channel.url,
                 repo, env)  # fmt: skip


@pytest.fixture(scope="module")
def reference(world: World) -> Path:
    """proj/spec.json, created (twice) with its lock written to lock.json."""
    return world.create_twice(
        world.rel(world.root / "proj" / "spec.json"), cache="reference",
        lock_out=world.root / "lock.json",
    )  # fmt: skip


@pytest.fixture(scope="module")
def unpacked(world: World, reference: Path) -> Path:
    """The reference tarball unpacked by poncho_package_run -u (a user's environment folder)."""
    folder = world.root / "unpacked-ref"
    run = world.run_venv.script("poncho_package_run")
    sh([run, "-q", "-e", reference, "-u", folder, "--", "true"], env=world.env, cwd=world.here)
    return folder


@pytest.fixture(scope="module")
def kept_prefix(world: World) -> Path:
    """proj/spec.json built into a conda environment folder that is kept (--keep-prefix)."""
    prefix = world.root / "prefix"
    world.cli("poncho_package_create", "-q", "--no-index", "--find-links", world.wheelhouse,
              "--keep-prefix", world.rel(prefix), world.rel(world.root / "proj" / "spec.json"),
              world.rel(world.root / "kept.tar.gz"))  # fmt: skip
    return prefix


def own_files(tarball: Path, dest: Path) -> tuple[Path, Path]:
    """The tarball's own poncho/spec.json and poncho/lock.json, extracted into `dest`."""
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for name in ("spec.json", "lock.json"):
            member = tar.extractfile(f"poncho/{name}")
            assert member is not None
            (dest / "poncho").mkdir(exist_ok=True)
            (dest / "poncho" / name).write_bytes(member.read())
    return dest / "poncho" / "spec.json", dest / "poncho" / "lock.json"


# --- create and its lock -----------------------------------------------------------------


def test_a_spec_builds_each_source_and_create_inspect_and_the_lock_agree(
    world: World, reference: Path
) -> None:
    inventory = world.inspect(reference)
    sources = {p["name"]: (p["source"], p["commit"] or p["url"]) for p in inventory["packages"]}
    assert sources["poncho-demo-core"][0] == world.channel + "/"
    assert sources["poncho-demo-piptop"][0] == "index"
    assert sources["poncho-rt-git"] == ("vcs", world.repo.tags["v1"])
    assert sources["poncho-rt-local"] == ("path", (world.root / "proj" / "localpkg").as_uri())
    lock = json.loads((world.root / "lock.json").read_text())
    assert inventory["spec_hash"] == lock["spec_hash"]
    assert world.inspect(world.root / "lock.json")["packages"] == inventory["packages"]
    world.markers(reference)


def test_the_lock_replays_with_from_lock(world: World, reference: Path) -> None:
    spec, lock = world.root / "proj" / "spec.json", world.root / "lock.json"
    again = world.create_twice("--from-lock", world.rel(lock), world.rel(spec), cache="from-lock")
    assert world.environment(again) == world.environment(reference)
    world.same(reference, again)
    world.same(lock, again)
    world.markers(again)


def test_the_tarballs_own_spec_and_lock_replay(world: World, reference: Path) -> None:
    """Read from wherever they were extracted: the lock says where each package came from,
    the spec's ``./localpkg`` is the lock's folder."""
    spec, lock = own_files(reference, world.root / "own-ref")
    again = world.create_twice("--from-lock", world.rel(lock), world.rel(spec), cache="own-ref")
    assert world.environment(again) == world.environment(reference)
    world.same(lock, again)  # (the spec's ./localpkg names a folder it left: no diff with it)
    world.same(reference, again)
    world.markers(again)


# --- poncho_spec import and the files create converts itself ----------------------------


def test_an_environment_yml_is_the_spec_it_says(world: World, reference: Path) -> None:
    """create takes it directly (the same spec hash: a hit of the reference's cache entry),
    and ``poncho_spec import -o`` into another folder writes a spec that builds the same."""
    yml = world.rel(world.root / "proj" / "environment.yml")
    assert world.create_twice(yml, cache="reference") == reference
    out = world.root / "imported" / "env-spec.json"
    out.parent.mkdir(exist_ok=True)
    world.cli("poncho_spec", "import", "-q", "-o", world.rel(out), yml)
    text = out.read_text()
    world.cli("poncho_spec", "import", "-q", "-o", world.rel(out), yml)
    assert out.read_text() == text
    again = world.create_twice(world.rel(out), cache="env-yml")
    assert world.environment(again) == world.environment(reference)
    world.same(out, again)
    world.markers(again)


def test_a_requirements_txt_builds_the_same_pip_packages(world: World, reference: Path) -> None:
    """create of requirements.txt, of the spec ``poncho_spec import`` writes from it, and of
    its lock: one environment, whose pip packages are the reference's."""
    txt = world.rel(world.root / "proj" / "requirements.txt")
    channel = ("-c", world.channel, "--override-channels")
    lock = world.root / "req-lock.json"
    direct = world.create_twice(*channel, txt, cache="req", lock_out=lock)
    minor = ".".join(world.inspect(reference)["python"].split(".")[:2])
    out = world.root / "imported" / "req-spec.json"
    out.parent.mkdir(exist_ok=True)
    for _ in range(2):
        world.cli("poncho_spec", "import", "-q", "--python", minor, "-o", world.rel(out), txt)
    imported = world.create_twice(*channel, world.rel(out), cache="req-import")
    replayed = world.create_twice(*channel, "--from-lock", world.rel(lock), txt, cache="req-lock")
    env = world.environment(direct)
    assert world.environment(imported) == env == world.environment(replayed)
    world.same(out, imported)
    assert {p for p in env if p[0] == "pip"} == {
        p for p in world.environment(reference) if p[0] == "pip"
    }
    world.markers(direct, ("index", "git", "path"))
    world.markers(replayed, ("index", "git", "path"))


# --- analyze -----------------------------------------------------------------------------


def test_analyze_of_the_environment_writes_a_spec_that_builds_it_again(
    world: World, reference: Path, unpacked: Path
) -> None:
    out = world.root / "analyzed" / "spec.json"
    out.parent.mkdir()
    argv = ["--interpreter", world.rel(unpacked / "bin" / "python"),
            world.rel(world.root / "proj" / "task.py"), world.rel(out)]  # fmt: skip
    world.cli("poncho_package_analyze", "-q", *argv)
    text = out.read_text()
    world.cli("poncho_package_analyze", "-q", *argv)
    assert out.read_text() == text
    assert f"git+{world.repo.url}@{world.repo.tags['v1']}" in text
    again = world.create_twice(world.rel(out), cache="analyzed")
    assert world.environment(again) == world.environment(reference)
    world.same(reference, again)
    world.same(out, again)
    world.markers(again)
    run = world.run_venv.script("poncho_package_run")
    task = world.rel(world.root / "proj" / "task.py")
    proc = sh([run, "-q", "-e", again, "--", "python", task], env=world.env, cwd=world.here)
    assert proc.stdout == "ok\n"


# --- packing an existing environment folder, and an unpacked DIR ------------------------


@pytest.mark.parametrize("kind", ["prefix", "unpacked"])
def test_a_packed_folder_and_its_own_lock_give_the_same_environment(
    kind: str, world: World, reference: Path, request: pytest.FixtureRequest
) -> None:
    folder: Path = request.getfixturevalue("kept_prefix" if kind == "prefix" else "unpacked")
    packed = world.root / f"packed-{kind}.tar.gz"
    for _ in range(2):
        world.cli("poncho_package_create", "-q", world.rel(folder), world.rel(packed))
    expected = world.environment(reference, files=False)
    assert world.environment(packed, files=False) == expected
    world.same(reference, packed)
    spec, lock = own_files(packed, world.root / f"own-{kind}")
    again = world.create_twice("--from-lock", world.rel(lock), world.rel(spec), cache=f"own-{kind}")
    assert world.environment(again, files=False) == expected
    world.markers(again)
    if kind == "prefix":
        world.markers(packed)


def test_a_packed_unpacked_dir_runs_where_it_is_unpacked_again(
    world: World, unpacked: Path
) -> None:
    packed = world.root / "packed-dir-run.tar.gz"
    world.cli("poncho_package_create", "-q", world.rel(unpacked), world.rel(packed))
    world.markers(packed)
    dest = world.root / "tar-x"
    dest.mkdir()
    sh(["tar", "-xzf", packed, "-C", dest])
    code = "import sysconfig; print(sysconfig.get_config_var('prefix'))"
    proc = sh([dest / "bin" / "run_in_env", "python", "-c", code], cwd=world.here)
    assert proc.stdout.strip() == str(dest)


# --- inspect and diff of every form --------------------------------------------------------


def test_inspect_and_diff_read_every_form(
    world: World, reference: Path, unpacked: Path, kept_prefix: Path
) -> None:
    """The tarball, its lock, its spec, the folder run unpacked it into and the kept build
    folder: one environment (a spec: each request met)."""
    forms = [world.root / "lock.json", world.root / "proj" / "spec.json", unpacked, kept_prefix]
    for form in forms:
        assert world.inspect(form)["spec_hash"] == world.inspect(reference)["spec_hash"]
        world.same(reference, form)
        world.same(form, reference)


# --- the cache: concurrent builds, OUTPUT -------------------------------------------------


def test_four_concurrent_creates_of_one_spec_build_it_once(world: World, reference: Path) -> None:
    argv = [str(world.full.script("poncho_package_create")), "--json", "-q", "--no-index",
            "--find-links", str(world.wheelhouse), "--cache-dir",
            world.rel(world.root / "envs" / "concurrent"),
            world.rel(world.root / "proj" / "spec.json")]  # fmt: skip
    procs = [
        subprocess.Popen(argv, cwd=world.here, env=world.env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [json.loads(p.communicate()[0]) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert len({o["path"] for o in outputs}) == 1
    assert sorted(o["cache_hit"] for o in outputs) == [False, True, True, True]
    built = (world.here / outputs[0]["path"]).resolve()
    assert world.environment(built) == world.environment(reference)


def test_create_to_an_output_twice_is_a_cache_hit(world: World, reference: Path) -> None:
    spec = world.rel(world.root / "proj" / "spec.json")
    (world.root / "output").mkdir(exist_ok=True)  # create does not make OUTPUT's folder
    out = world.rel(world.root / "output" / "env.tar.gz")
    first = world.create(spec, out, cache="output")
    second = world.create(spec, out, cache="output")
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert first["path"] == second["path"] == (world.root / "output" / "env.tar.gz").resolve()


def test_a_lock_rebuilt_gives_the_same_bytes(world: World, reference: Path) -> None:
    """Two builds of one lock from an empty environment cache at the same place (the build
    prefix, the conda layer, lives there and is written into the environment) give the same
    bytes; the second also reuses nothing, its cache being new."""
    import shutil

    spec, lock = world.root / "proj" / "spec.json", world.root / "lock.json"
    argv = ("--from-lock", world.rel(lock), world.rel(spec))
    first = world.create(*argv, cache="bytes")
    kept = world.root / "bytes-first.tar.gz"
    shutil.copyfile(first["path"], kept)
    shutil.rmtree(world.root / "envs" / "bytes")
    second = world.create(*argv, cache="bytes")
    assert second["members"]["reused"] == 0 and not second["cache_hit"]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (kept, second["path"])]
    assert digests[0] == digests[1]


def data_spec(world: World, name: str, remote: str) -> Path:
    """A spec (python alone) whose git data REPO_DIR is `remote` at tag v1."""
    spec = world.root / "proj" / f"{name}.json"
    python = world.inspect(world.root / "lock.json")["python"]
    spec.write_text(json.dumps({
        "conda": {"channels": [world.channel], "dependencies": [f"python={python}"]},
        "git": {"REPO_DIR": {"remote": remote, "ref": "v1"}},
    }))  # fmt: skip
    return spec


def test_a_relative_git_remote_is_the_spec_folders_wherever_the_task_runs(
    world: World, reference: Path
) -> None:
    spec = data_spec(world, "relative-remote", "../gitrepo")
    tarball = world.create_twice(world.rel(spec), cache="data")
    run = world.run_venv.script("poncho_package_run")
    for n in (1, 2):
        proc = sh([run, "-q", "--data-cache", world.root / f"data-cache-{n}", "-e", tarball,
                   "--", "sh", "-c", 'cat "$REPO_DIR/src/poncho_rt_git/__init__.py"'],
                  env=world.env, cwd=world.here)  # fmt: skip
        assert "VALUE = 'poncho-rt-git'" in proc.stdout


def test_a_packed_unpacked_dir_keeps_the_data_its_spec_names(world: World, reference: Path) -> None:
    spec = data_spec(world, "with-data", world.repo.url)
    tarball = world.create_twice(world.rel(spec), cache="with-data")
    folder = world.root / "unpacked-with-data"
    run = world.run_venv.script("poncho_package_run")
    sh([run, "-q", "-e", tarball, "-u", folder, "--", "true"], env=world.env, cwd=world.here)
    packed = world.root / "packed-with-data.tar.gz"
    world.cli("poncho_package_create", "-q", world.rel(folder), world.rel(packed))
    assert world.inspect(packed)["data"] == world.inspect(tarball)["data"] != {}
