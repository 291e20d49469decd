"""Packing an existing environment with editable pip installs: each is packed as an
installed copy of its current source (real envs from the local channel, real pip)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sysconfig
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import create
from poncho_create.cli import main
from poncho_create.existing import EditablePackages
from poncho_create.local_inputs import content_digest

# An in-tree build backend (offline, no setuptools) that builds a regular wheel of src/ and
# a PEP 660 editable one whose .pth puts src/ on sys.path; both declare a console script.
# With a NO_WHEEL file in the project, build_wheel fails (a backend missing offline).
_BACKEND = """\
import base64, hashlib, pathlib, zipfile

ROOT = pathlib.Path(__file__).resolve().parent
NAME, VERSION, MODULE = {name!r}, "0.3.0", {module!r}
DIST = MODULE + "-0.3.0.dist-info"


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(directory, files):
    meta = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
    files[DIST + "/METADATA"] = meta.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[DIST + "/WHEEL"] = wheel.encode()
    scripts = f"[console_scripts]\\n{{NAME}} = {{MODULE}}:main\\n"
    files[DIST + "/entry_points.txt"] = scripts.encode()
    record = "".join(f"{{p}},{{_digest(d)}},{{len(d)}}\\n" for p, d in files.items())
    files[DIST + "/RECORD"] = (record + DIST + "/RECORD,,\\n").encode()
    name = MODULE + "-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(directory) / name, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if (ROOT / "NO_WHEEL").exists():
        raise RuntimeError("no build backend here")
    src = ROOT / "src"
    files = {{p.relative_to(src).as_posix(): p.read_bytes() for p in sorted(src.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts}}
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    pth = (str(ROOT / "src") + "\\n").encode()
    return _wheel(wheel_directory, {{f"__editable__.{{MODULE}}-0.3.0.pth": pth}})
"""


def _project(root: Path, name: str, *, wheel: bool = True) -> Path:
    module = name.replace("-", "_")
    (root / "src" / module).mkdir(parents=True)
    (root / "src" / module / "__init__.py").write_text(
        "VALUE = 1\n\ndef main():\n    print('says', VALUE)\n"
    )
    (root / "src" / module / "data.txt").write_text("package data\n")
    (root / "backend.py").write_text(_BACKEND.format(name=name, module=module))
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    if not wheel:
        (root / "NO_WHEEL").write_text("")
    return root


def _pip(prefix: Path, *args: str) -> None:
    subprocess.run(
        [str(prefix / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q",
         "install", "--no-index", "--no-build-isolation", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def _env(prefix: Path, local_channel: Any, pkgs_dir: Path) -> Path:
    from poncho_testing import install_prefix

    install_prefix(local_channel, ["python", "pip"], prefix, pkgs_dir=pkgs_dir)
    return prefix


def _state(folder: Path) -> dict[str, str]:
    """Every path under `folder` with its content's digest (a link's target, '' for a dir)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(folder))] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path.relative_to(folder))] = ""
    return out


def _unpack(tarball: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True)
    return dest


