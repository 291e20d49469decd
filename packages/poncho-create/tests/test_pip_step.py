"""The pip step: index and path entries, the "installed here but on no index" rule, locks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from poncho_create import PipError, PipLockEntry
from poncho_create.engine_rattler import build_prefix
from poncho_create.pip_step import PipOptions, install_pip, installed_source, is_path_entry
from poncho_create.progress import Reporter


def fake_install(site: Path, name: str, version: str, url: str | None, **info: Any) -> None:
    """Record `name` as installed in the "environment" `site` (what pip leaves behind)."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if url is not None:
        (dist / "direct_url.json").write_text(json.dumps({"url": url, **info}))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "user-venv" / "lib" / "python3" / "site-packages"


def test_source_of_an_editable_install(site: Path, tmp_path: Path, helpers: Any) -> None:
    project = helpers.make_project(tmp_path / "proj", "my-code")
    fake_install(site, "my-code", "1.2", project.as_uri(), dir_info={"editable": True})
    assert installed_source("my_code", None, [str(site)]) == project
    assert installed_source("My.Code", "my-code>=1", [str(site)]) == project


def test_source_of_a_local_archive(site: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "w" / "thing-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"zip")
    fake_install(site, "thing", "1.0", wheel.as_uri(), archive_info={})
    assert installed_source("thing", None, [str(site)]) == wheel


def test_not_installed_names_the_package(site: Path) -> None:
    site.mkdir(parents=True)
    with pytest.raises(PipError, match="'ghost' was not found on any index, and it is not inst"):
        installed_source("ghost", None, [str(site)], pip_output="  ERROR: pip said so")


def test_installed_from_an_index_has_no_known_source(site: Path) -> None:
    fake_install(site, "from-index", "1.0", None)
    fake_install(site, "from-web", "1.0", "https://example.invalid/x.whl", archive_info={})
    for name in ("from-index", "from-web"):
        with pytest.raises(PipError, match=f"'{name}' 1.0 is installed .* source location is unk"):
            installed_source(name, None, [str(site)])


def test_installed_version_must_match(site: Path, tmp_path: Path) -> None:
    fake_install(site, "pinned", "1.0", tmp_path.as_uri(), dir_info={})
    with pytest.raises(PipError, match=r"\(1.0\) does not satisfy 'pinned>=2'"):
        installed_source("pinned", "pinned>=2", [str(site)])
    assert installed_source("pinned", "pinned ; python_version > '3'", [str(site)]) == tmp_path


def test_source_that_moved_away(site: Path, tmp_path: Path) -> None:
    fake_install(site, "moved", "1.0", (tmp_path / "gone").as_uri(), dir_info={})
    with pytest.raises(PipError, match="which no longer exists"):
        installed_source("moved", None, [str(site)])


def test_path_entries(tmp_path: Path) -> None:
    (tmp_path / "sub" / "proj").mkdir(parents=True)
    for entry in ("./x", "../x", "/abs", "~/x", "file:///x"):
        assert is_path_entry(entry)
    assert is_path_entry("sub/proj", tmp_path)
    assert not is_path_entry("sub/nothing", tmp_path)
    assert not is_path_entry("requests>=2")
    assert not is_path_entry("pkg @ https://h/x/y.whl")


def test_pip_options() -> None:
    assert PipOptions().args() == []
    assert PipOptions("http://i/simple", ("a", "b"), True).args() == [
        "--index-url", "http://i/simple", "--find-links", "a", "--find-links", "b", "--no-index",
    ]  # fmt: skip


def test_no_python_in_the_prefix(tmp_path: Path) -> None:
    with pytest.raises(PipError, match="add python to the conda dependencies"):
        install_pip(tmp_path, ["x"], PipOptions(), Reporter(None))


# --- real pip runs in a real prefix ----------------------------------------------------


@pytest.fixture(scope="module")
def py_prefix(local_channel: Any, pkgs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefix = tmp_path_factory.mktemp("py-prefix") / "env"
    build_prefix(["python", "pip"], [local_channel.url], local_channel.subdir, prefix, pkgs_dir,
                 Reporter(None), native=True)  # fmt: skip
    return prefix


def imports(prefix: Path, module: str) -> str:
    code = f"import {module}; print({module}.VALUE)"
    return subprocess.run([str(prefix / "bin" / "python"), "-c", code], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


@pytest.mark.slow
def test_a_package_only_installed_here_is_built_from_its_source(
    py_prefix: Path, site: Path, tmp_path: Path, wheelhouse: Any, helpers: Any
) -> None:
    project = helpers.make_project(tmp_path / "src" / "userproj", "poncho-create-userproj", "3.1")
    fake_install(site, "poncho-create-userproj", "3.1", project.as_uri(),
                 dir_info={"editable": True})  # fmt: skip
    (tmp_path / "rel").mkdir()
    helpers.make_project(tmp_path / "rel" / "relproj", "poncho-create-relproj", "0.5")
    events: list[Any] = []
    entries = install_pip(
        py_prefix,
        ["poncho-create-userproj==3.1", "poncho-demo-pipbase", "./relproj"],
        PipOptions(no_index=True, find_links=(str(wheelhouse.path),)),
        Reporter(events.append),
        base_dir=tmp_path / "rel",
        current_env=[str(site)],
    )
    by_name = {e.name: e for e in entries}
    assert by_name["poncho-create-userproj"] == PipLockEntry(
        "poncho-create-userproj", "3.1", None, "installed", project.as_uri()
    )
    assert by_name["poncho-create-relproj"].source == "path"
    base = by_name["poncho-demo-pipbase"]
    assert base.source == "index" and base.sha256 is not None and len(base.sha256) == 64
    assert base.url == wheelhouse.wheels["poncho-demo-pipbase"].as_uri()
    assert imports(py_prefix, "poncho_create_userproj") == "poncho-create-userproj"
    # Installed non-editable: a copy in site-packages, not a link to the source.
    project.joinpath("poncho_create_userproj", "__init__.py").write_text("VALUE = 'changed'\n")
    assert imports(py_prefix, "poncho_create_userproj") == "poncho-create-userproj"
    assert events[-1].finished and events[-1].done == 3

    # The same again from the lock: exact versions, hashes checked, sources found again.
    again = install_pip(
        py_prefix,
        ["./relproj"],
        PipOptions(no_index=True, find_links=(str(wheelhouse.path),)),
        Reporter(None),
        base_dir=tmp_path / "rel",
        locked=entries,
        current_env=[str(site)],
    )
    assert {e.name for e in again} == set(by_name)

    # A lock without URLs (older locks): by version, the hash checked afterwards.
    tampered = [PipLockEntry("poncho-demo-pipbase", "0.1.0", "0" * 64, "index")]
    with pytest.raises(PipError, match=r"poncho-demo-pipbase 0\.1\.0 changed: sha256"):
        install_pip(py_prefix, [], PipOptions(no_index=True, find_links=(str(wheelhouse.path),)),
                    Reporter(None), locked=tampered)  # fmt: skip
    # With its URL: that very file, which pip itself refuses when its hash differs.
    tampered = [PipLockEntry("poncho-demo-pipbase", "0.1.0", "0" * 64, "index", base.url)]
    with pytest.raises(PipError, match="DO NOT MATCH THE HASHES"):
        install_pip(py_prefix, [], PipOptions(no_index=True), Reporter(None), locked=tampered)
    # Exactly the locked file, found by its URL with no index or --find-links at all.
    exact = install_pip(py_prefix, [], PipOptions(no_index=True), Reporter(None), locked=[base])
    assert exact == [base]


@pytest.mark.slow
def test_pips_own_configuration_is_ignored_unless_asked(
    local_channel: Any, pkgs_dir: Path, tmp_path: Path, wheelhouse: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    py_prefix = tmp_path / "env"  # a fresh one: nothing of the wheelhouse installed yet
    build_prefix(["python", "pip"], [local_channel.url], local_channel.subdir, py_prefix,
                 pkgs_dir, Reporter(None), native=True)  # fmt: skip
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {wheelhouse.path}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse.path))
    events: list[Any] = []
    with pytest.raises(PipError, match="'poncho-demo-pipbase' was not found on any index"):
        install_pip(py_prefix, ["poncho-demo-pipbase"], PipOptions(no_index=True),
                    Reporter(events.append), current_env=[str(tmp_path)])  # fmt: skip
    for variable in ("PIP_CONFIG_FILE", "PIP_FIND_LINKS"):  # each one alone is enough
        options = PipOptions(no_index=True, use_config=True)
        with monkeypatch.context() as env:
            env.delenv(variable)
            entries = install_pip(py_prefix, ["poncho-demo-pipbase"], options,
                                  Reporter(events.append))  # fmt: skip
        assert [e.name for e in entries] == ["poncho-demo-pipbase"]
        subprocess.run([str(py_prefix / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y",
                        "poncho-demo-pipbase"], check=True)  # fmt: skip
    # pip's progress comes through while it runs, not only at the end.
    assert any(e.message.startswith(("processing", "collecting")) for e in events)


@pytest.mark.slow
def test_a_missing_path_and_a_failing_lock_install(
    py_prefix: Path, tmp_path: Path, wheelhouse: Any
) -> None:
    with pytest.raises(PipError, match=r"pip entry './nope': .*nope does not exist"):
        install_pip(py_prefix, ["./nope"], PipOptions(), Reporter(None), base_dir=tmp_path)
    locked = [PipLockEntry("poncho-demo-piptop", "9.9", None, "index")]
    with pytest.raises(PipError, match=r"pip install failed .* last lines") as info:
        install_pip(py_prefix, [], PipOptions(no_index=True, find_links=(str(wheelhouse.path),)),
                    Reporter(None), locked=locked)  # fmt: skip
    assert "poncho-demo-piptop==9.9" in str(info.value)


@pytest.mark.slow
def test_a_dependency_only_installed_here_and_file_urls(
    py_prefix: Path, site: Path, tmp_path: Path, helpers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = helpers.make_project(tmp_path / "dep", "poncho-create-depproj", "1.0")
    fake_install(site, "poncho-create-depproj", "1.0", dep.as_uri(), dir_info={})
    top = helpers.make_project(
        tmp_path / "top", "poncho-create-topproj", "1.0", requires=("poncho-create-depproj",)
    )
    helpers.make_project(tmp_path / "cwd" / "here", "poncho-create-cwdproj", "1.0")
    monkeypatch.chdir(tmp_path / "cwd")  # relative paths without a base_dir: from the cwd
    entries = install_pip(
        py_prefix, [top.as_uri(), "./here"], PipOptions(no_index=True), Reporter(None),
        current_env=[str(site)],
    )  # fmt: skip
    sources = {e.name: e.source for e in entries}
    assert sources == {
        "poncho-create-topproj": "path",
        "poncho-create-depproj": "installed",
        "poncho-create-cwdproj": "path",
    }


def test_odd_metadata(site: Path, tmp_path: Path) -> None:
    fake_install(site, "odd", "1.0", tmp_path.as_uri(), dir_info={})
    assert installed_source("odd", "odd @@@ not a requirement", [str(site)]) == tmp_path
    (site / "odd-1.0.dist-info" / "direct_url.json").write_text("{broken")
    with pytest.raises(PipError, match="source location is unknown"):
        installed_source("odd", None, [str(site)])


def test_an_interpreter_that_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("not a program")
    with pytest.raises(PipError, match=r"cannot run .*bin/python"):
        install_pip(tmp_path, ["x"], PipOptions(), Reporter(None))


def test_vv_shows_the_pip_command_as_a_line_for_a_shell(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "bin" / "python").chmod(0o755)
    options = PipOptions(find_links=(str(tmp_path / "my wheels"),))
    with caplog.at_level("DEBUG"), pytest.raises(PipError):
        install_pip(tmp_path, ["x"], options, Reporter(None))
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("running "))
    assert f"{tmp_path}/bin/python -m pip install " in line and "[" not in line
    assert f"--find-links '{tmp_path}/my wheels'" in line
