"""`poncho inspect` and `poncho diff` on real tarballs, locks, specs and folders."""

from __future__ import annotations

import bz2
import json
import lzma
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho.cli import main
from poncho.compare import diff_inventories
from poncho.inventory import InventoryError, Package, read_inventory


@pytest.fixture(scope="module")
def built(local_channel: Any, wheelhouse: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Two real environments from the local channel: A with a pip package and data, B without."""
    from poncho_create import create

    root = tmp_path_factory.mktemp("inventory")
    options = {"cache_dir": root / "envs", "no_index": True,
               "find_links": [str(wheelhouse.path)]}  # fmt: skip
    spec_a = {
        "conda": {"channels": [local_channel.url],
                  "dependencies": ["python", "poncho-demo-app", {"pip": ["poncho-demo-pipbase"]}]},
        "http": {"DATA": {"url": "http://127.0.0.1:1/d.txt"}},
    }  # fmt: skip
    spec_b = {"conda": {"channels": [local_channel.url], "dependencies": ["python"]}}
    (root / "a.json").write_text(json.dumps(spec_a))
    a = create(root / "a.json", root / "a.tar", lock_out=root / "a.lock.json",
               keep_prefix=root / "a-prefix", **options)  # fmt: skip
    b = create(spec_b, root / "b.tar.gz", **options)
    # The compressed formats create writes, from one build (the prefix is packed again).
    (root / "formats").mkdir()
    formats = {
        ending: create(root / "a-prefix", root / "formats" / f"a{ending}", threads=2,
                       compression_level=1)
        for ending in (".tar.zst", ".tar.bz2", ".tgz")
    }  # fmt: skip
    # A plain conda-pack tarball of the same environment: no poncho/ files inside.
    plain = root / "plain.tar"
    with tarfile.open(a) as source, tarfile.open(plain, "w") as target:
        for member in source:
            if not member.name.startswith("poncho/"):
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
    return {"a": a, "b": b, "plain": plain, "root": root, "formats": formats}


def test_a_tarball_without_unpacking_it(built: Any, local_channel: Any) -> None:
    inventory = read_inventory(built["a"])
    assert inventory.kind == "tarball"
    assert inventory.platform == local_channel.subdir
    assert inventory.python == local_channel.python_version
    assert inventory.size == built["a"].stat().st_size
    assert inventory.unpacked_size and inventory.files and inventory.files > 100
    names = {(p.kind, p.name) for p in inventory.packages}
    assert {("conda", "python"), ("conda", "poncho-demo-app")} <= names
    assert ("pip", "poncho-demo-pipbase") in names
    assert inventory.data == {"DATA": "http http://127.0.0.1:1/d.txt"}
    lock = json.loads((built["root"] / "a.lock.json").read_text())
    assert inventory.spec_hash == lock["spec_hash"]
    assert not any(built["root"].glob("a.tar.*"))  # nothing was unpacked beside it


def test_a_lock_a_spec_and_an_unpacked_folder_tell_the_same(built: Any) -> None:
    tarball = read_inventory(built["a"])
    lock = read_inventory(built["root"] / "a.lock.json")
    folder = read_inventory(built["root"] / "a-prefix")
    assert (lock.kind, folder.kind) == ("lock", "folder")
    assert lock.packages == tarball.packages == folder.packages
    assert lock.python == folder.python == tarball.python
    spec = read_inventory(built["root"] / "a.json")
    assert spec.kind == "spec" and spec.packages == []
    assert spec.requested == ["python", "poncho-demo-app", "pip: poncho-demo-pipbase"]
    assert spec.spec_hash == tarball.spec_hash


def test_a_plain_conda_pack_tarball_is_read_from_conda_meta(built: Any, local_channel: Any) -> None:
    plain = read_inventory(built["plain"])
    conda = {p.name for p in plain.packages}
    assert {"python", "poncho-demo-app"} <= conda
    assert all(p.kind == "conda" for p in plain.packages)  # pip is not in conda-meta
    assert plain.python == local_channel.python_version and plain.spec_hash is None


def test_diff(built: Any, capsys: pytest.CaptureFixture[str]) -> None:
    diff = diff_inventories(read_inventory(built["a"]), read_inventory(built["b"]))
    assert {p.name for p in diff.only_a} >= {"poncho-demo-app", "poncho-demo-pipbase"}
    assert diff.only_b == [] and diff.changed == [] and not diff.same
    assert main(["diff", str(built["a"]), str(built["b"])]) == 1
    out = capsys.readouterr().out
    assert "- pip poncho-demo-pipbase 0.1.0\n" in out and "+ " not in out
    assert main(["diff", str(built["a"]), str(built["root"] / "a.lock.json")]) == 0
    assert capsys.readouterr().out == "the same packages\n"
    assert main(["diff", "--json", str(built["b"]), str(built["a"])]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["only_a"] == [] and "poncho-demo-app" in {p["name"] for p in data["only_b"]}


def test_a_changed_version_is_shown_as_such(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = json.loads((built["root"] / "a.lock.json").read_text())
    for package in lock["conda"]:
        if package["name"] == "poncho-demo-app":
            package["version"] = "9.9"
    (tmp_path / "newer.json").write_text(json.dumps(lock))
    diff = diff_inventories(read_inventory(built["a"]), read_inventory(tmp_path / "newer.json"))
    assert [(a.name, b.version) for a, b in diff.changed] == [("poncho-demo-app", "9.9")]
    assert main(["diff", str(built["a"]), str(tmp_path / "newer.json")]) == 1
    assert capsys.readouterr().out.startswith("~ conda poncho-demo-app 0.1.0 ")


def test_inspect_command(built: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(built["a"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{built['a']}: tarball, ")
    assert "\n  python     3." in out
    assert "\n  pip (1)\n    poncho-demo-pipbase  0.1.0  index" in out
    assert main(["inspect", "--json", str(built["b"])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "tarball" and data["python"] and data["packages"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file or folder"),
        ("not json at all", "not a tarball, a lock, a spec or an environment folder"),
        ('{"lock_version": 1, "conda": [3]}', "the lock's conda entries are not objects"),
    ],
)
def test_what_is_none_of_them_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "thing"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InventoryError, match=message):
        read_inventory(path)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"poncho inspect: error: {path}: ")
    assert main(["diff", str(path), str(path)]) == 2


def test_a_folder_that_is_no_environment(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no conda environment"):
        read_inventory(tmp_path)
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InventoryError, match=r"broken\.tar\.gz"):
        read_inventory(tmp_path / "broken.tar.gz")


@pytest.mark.parametrize("ending", [".tar.zst", ".tar.bz2", ".tgz"])
def test_every_format_create_writes_is_read(
    built: Any, ending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = built["formats"][ending]
    inventory = read_inventory(tarball)
    assert inventory.kind == "tarball" and inventory.size == tarball.stat().st_size

    def pins(packages: list[Package]) -> set[tuple[str, str, str, str]]:
        return {(p.kind, p.name, p.version, p.build) for p in packages}

    assert pins(inventory.packages) == pins(read_inventory(built["a"]).packages)
    if ending == ".tar.bz2":  # a parallel writer's: one bzip2 stream per block
        assert tarball.read_bytes().count(b"BZh11AY&SY") > 1
    assert main(["diff", str(built["formats"][".tar.zst"]), str(tarball)]) == 0
    assert capsys.readouterr().out == "the same packages\n"


def test_a_multi_stream_bzip2_and_an_xz_tarball(built: Any, tmp_path: Path) -> None:
    small = tmp_path / "small.tar"  # what inspect reads of a.tar, and a few files more
    with tarfile.open(built["a"]) as source, tarfile.open(small, "w") as target:
        for member in source:
            if member.name.startswith(("poncho/", "conda-meta/", "bin/")):
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
    data = small.read_bytes()
    # What a parallel bzip2 writer makes: one bzip2 stream per block, one after the other.
    blocks = [data[i : i + 20_000] for i in range(0, len(data), 20_000)]
    multi = tmp_path / "multi.tar.bz2"
    multi.write_bytes(b"".join(bz2.compress(block) for block in blocks))
    assert len(blocks) > 2
    (tmp_path / "a.tar.xz").write_bytes(lzma.compress(data))
    expected = read_inventory(built["a"]).packages
    for path in (multi, tmp_path / "a.tar.xz"):
        assert read_inventory(path).packages == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x28\xb5\x2f\xfd" + bytes(range(256)) * 4, "corrupt or truncated archive"),
        (bz2.compress(b"not a tar" * 100), "corrupt or truncated archive"),
        (b"\xb5\xff\x00binary", "not UTF-8 text"),
    ],
    ids=["damaged-zstd", "bzip2-of-no-tar", "binary"],
)
def test_a_damaged_archive_or_binary_file_is_one_clean_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "env.tar.zst"
    path.write_bytes(content)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith(f"poncho inspect: error: {path}: ")
    assert "codec" not in err and "Traceback" not in err


def _spec(path: Path, conda: list[Any], pip: list[str] | None = None) -> Path:
    dependencies: list[Any] = [*conda, {"pip": pip}] if pip else conda
    path.write_text(json.dumps({"conda": {"channels": ["ch"], "dependencies": dependencies}}))
    return path


def test_two_specs_compare_their_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _spec(tmp_path / "old.json", ["python=3.11.7", "numpy"], ["requests==2.34.2", "six"])
    new = _spec(tmp_path / "new.json", ["python=3.11", "scipy"], ["Requests == 2.32.3", "six"])
    assert main(["diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "- conda numpy requested any version",
        "+ conda scipy requested any version",
        "~ conda python requested =3.11.7 -> requested =3.11",
        "~ pip requests requested ==2.34.2 -> requested == 2.32.3",
    ]
    same = _spec(tmp_path / "same.json", ["NumPy", " python=3.11.7"], ["six", "requests==2.34.2"])
    assert main(["diff", str(old), str(same)]) == 0
    assert capsys.readouterr().out == "the same requests\n"
    other = _spec(tmp_path / "other.json", ["conda-forge::numpy", "python=3.11.7"],
                  ["requests==2.34.2", "./six"])  # fmt: skip
    assert main(["diff", "--json", str(old), str(other)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["compared"] == "requests"
    assert [p["name"] for p in data["only_a"]] == ["six"]
    assert [p["name"] for p in data["only_b"]] == ["./six"]
    assert [(c["a"]["source"], c["b"]["source"]) for c in data["changed"]] == [
        ("requested", "conda-forge")
    ]


def test_a_spec_against_an_environment_checks_each_request(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], local_channel: Any
) -> None:
    # The spec the tarball was built from: every request is installed as asked.
    assert main(["diff", str(built["root"] / "a.json"), str(built["a"])]) == 0
    assert (
        capsys.readouterr().out == f"{built['a']} holds what {built['root'] / 'a.json'} requests\n"
    )
    version = local_channel.python_version
    major_minor = ".".join(version.split(".")[:2])
    fits = _spec(tmp_path / "fits.json", [f"python={major_minor}", f"python >={major_minor}"],
                 ["poncho_demo.pipbase>=0.1"])  # fmt: skip
    assert main(["diff", str(built["a"]), str(fits)]) == 0
    capsys.readouterr()
    wrong = _spec(tmp_path / "wrong.json", ["python=2.7", "numpy", "poncho-demo-app=*=nosuch*"],
                  ["poncho-demo-pipbase<0.1"])  # fmt: skip
    assert main(["diff", str(wrong), str(built["a"])]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "- conda numpy requested any version"
    assert lines[1].startswith("~ conda poncho-demo-app requested =*=nosuch* -> ")
    assert lines[2] == f"~ conda python requested =2.7 -> {version} " + lines[2].split()[-1]
    assert lines[3] == "~ pip poncho-demo-pipbase requested <0.1 -> 0.1.0"
    assert main(["diff", "--json", str(built["a"]), str(wrong)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["compared"] == "packages-requests" and data["only_a"] == []
    assert [p["name"] for p in data["only_b"]] == ["numpy"]
    assert data["changed"][0]["a"]["build"] and data["changed"][0]["b"]["source"] == "requested"


def test_a_pip_package_from_another_source_differs(
    built: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = json.loads((built["root"] / "a.lock.json").read_text())
    for package in lock["pip"]:
        package.update(source="path", url="file:///src/poncho-demo-pipbase")
    (tmp_path / "path.lock.json").write_text(json.dumps(lock))
    diff = diff_inventories(read_inventory(built["a"]), read_inventory(tmp_path / "path.lock.json"))
    assert [(a.source, b.source) for a, b in diff.changed] == [("index", "path")]
    assert main(["diff", str(built["a"]), str(tmp_path / "path.lock.json")]) == 1
    line = capsys.readouterr().out
    assert line.startswith("~ pip poncho-demo-pipbase 0.1.0 from index file:")
    assert line.endswith(" -> 0.1.0 from path file:///src/poncho-demo-pipbase\n")
    for package in lock["pip"]:
        package.update(source="installed", url="")  # packed from an env: the source is unknown
    (tmp_path / "path.lock.json").write_text(json.dumps(lock))
    diff = diff_inventories(read_inventory(built["a"]), read_inventory(tmp_path / "path.lock.json"))
    assert diff.same


def test_sizes_say_what_makes_it_big(built: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from poncho.inspect_cli import size_lines
    from poncho.sizes import OTHER

    tarball = read_inventory(built["a"])
    rows = tarball.package_sizes
    assert sum(r.size for r in rows) == tarball.unpacked_size
    assert sum(r.files for r in rows) == tarball.files
    assert rows[0].name == "python" and rows == sorted(rows, key=lambda r: -r.size)
    named = {(r.kind, r.name): r for r in rows}
    assert named[("pip", "poncho-demo-pipbase")].files >= 2  # from its RECORD
    assert ("conda", "poncho-demo-app") in named and ("", OTHER) in named
    assert ("pip", "pip") not in named  # conda installed pip: one conda package
    # The unpacked folder holds the same packages, file for file.
    folder = {
        (r.kind, r.name): r.files for r in read_inventory(built["root"] / "a-prefix").package_sizes
    }
    assert {k: v for k, v in folder.items() if k[0]} == {
        k: r.files for k, r in named.items() if k[0]
    }
    assert main(["inspect", "--sizes", str(built["a"])]) == 0
    out = capsys.readouterr().out.splitlines()
    start = out.index(f"  sizes ({len(rows)}, unpacked, largest first)")
    assert out[start + 1].split()[:2] == ["conda", "python"] and "█" not in "".join(out)
    bars = size_lines(tarball, bars=True, columns=80)
    assert bars[1].endswith("█") and max(map(len, bars)) <= 80
    assert all(line.rstrip()[-1] in "█▏▎▍▌▋▊▉" for line in bars[1:])
    assert main(["inspect", "--sizes", str(built["root"] / "a.lock.json")]) == 0
    assert capsys.readouterr().out.endswith("  sizes: none (a lock holds no files)\n")
    assert main(["inspect", "--json", str(built["b"])]) == 0
    assert json.loads(capsys.readouterr().out)["package_sizes"][0]["name"] == "python"


def test_diff_sees_the_source_of_a_pip_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seam 6: six 1.16.0 from an index and from a git repository are not the same."""

    def lock(name: str, *pip: dict[str, Any]) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"lock_version": 1, "platform": "linux-64",
                                    "spec_hash": "h", "conda": [], "pip": list(pip)}))  # fmt: skip
        return path

    index = {"name": "six", "version": "1.16.0", "source": "index", "sha256": "a" * 64,
             "url": "https://files/six-1.16.0-py2.py3-none-any.whl"}  # fmt: skip
    git = {"name": "six", "version": "1.16.0", "source": "vcs", "sha256": None,
           "url": "git+file:///data/fakesix", "commit": "c" * 40}  # fmt: skip
    a, b = lock("a.json", index), lock("b.json", git)
    assert main(["diff", str(a), str(b)]) == 1
    assert capsys.readouterr().out == (
        "~ pip six 1.16.0 from index https://files/six-1.16.0-py2.py3-none-any.whl"
        f" -> 1.16.0 from vcs git+file:///data/fakesix@{'c' * 40}\n"
    )
    other_commit = lock("c.json", {**git, "commit": "d" * 40})
    assert not diff_inventories(read_inventory(b), read_inventory(other_commit)).same
    other_file = lock("d.json", {**index, "sha256": "e" * 64})
    assert not diff_inventories(read_inventory(a), read_inventory(other_file)).same
    # An index entry without a file (a packed environment's lock) is the same as one with it;
    # a lock from before the sources were told apart has no source: an index's.
    unknown = lock("e.json", {**index, "sha256": None, "url": None})
    assert diff_inventories(read_inventory(a), read_inventory(unknown)).same
    legacy = lock("f.json", {"name": "six", "version": "1.16.0", "sha256": None})
    assert diff_inventories(read_inventory(unknown), read_inventory(legacy)).same
    assert main(["diff", str(a), str(a)]) == 0