def _run(env: Path, *argv: str) -> str:
    result = subprocess.run(
        [str(env / "bin" / "run_in_env"), *argv], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(env)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


_IMPORT = "import poncho_edit_me as m, importlib.resources as r; print(m.__file__, m.VALUE)"


def test_an_editable_install_is_packed_as_an_installed_copy_of_its_current_source(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path
) -> None:
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    project = _project(tmp_path / "project", "poncho-edit-me")
    _pip(prefix, "-e", str(project))
    site = next(prefix.glob("lib/python*/site-packages"))
    site_rel = str(site.relative_to(prefix))
    assert (site / "__editable__.poncho_edit_me-0.3.0.pth").is_file()
    before = _state(prefix)

    out = tmp_path / "one.tar.gz"
    lock_out = tmp_path / "one.lock.json"
    create(prefix, out, lock_out=lock_out)
    assert _state(prefix) == before  # the environment is not written to
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    dist_info = f"{site_rel}/poncho_edit_me-0.3.0.dist-info"
    assert {
        f"{site_rel}/poncho_edit_me/__init__.py", f"{site_rel}/poncho_edit_me/data.txt",
        f"{dist_info}/METADATA", f"{dist_info}/RECORD", f"{dist_info}/INSTALLER",
        f"{dist_info}/entry_points.txt", "bin/poncho-edit-me",
    } <= names  # fmt: skip
    assert not [n for n in names if "__editable__" in n or n.endswith(".egg-link")]

    # The lock records the source folder honestly, with its content digest.
    lock = json.loads(lock_out.read_text())
    entry = next(e for e in lock["pip"] if e["name"] == "poncho-edit-me")
    assert entry == {
        "name": "poncho-edit-me", "version": "0.3.0", "source": "path",
        "url": project.as_uri(), "sha256": content_digest(project),
    }  # fmt: skip

    one = _unpack(out, tmp_path / "one")
    module_file, value = _run(one, "python", "-c", _IMPORT).split()
    assert (module_file, value) == (str(one / site_rel / "poncho_edit_me" / "__init__.py"), "1")
    assert _run(one, "poncho-edit-me").strip() == "says 1"
    # A regular .dist-info: its RECORD lists the files packed, with their hashes.
    record = (one / dist_info / "RECORD").read_text().splitlines()
    assert "poncho_edit_me/__init__.py," + _record_hash(one / site_rel / "poncho_edit_me" /
                                                        "__init__.py") in record  # fmt: skip
    assert any(line.startswith("../../../bin/poncho-edit-me,sha256=") for line in record)
    direct_url = json.loads((one / dist_info / "direct_url.json").read_text())
    assert direct_url == {"url": project.as_uri(), "dir_info": {}}  # not editable
    spec = json.loads((one / "poncho" / "spec.json").read_text())
    assert f"poncho-edit-me @ {project.as_uri()}" in spec["conda"]["dependencies"][-1]["pip"]

    # Packed again unchanged: the same bytes (reproducible, so reusable member by member).
    again = create(prefix, tmp_path / "again.tar.gz")
    assert again.read_bytes() == out.read_bytes()

    # An edit of the source: the next tarball holds it.
    init = project / "src" / "poncho_edit_me" / "__init__.py"
    init.write_text(init.read_text().replace("VALUE = 1", "VALUE = 2"))
    (project / "src" / "poncho_edit_me" / "added.py").write_text("ADDED = True\n")
    create(prefix, tmp_path / "two.tar.gz")
    assert _state(prefix) == before
    shutil.rmtree(project)  # the tarball refers to nothing of the source folder
    two = _unpack(tmp_path / "two.tar.gz", tmp_path / "two")
    code = "import poncho_edit_me as m, poncho_edit_me.added as a; print(m.VALUE, a.ADDED)"
    assert _run(two, "python", "-c", code).strip() == "2 True"
    assert _run(two, "poncho-edit-me").strip() == "says 2"
    assert _run(one, "python", "-c", "import poncho_edit_me as m; print(m.VALUE)").strip() == "1"
    # Nothing but the records of its origin names the source folder.
    naming = [
        str(p.relative_to(two)) for p in two.rglob("*")
        if p.is_file() and str(project).encode() in p.read_bytes()
    ]  # fmt: skip
    assert sorted(naming) == sorted(
        ["poncho/lock.json", "poncho/spec.json", f"{dist_info}/direct_url.json"]
    )


def _record_hash(path: Path) -> str:
    import base64

    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def test_ignore_editable_packages_leaves_them_out(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    _pip(prefix, "-e", str(_project(tmp_path / "project", "poncho-edit-me")))
    out = tmp_path / "out.tar.gz"
    assert main([str(prefix), str(out), "--ignore-editable-packages"]) == 0
    assert "leaving out the editable packages poncho-edit-me" in capsys.readouterr().err
    with tarfile.open(out) as tar:
        names = tar.getnames()
        lock = json.loads(tar.extractfile("poncho/lock.json").read())  # type: ignore[union-attr]
    assert not [n for n in names if "edit_me" in n or "edit-me" in n]
    assert not [e for e in lock["pip"] if e["name"] == "poncho-edit-me"]


def test_without_a_wheel_the_source_folders_are_packed(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    project = _project(tmp_path / "project", "poncho-edit-me", wheel=False)
    _pip(prefix, "-e", str(project))
    before = _state(prefix)
    out = create(prefix, tmp_path / "out.tar.gz")
    assert _state(prefix) == before
    assert "pip could not build a wheel of" in caplog.text
    assert "packing the source folders of poncho-edit-me as they are" in caplog.text
    shutil.rmtree(project)
    env = _unpack(out, tmp_path / "unpacked")
    site = next(env.glob("lib/python*/site-packages"))
    assert _run(env, "python", "-c", "import poncho_edit_me as m; print(m.VALUE)").strip() == "1"
    assert (site / "poncho_edit_me" / "data.txt").is_file()
    assert not list(site.glob("__editable__*"))
    dist_info = site / "poncho_edit_me-0.3.0.dist-info"
    assert (dist_info / "entry_points.txt").is_file()
    assert json.loads((dist_info / "direct_url.json").read_text())["dir_info"] == {}
    meta = subprocess.run(
        [str(env / "bin" / "run_in_env"), "python", "-c",
         "import importlib.metadata as m; print(m.version('poncho-edit-me'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert meta.stdout.strip() == "0.3.0"


def test_a_setup_py_develop_install_is_packed_from_its_egg_info(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path
) -> None:
    # What `setup.py develop` leaves: NAME.egg-link and an easy-install.pth line in
    # site-packages, the metadata in NAME.egg-info in the source folder, a script in bin/.
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    site = next(prefix.glob("lib/python*/site-packages"))
    project = tmp_path / "legacy"
    (project / "legacy_mod").mkdir(parents=True)
    (project / "legacy_mod" / "__init__.py").write_text("VALUE = 'legacy'\n")
    (project / "legacy_mod.egg-info").mkdir()
    (project / "legacy_mod.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: legacy-mod\nVersion: 1.5\n"
    )
    (project / "legacy_mod.egg-info" / "top_level.txt").write_text("legacy_mod\n")
    (project / "legacy_mod.egg-info" / "entry_points.txt").write_text(
        "[console_scripts]\nlegacy-tool = legacy_mod:main\n"
    )
    (site / "legacy-mod.egg-link").write_text(f"{project}\n.")
    other = tmp_path / "kept-path"
    other.mkdir()
    (site / "easy-install.pth").write_text(f"{project}\n{other}\n")
    before = _state(prefix)
    lock_out = tmp_path / "lock.json"
    out = create(prefix, tmp_path / "out.tar.gz", lock_out=lock_out)
    assert _state(prefix) == before
    entry = next(e for e in json.loads(lock_out.read_text())["pip"] if e["name"] == "legacy-mod")
    assert (entry["source"], entry["url"], entry["version"]) == ("path", project.as_uri(), "1.5")
    shutil.rmtree(project)
    env = _unpack(out, tmp_path / "unpacked")
    site_rel = site.relative_to(prefix)
    assert not list((env / site_rel).glob("*.egg-link"))
    assert (env / site_rel / "easy-install.pth").read_text() == f"{other}\n"
    code = (
        "import legacy_mod as l, importlib.metadata as m; print(l.VALUE, m.version('legacy-mod'))"
    )
    assert _run(env, "python", "-c", code).strip() == "legacy 1.5"
    assert (env / site_rel / "legacy_mod-1.5.dist-info" / "entry_points.txt").is_file()


def test_an_editable_install_whose_source_is_gone_is_refused_by_name(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    project = _project(tmp_path / "project", "poncho-edit-me")
    _pip(prefix, "-e", str(project))
    shutil.rmtree(project)
    out = tmp_path / "out.tar.gz"
    assert main([str(prefix), str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("poncho_package_create: error: ")
    assert "poncho-edit-me" in err and str(project) in err and "--ignore-editable-packages" in err
    assert not out.exists()
    with pytest.raises(EditablePackages):
        create(prefix, out)
    assert main([str(prefix), str(out), "-q", "--ignore-editable-packages"]) == 0


def _setuptools_wheels() -> list[Path]:
    """setuptools (with PEP 660 editable installs, >= 64) and, if it needs one, wheel, from
    the wheels the interpreter's standard library carries (its tests', ensurepip's)."""
    stdlib = Path(sysconfig.get_path("stdlib"))
    found: dict[str, Path] = {}
    for place in (
        stdlib / "test" / "wheeldata",
        stdlib / "test",
        stdlib / "ensurepip" / "_bundled",
    ):
        for whl in sorted(place.glob("*.whl")):
            found.setdefault(whl.name.split("-")[0], whl)
    if "setuptools" not in found:
        return []
    version = tuple(int(x) for x in found["setuptools"].name.split("-")[1].split(".")[:2])
    if version < (64, 0) or (version < (70, 1) and "wheel" not in found):
        return []
    return [found["setuptools"], *([found["wheel"]] if version < (70, 1) else [])]


_SETUP_PY = """\
from setuptools import setup
setup(name={name!r}, version="2.0", packages=[{module!r}],
      package_data={{{module!r}: ["data.txt"]}},
      entry_points={{"console_scripts": ["{name}-tool = {module}:main"]}})
"""


def _setuptools_project(root: Path, name: str) -> Path:
    module = name.replace("-", "_")
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(f"VALUE = {name!r}\ndef main():\n    print(VALUE)\n")
    (root / module / "data.txt").write_text("data\n")
    (root / "setup.py").write_text(_SETUP_PY.format(name=name, module=module))
    return root


@pytest.mark.skipif(not _setuptools_wheels(), reason="no setuptools wheel in the stdlib")
def test_setuptools_editable_installs_both_kinds(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path
) -> None:
    # setuptools' own PEP 660 install (a finder module mapping the package to its folder)
    # and its `setup.py develop` (.egg-link, easy-install.pth): wheels built by setuptools.
    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    _pip(prefix, *(str(w) for w in _setuptools_wheels()))
    modern = _setuptools_project(tmp_path / "modern", "st-modern")
    (modern / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    _pip(prefix, "-e", str(modern))
    site = next(prefix.glob("lib/python*/site-packages"))
    assert list(site.glob("__editable___st_modern_2_0_finder.py"))
    legacy = _setuptools_project(tmp_path / "legacy", "st-legacy")
    subprocess.run(
        [str(prefix / "bin" / "python"), "setup.py", "-q", "develop", "--no-deps"],
        cwd=legacy, check=True, capture_output=True,
    )  # fmt: skip
    assert (site / "st-legacy.egg-link").is_file()
    env_before, sources_before = _state(prefix), (_state(modern), _state(legacy))

    out = create(prefix, tmp_path / "out.tar.gz")
    assert _state(prefix) == env_before
    assert (_state(modern), _state(legacy)) == sources_before  # no build/ left behind
    shutil.rmtree(modern)
    shutil.rmtree(legacy)
    env = _unpack(out, tmp_path / "unpacked")
    site_rel = site.relative_to(prefix)
    assert not list((env / site_rel).glob("__editable__*"))
    assert not list((env / site_rel).glob("*.egg-link"))
    code = (
        "import st_modern, st_legacy, importlib.metadata as m, pathlib as p;"
        "print(st_modern.VALUE, st_legacy.VALUE, m.version('st-modern'), m.version('st-legacy'),"
        " p.Path(st_modern.__file__).with_name('data.txt').read_text().strip())"
    )
    assert _run(env, "python", "-c", code).split() == [
        "st-modern",
        "st-legacy",
        "2.0",
        "2.0",
        "data",
    ]
    assert _run(env, "st-modern-tool").strip() == "st-modern"
    assert _run(env, "st-legacy-tool").strip() == "st-legacy"


def test_packing_again_after_an_edit_reuses_every_other_member(
    tmp_path: Path, local_channel: Any, pkgs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23 item 3: two packs of one environment differ by the editable package's
    member (and `poncho`'s: the lock names the source's digest); every other member is
    copied from the earlier tarball at OUTPUT, byte for byte."""
    from poncho_core.tarindex import read_index

    prefix = _env(tmp_path / "env", local_channel, pkgs_dir)
    project = _project(tmp_path / "project", "poncho-edit-me")
    _pip(prefix, "-e", str(project))
    out = tmp_path / "env.tar.gz"
    cache = ["--cache-dir", str(tmp_path / "envs")]
    assert main([str(prefix), str(out), "--json", *cache]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["members"]["reused"] == 0
    before = out.read_bytes()
    old = read_index(out)
    init = project / "src" / "poncho_edit_me" / "__init__.py"
    init.write_text(init.read_text().replace("VALUE = 1", "VALUE = 2"))

    assert main([str(prefix), str(out), "--json", *cache]) == 0
    second = json.loads(capsys.readouterr().out)
    new = read_index(out)
    assert old is not None and new is not None
    changed = {m.name for m in new.members} - {m.name for m in old.members}
    changed |= {
        m.name for m in new.members
        if m.key not in {o.key for o in old.members}
    }  # fmt: skip
    assert changed == {"pip/poncho-edit-me-0.3.0", "poncho"}
    assert second["members"] == {"total": len(new.members), "reused": len(new.members) - 2}
    by_name = {m.name: m for m in old.members}
    after = out.read_bytes()
    for member in new.members:
        if member.name not in changed:
            was = by_name[member.name]
            assert (
                after[member.offset : member.offset + member.size]
                == (before[was.offset : was.offset + was.size])
            )
    two = _unpack(out, tmp_path / "two")
    assert _run(two, "python", "-c", "import poncho_edit_me as m; print(m.VALUE)").strip() == "2"
