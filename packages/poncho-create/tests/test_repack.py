"""Packing a folder one of our tarballs was unpacked into (seams 2 and 3 of issue 26).

The folder is prepared as a worker leaves it: ``tar -x`` then ``bin/run_in_env`` (its
``poncho/.unpacked`` marker), plus the state ``poncho_package_run -u DIR`` writes
(``.poncho-run/``). The new tarball must carry none of it, hold each member once, relocate
wherever it is unpacked, and keep the data the folder's own spec names.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from poncho_create import create
from poncho_create.cli import main
from poncho_create.existing import DataNotKept

_PREFIX = "import sysconfig; print(sysconfig.get_config_var('prefix'))"


def _prepared(tarball: Path, dest: Path, helpers: SimpleNamespace) -> Path:
    """A folder as a worker leaves it: unpacked, prepared by run_in_env and by run."""
    helpers.unpack(tarball, dest)
    subprocess.run([str(dest / "bin" / "run_in_env")], check=True)
    assert (dest / "poncho" / ".unpacked").exists()
    # What poncho_package_run -u DIR writes (docs/dev/contracts.md, the DIR protocol).
    state = dest / ".poncho-run"
    state.mkdir()
    archive = {"path": str(tarball), "size": tarball.stat().st_size}
    (state / "state.json").write_text(
        json.dumps({"state_version": 1, "prefix": str(dest), "archive": archive})
    )
    (state / "state.sh").write_text(f"_poncho_state=1\n_poncho_archive_path='{tarball}'\n")
    return dest


def _prefix_of(folder: Path) -> str:
    result = subprocess.run(
        [str(folder / "bin" / "run_in_env"), "python", "-c", _PREFIX],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _names(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [n.removeprefix("./") for n in tar.getnames()]


def _spec_of(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("poncho/spec.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def test_a_prepared_folder_packs_without_its_run_state_and_relocates(
    demo_build: Any, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    first = _prepared(demo_build.tarball, tmp_path / "u2", helpers)
    assert _prefix_of(first) == str(first)
    out = tmp_path / "fromdir.tar.gz"
    assert main([str(first), str(out), "-q"]) == 0

    names = _names(out)
    assert not [n for n in names if n.startswith(".poncho-run")]
    assert "poncho/.unpacked" not in names
    assert [n for n, count in Counter(names).items() if count > 1] == []
    assert {"bin/conda-unpack", "bin/activate.fish", "bin/conda_unpack_progress.py"} <= set(names)

    # Extracted anywhere and prepared by run_in_env: it lives where it was extracted.
    second = helpers.unpack(out, tmp_path / "u6")
    assert _prefix_of(second) == str(second)
    assert not (first / "poncho" / ".unpacked").samefile(second / "poncho" / ".unpacked")
    # And packed again from there: the same members, once each.
    again = tmp_path / "again.tar.gz"
    assert main([str(second), str(again), "-q"]) == 0
    assert sorted(_names(again)) == sorted(names)


_DATA = {
    "git": {"REPO_DIR": {"remote": "https://example.org/repo.git", "ref": "a" * 40}},
    "http": {
        "REF_DB": {"url": "https://example.org/ref.tar.gz", "type": "tar", "sha256": "b" * 64}
    },
}


def _with_data(folder: Path, data: dict[str, Any]) -> None:
    """Give the folder's own spec data sections, as a tarball with data has them."""
    path = folder / "poncho" / "spec.json"
    spec = json.loads(path.read_text())
    spec.update(data)
    path.write_text(json.dumps(spec, indent=2))


def test_the_folders_data_is_kept_in_the_new_spec(
    demo_build: Any, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    folder = helpers.unpack(demo_build.tarball, tmp_path / "ud")
    _with_data(folder, _DATA)
    out = create(folder, tmp_path / "fromud.tar.gz")
    spec = _spec_of(out)
    assert spec["git"] == _DATA["git"]
    assert spec["http"]["REF_DB"]["url"] == _DATA["http"]["REF_DB"]["url"]
    assert spec["http"]["REF_DB"]["sha256"] == "b" * 64
    with tarfile.open(out) as tar:
        lock = json.loads(tar.extractfile("poncho/lock.json").read())  # type: ignore[union-attr]
    from poncho_spec import Spec

    assert lock["spec_hash"] == Spec.from_dict(spec).hash()  # the data is part of its hash


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"git": {"REPO_DIR": {"remote": "../data/repo", "ref": "main"}}}, "relative git remote"),
        ({"http": {"REF_DB": {"url": "ftp://x/y"}}}, "REF_DB"),
    ],
)
def test_data_that_cannot_be_kept_is_refused_unless_dropped(
    demo_build: Any, tmp_path: Path, helpers: SimpleNamespace,
    capsys: pytest.CaptureFixture[str], data: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    folder = helpers.unpack(demo_build.tarball, tmp_path / "ud")
    _with_data(folder, data)
    out = tmp_path / "o.tar.gz"
    assert main([str(folder), str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("poncho_package_create: error: ")
    assert reason in err and "--drop-data" in err and str(folder / "poncho" / "spec.json") in err
    assert not out.exists()
    with pytest.raises(DataNotKept):
        create(folder, out)

    assert main([str(folder), str(out), "-q", "--drop-data"]) == 0
    assert "leaving out its data" in capsys.readouterr().err
    spec = _spec_of(out)
    assert "git" not in spec and "http" not in spec
