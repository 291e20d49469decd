"""Packing with conda-pack: formats, levels, atomic output, extras, and bin/run_in_env."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from poncho_create import Lock, PackError, ProgressEvent
from poncho_create.engine_rattler import build_prefix
from poncho_create.pack import add_poncho_files, pack_prefix, read_member, run_in_env_script
from poncho_create.progress import Reporter


@pytest.fixture(scope="module")
def mini_prefix(
    mini_channel: Any, pkgs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    prefix = tmp_path_factory.mktemp("mini-prefix") / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, pkgs_dir, Reporter(None),
                 native=True)  # fmt: skip
    add_poncho_files(prefix, {"conda": {"dependencies": ["mini-tool"]}}, Lock("linux-64", "abc"))
    return prefix


MAGIC = {"tar.gz": b"\x1f\x8b", "tar.bz2": b"BZh", "tar.zst": b"\x28\xb5\x2f\xfd"}


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.bz2", "tar.zst", "tar"])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_format_packs_a_readable_archive(
    mini_prefix: Path, tmp_path: Path, fmt: str, threads: int
) -> None:
    events: list[ProgressEvent] = []
    out = pack_prefix(
        mini_prefix, tmp_path / f"env.{fmt}", fmt, level=3, threads=threads,
        report=Reporter(events.append),
    )  # fmt: skip
    data = out.read_bytes()
    assert data.startswith(MAGIC.get(fmt, b""))
    if fmt == "tar.zst":
        import zstandard

        # An indexed tarball: one zstd frame per member, then a skippable frame.
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as r:
            data = r.read()
        out = tmp_path / "plain.tar"
        out.write_bytes(data)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"bin/mini-tool", "bin/run_in_env", "poncho/spec.json", "poncho/lock.json"} <= names
    assert "bin/conda-unpack" in names and "CACHEDIR.TAG" not in names
    assert events[0].phase == "pack" and events[-1].finished
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_member_is_read_from_every_format(mini_prefix: Path, tmp_path: Path) -> None:
    import bz2

    plain = pack_prefix(mini_prefix, tmp_path / "env.tar", "tar", level=0, threads=1,
                        report=Reporter(None))  # fmt: skip
    expected = (mini_prefix / "poncho" / "lock.json").read_bytes()
    data = plain.read_bytes()
    # What a parallel bzip2 writer makes of a big environment: one stream per block.
    multi = tmp_path / "multi.tar.bz2"
    multi.write_bytes(b"".join(bz2.compress(data[i : i + 4096]) for i in range(0, len(data), 4096)))
    zst = pack_prefix(mini_prefix, tmp_path / "env.tar.zst", "tar.zst", level=3, threads=2,
                      report=Reporter(None))  # fmt: skip
    for tarball in (plain, multi, zst):
        assert read_member(tarball, "poncho/lock.json") == expected
        assert read_member(tarball, "poncho/none.json") is None
    assert read_member(plain, "poncho/lock.json", limit=1) is None
    (tmp_path / "cut.tar.bz2").write_bytes(multi.read_bytes()[:-100])
    with pytest.raises(PackError, match=r"cut\.tar\.bz2: corrupt or truncated archive"):
        read_member(tmp_path / "cut.tar.bz2", "poncho/none.json")


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.bz2", "tar.zst", "tar"])
def test_the_same_bytes_with_any_thread_count_and_at_any_time(
    mini_prefix: Path, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outs = [
        pack_prefix(mini_prefix, tmp_path / f"{n}.{fmt}", fmt, level=3, threads=n,
                    report=Reporter(None))
        for n in (1, 2, 4)
    ]  # fmt: skip
    (mini_prefix / "bin" / "mini-tool").touch()  # a newer mtime changes nothing
    outs.append(pack_prefix(mini_prefix, tmp_path / f"again.{fmt}", fmt, level=3, threads=1,
                            report=Reporter(None)))  # fmt: skip
    assert len({out.read_bytes() for out in outs}) == 1
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dated = pack_prefix(mini_prefix, tmp_path / f"dated.{fmt}", fmt, level=3, threads=1,
                        report=Reporter(None))  # fmt: skip
    if fmt == "tar.zst":
        return
    with tarfile.open(dated) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}


def test_plain_tar_extracts_a_zst_tarball(mini_prefix: Path, tmp_path: Path) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program to test `tar --zstd` with")
    out = pack_prefix(mini_prefix, tmp_path / "e.tar.zst", "tar.zst", level=19, threads=2,
                      report=Reporter(None))  # fmt: skip
    (tmp_path / "x").mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(out), "-C", str(tmp_path / "x")], check=True)
    assert (tmp_path / "x" / "bin" / "mini-tool").exists()


def test_higher_gzip_level_is_not_larger(mini_prefix: Path, tmp_path: Path) -> None:
    fast = pack_prefix(mini_prefix, tmp_path / "1.tar.gz", "tar.gz", level=0, threads=1,
                       report=Reporter(None))  # fmt: skip
    best = pack_prefix(mini_prefix, tmp_path / "9.tar.gz", "tar.gz", level=9, threads=1,
                       report=Reporter(None))  # fmt: skip
    assert best.stat().st_size < fast.stat().st_size


def test_extras_written_into_the_prefix(mini_prefix: Path) -> None:
    assert json.loads((mini_prefix / "poncho" / "lock.json").read_text())["spec_hash"] == "abc"
    script = mini_prefix / "bin" / "run_in_env"
    assert script.read_text() == run_in_env_script()
    assert os.access(script, os.X_OK)
    assert not (mini_prefix / "CACHEDIR.TAG").exists()


def test_pack_failure_leaves_existing_output_untouched(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, pkgs_dir, Reporter(None),
                 native=True)  # fmt: skip
    (prefix / "bin" / "mini-tool").unlink()  # a conda-managed file gone: conda-pack refuses
    out = tmp_path / "env.tar.gz"
    out.write_bytes(b"old")
    with pytest.raises(PackError, match="conda-pack cannot pack"):
        pack_prefix(prefix, out, "tar.gz", level=1, threads=1, report=Reporter(None))
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env", "env.tar.gz"]


def test_unwritable_output_folder_is_a_pack_error(mini_prefix: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PackError, match="cannot write"):
        pack_prefix(mini_prefix, blocker / "env.tar", "tar", level=0, threads=1,
                    report=Reporter(None))  # fmt: skip


def test_a_file_vanishing_while_packing(mini_channel: Any, pkgs_dir: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, pkgs_dir, Reporter(None),
                 native=True)  # fmt: skip
    (prefix / "share" / "extra.txt").write_text("not from a package: packed from the prefix")
    out = tmp_path / "env.tar"
    out.write_bytes(b"old")

    def vanish(event: ProgressEvent) -> None:
        if event.phase == "pack" and not event.done:
            (prefix / "share" / "extra.txt").unlink()

    with pytest.raises(PackError, match=r"packing failed: .*extra\.txt"):
        pack_prefix(prefix, out, "tar", level=0, threads=1, report=Reporter(vanish))
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env", "env.tar"]


def test_interrupted_packing_leaves_nothing(mini_prefix: Path, tmp_path: Path) -> None:
    def interrupt(event: ProgressEvent) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack_prefix(mini_prefix, tmp_path / "e.tar.gz", "tar.gz", level=1, threads=2,
                    report=Reporter(interrupt))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_packing_after_the_package_cache_is_gone_warns(
    mini_channel: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = tmp_path / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, tmp_path / "pkgs",
                 Reporter(None), native=True)  # fmt: skip
    shutil.rmtree(tmp_path / "pkgs")
    out = pack_prefix(prefix, tmp_path / "e.tar", "tar", level=0, threads=1, report=Reporter(None))
    assert out.exists()
    assert "conda-pack:" in caplog.text


# --- bin/run_in_env, for real, in a hand-made prefix --------------------------------------


@pytest.fixture
def fake_env(tmp_path: Path) -> Path:
    prefix = tmp_path / "unpacked env"  # a space, to check the quoting
    (prefix / "bin").mkdir(parents=True)
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    script = prefix / "bin" / "run_in_env"
    script.write_text(run_in_env_script())
    script.chmod(0o755)
    unpack = prefix / "bin" / "conda-unpack"
    unpack.write_text(
        '#!/bin/sh\nsleep 1\necho "$PYTHONPATH" >> "$(dirname "$0")/../unpack-runs"\n'
    )
    unpack.chmod(0o755)
    (prefix / "etc" / "conda" / "activate.d" / "a.sh").write_text("export ACTIVATED=a\n")
    (prefix / "bin" / "hello").write_text("#!/bin/sh\necho hello from $CONDA_PREFIX\n")
    (prefix / "bin" / "hello").chmod(0o755)
    return prefix


def run(prefix: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/somewhere", **env}
    return subprocess.run(
        [str(prefix / "bin" / "run_in_env"), *argv], capture_output=True, text=True, env=base
    )


def test_run_in_env_unpacks_once_even_when_started_many_times_at_once(fake_env: Path) -> None:
    script = str(fake_env / "bin" / "run_in_env")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/somewhere"}
    procs = [
        subprocess.Popen([script, "hello"], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    outputs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    assert outputs == [f"hello from {fake_env}\n"] * 4
    # Ran exactly once, without the caller's PYTHONPATH.
    assert (fake_env / "unpack-runs").read_text() == "\n"
    assert (fake_env / "poncho" / ".unpacked").exists()
    # poncho_package_run's lock file, next to the folder
    assert (fake_env.parent / f"{fake_env.name}.poncho.lock").is_file()


def test_run_in_env_sets_the_environment(fake_env: Path) -> None:
    shown = run(fake_env, "sh", "-c", 'echo "$CONDA_PREFIX|$CONDA_DEFAULT_ENV|$ACTIVATED|'
                '${PYTHONPATH-none}|${PYTHONHOME-none}|${PATH%%:*}|$PONCHO_PREFIX"',
                PYTHONHOME="/x")  # fmt: skip
    assert shown.stdout == f"{fake_env}|{fake_env}|a|none|none|{fake_env}/bin|{fake_env}\n"


def test_run_in_env_found_through_path_and_called_by_sh(fake_env: Path) -> None:
    env = {"PATH": f"{fake_env / 'bin'}:/usr/bin:/bin"}
    result = subprocess.run(["run_in_env", "hello"], capture_output=True, text=True, env=env)
    assert result.stdout == f"hello from {fake_env}\n"
    result = subprocess.run(
        ["sh", "run_in_env", "hello"], capture_output=True, text=True, env=env,
        cwd=fake_env / "bin",
    )  # fmt: skip
    assert result.stdout == f"hello from {fake_env}\n"


def test_run_in_env_without_a_command_prepares_and_exits_0(fake_env: Path) -> None:
    """TaskVine's declare_poncho runs it once without arguments."""
    result = run(fake_env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (fake_env / "poncho" / ".unpacked").exists()
    assert (fake_env / "unpack-runs").read_text() == "\n"


def test_failed_conda_unpack_stops_and_can_be_retried(fake_env: Path) -> None:
    unpack = fake_env / "bin" / "conda-unpack"
    good = unpack.read_text()
    unpack.write_text("#!/bin/sh\necho broken >&2\nexit 4\n")
    result = run(fake_env, "hello")
    assert result.returncode == 1 and "conda-unpack failed" in result.stderr
    assert not (fake_env / "poncho" / ".unpacked").exists()
    unpack.write_text(good)
    assert run(fake_env, "hello").returncode == 0


def test_a_task_killed_while_unpacking_does_not_wedge_the_others(fake_env: Path) -> None:
    unpack = fake_env / "bin" / "conda-unpack"
    good = unpack.read_text()
    unpack.write_text("#!/bin/sh\necho started\nexec sleep 60\n")
    killed = subprocess.Popen(
        [str(fake_env / "bin" / "run_in_env"), "hello"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert killed.stdout is not None and killed.stdout.readline() == "started\n"
    os.killpg(killed.pid, signal.SIGKILL)  # the task and its children, as a worker does
    killed.wait()
    killed.stdout.close()
    unpack.write_text(good)
    # Not the 300 s of a left-over lock folder: the kernel dropped the lock.
    result = run(fake_env, "hello", PONCHO_UNPACK_WAIT="20")
    assert result.returncode == 0 and result.stdout == f"hello from {fake_env}\n"


def test_waiting_too_long_for_the_lock_exits_75(fake_env: Path) -> None:
    lock = fake_env.parent / f"{fake_env.name}.poncho.lock"
    with subprocess.Popen(["flock", str(lock), "sleep", "30"]) as holder:
        try:
            time.sleep(0.3)
            result = run(fake_env, "hello", PONCHO_UNPACK_WAIT="1")
        finally:
            holder.kill()
    assert result.returncode == 75 and "PONCHO_UNPACK_WAIT" in result.stderr


def test_no_conda_unpack_means_nothing_to_do(fake_env: Path) -> None:
    (fake_env / "bin" / "conda-unpack").unlink()
    assert run(fake_env, "hello").stdout == f"hello from {fake_env}\n"
    assert not (fake_env / "poncho").exists()


def test_cctools_set_env_and_data_through_poncho_package_run(fake_env: Path) -> None:
    (fake_env / "poncho").mkdir()
    (fake_env / "poncho" / "set_env").write_text('export OLD_DATA="$1/old_data"\n')
    shown = run(fake_env, "sh", "-c", 'echo "$OLD_DATA"')
    assert shown.stdout == f"{fake_env}/old_data\n"
    (fake_env / "poncho" / "spec.json").write_text(
        '{"http": {"DATA": {"url": "http://127.0.0.1:1/x", "type": "file"}}}'
    )
    tools = fake_env.parent / "tools"
    tools.mkdir()
    (tools / "poncho_package_run").write_text('#!/bin/sh\necho "delegated $*"\n')
    (tools / "poncho_package_run").chmod(0o755)
    result = run(fake_env, "hello", PATH=f"{tools}:/usr/bin:/bin")
    assert result.stdout == f"delegated -e {fake_env} -- hello\n"
    alone = run(fake_env, "hello")
    assert alone.stdout == f"hello from {fake_env}\n" and "names data" in alone.stderr


def test_conda_pack_private_writer_methods_are_still_there() -> None:
    """Canary: pack_stream.py overrides conda-pack's private ``TarArchive._add`` and ``_add_bytes``
    (normalised members: reproducible tarballs). If conda-pack renames them,
    our overrides would silently stop applying: fail here instead."""
    import inspect

    from conda_pack.formats import TarArchive

    from poncho_create.pack_stream import _tar_archive_class

    assert list(inspect.signature(TarArchive._add).parameters) == ["self", "source", "target"]
    assert list(inspect.signature(TarArchive._add_bytes).parameters) == [
        "self",
        "source",
        "sourcebytes",
        "target",
    ]
    ours = _tar_archive_class()
    assert ours._add is not TarArchive._add and ours._add_bytes is not TarArchive._add_bytes