def test_create_inspect_and_the_lock_give_one_spec_hash(
    local_channel: Any, git_repo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seam 5: with a git branch ref, the tarball carries the spec with the commit; the lock,
    ``create --json`` and ``inspect`` all name that spec."""
    spec = {"conda": {"channels": [local_channel.url], "dependencies": ["poncho-demo-core"]},
            "git": {"DATA": {"remote": git_repo.url, "ref": "main"}}}  # fmt: skip
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    lock_file, out = tmp_path / "lock.json", tmp_path / "env.tar.gz"
    argv = ["create", "-q", "--json", "--cache-dir", str(tmp_path / "envs"),
            "--lock-out", str(lock_file), str(tmp_path / "spec.json"), str(out)]  # fmt: skip
    assert main(argv) == 0
    created = json.loads(capsys.readouterr().out)["spec_hash"]
    assert main(["inspect", "--json", str(out)]) == 0
    inspected = json.loads(capsys.readouterr().out)["spec_hash"]
    assert created == inspected == read_inventory(lock_file).spec_hash
    assert main(["diff", str(out), str(lock_file)]) == 0


def test_a_local_path_request_is_met_by_the_package_built_from_that_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``./lib`` is relative to the spec's folder, wherever diff runs; the lock records the
    folder as a file: URL."""
    (tmp_path / "proj" / "lib").mkdir(parents=True)
    _spec(tmp_path / "proj" / "spec.json", ["python"], ["./lib"])

    def lock(folder: Path) -> Path:
        pip = {"name": "mylib", "version": "1.0", "sha256": None, "source": "path",
               "url": folder.as_uri()}  # fmt: skip
        conda = {"name": "python", "version": "3.13.0", "build": "h0", "channel": "ch",
                 "url": "ch/python.conda", "sha256": None}  # fmt: skip
        path = tmp_path / f"{folder.name}.lock.json"
        path.write_text(json.dumps({"lock_version": 1, "platform": "linux-64",
                                    "spec_hash": "0" * 64, "channels": ["ch"],
                                    "conda": [conda], "pip": [pip]}))  # fmt: skip
        return path

    monkeypatch.chdir(tmp_path / "proj" / "lib")
    assert main(["diff", "../spec.json", str(lock(tmp_path / "proj" / "lib"))]) == 0
    assert main(["diff", str(lock(tmp_path / "proj" / "lib")), "../spec.json"]) == 0
    capsys.readouterr()
    assert main(["diff", "../spec.json", str(lock(tmp_path / "other"))]) == 1
    assert capsys.readouterr().out == "- pip ./lib requested any version\n"
