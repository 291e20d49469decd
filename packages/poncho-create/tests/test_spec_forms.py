"""Every match-spec form conda and CCTools write builds: the spec's strings reach py-rattler's
solver in their solver form (poncho_spec.matchspec), the one parser `validate` uses too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from poncho_create import Lock, UnsatisfiableSpec, create
from poncho_create.cli import main
from poncho_create.engine_rattler import solver_input
from poncho_spec import load_spec
from poncho_spec.cli import main as spec_main

# Each form picks mini-base 1.0, where a spec ignoring the constraint gets the newer 2.0.
# "{ch}" is the mini channel's URL.
FORMS = [
    "mini-base=1.0=0",  # name=version=build: conda env export, CCTools' analyzer
    "mini-base==1.0=0",
    "mini-base==1.0",
    "mini-base 1.0 0",  # name version build
    "mini-base 1.0",
    "mini-base=1.*",
    "mini-base=1.0.*",
    "mini-base>=1,<2",
    "mini-base >=1.0, <2.0",
    "mini-base<2=0",
    "mini-base[version='>=1,<2',build=0]",
    "mini-base=1.*[build=0]",
    "{ch}::mini-base=1.0=0",  # channel::name
    "{ch}/noarch::mini-base=1.0=0",  # with the channel's subdir
    "{ch}/noarch::mini-base 1.0 0",
    "MINI-BASE=1.0=0",
]


def _conda(lock_path: Path) -> dict[str, str]:
    return {e.name: f"{e.version}={e.build}" for e in Lock.read(lock_path).conda}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_builds_what_it_says(
    form: str, mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    dependency = form.format(ch=mini_channel.url)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(helpers.mini_spec(mini_channel, dependency)))
    assert spec_main(["validate", "-q", str(spec_path)]) == 0
    out = create(spec_path, tmp_path / "env.tar", lock_out=tmp_path / "lock.json", **build_dirs)
    assert out.is_file()
    assert _conda(tmp_path / "lock.json") == {"mini-base": "1.0=0"}


@pytest.mark.parametrize(
    ("form", "constraint"),
    [
        ("mini-base=1.0=5", "'mini-base=1.0=5'"),  # as written, not as the solver reads it
        ("mini-base 2.5.1 0", "'mini-base 2.5.1 0'"),
        ("mini-base=3.1.*", "'mini-base=3.1.*'"),
    ],
)
def test_a_pin_that_matches_nothing_is_named_whole(
    form: str,
    constraint: str,
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
) -> None:
    with pytest.raises(UnsatisfiableSpec) as info:
        create(helpers.mini_spec(mini_channel, form), tmp_path / "x.tar", **build_dirs)
    assert str(info.value) == (
        f"no version of conda package 'mini-base' matches {constraint} (available: 1.0, 2.0)"
    )


def test_a_glued_pin_replays_from_its_lock(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec_path = tmp_path / "spec.json"
    spec = helpers.mini_spec(mini_channel, "mini-tool=1.0=0", "mini-base==2.0=0")
    spec_path.write_text(json.dumps(spec))
    create(spec_path, tmp_path / "a.tar", lock_out=tmp_path / "lock.json", **build_dirs)
    assert _conda(tmp_path / "lock.json") == {"mini-tool": "1.0=0", "mini-base": "2.0=0"}
    again = create(spec_path, tmp_path / "b.tar", from_lock=tmp_path / "lock.json", **build_dirs)
    assert again.is_file()


def test_a_named_channel_goes_through_the_channel_alias(
    mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mini::name`` and ``mini/noarch::name`` find the channel where the alias puts it,
    as the spec's own ``mini`` channel does (a mirror of conda-forge works the same way)."""
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "mini").symlink_to(mini_channel.path)
    monkeypatch.setenv("PONCHO_CHANNEL_ALIAS", (tmp_path / "alias").as_uri())
    for i, dependency in enumerate(["mini::mini-base=1.0=0", "mini/noarch::mini-base 1.0 0"]):
        spec = {"conda": {"channels": ["mini"], "dependencies": [dependency]}}
        lock = tmp_path / f"lock{i}.json"
        create(spec, tmp_path / f"env{i}.tar", lock_out=lock, **build_dirs)
        assert _conda(lock) == {"mini-base": "1.0=0"}


def test_a_channel_named_only_in_a_spec_is_searched_too(
    mini_channel: Any, local_channel: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = {
        "conda": {
            "channels": [local_channel.url],
            "dependencies": [f"{mini_channel.url}::mini-base=1.0=0"],
        }
    }
    create(spec, tmp_path / "env.tar", lock_out=tmp_path / "lock.json", **build_dirs)
    entries = Lock.read(tmp_path / "lock.json").conda
    assert [(e.name, e.version) for e in entries] == [("mini-base", "1.0")]
    assert entries[0].url.startswith(mini_channel.url)


def test_solver_input_adds_each_spec_channel_once() -> None:
    specs, pins, channels = solver_input(
        ["a=1=b", "x::c", "x/noarch::d 1 b", "https://h.org/y::e"],
        ["p 1.*", "z::q=1=b"],
        ["https://conda.anaconda.org/x", "https://h.org/y/"],
        lambda channel: {"z": "https://mirror.org/z"}.get(channel, channel),
    )
    assert specs == ["a ==1 b", "x::c", "x/noarch::d ==1 b", "https://h.org/y::e"]
    assert pins == ["p 1.*", "https://mirror.org/z::q ==1 b"]
    assert channels == ["https://conda.anaconda.org/x", "https://h.org/y/", "https://mirror.org/z"]


def test_a_spec_written_by_cctools_analyzer_builds_unchanged(
    local_channel: Any,
    wheelhouse: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shape of CCTools' poncho_package_analyze output and of the spec in its
    poncho_package_create(1) man page: ``conda env export``'s top-level name and prefix,
    the channel ``conda-forge``, ``name=version=build`` pins sorted by name, pip nested.
    Here ``conda-forge`` is the local channel, through the channel alias."""
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "conda-forge").symlink_to(local_channel.path)
    monkeypatch.setenv("PONCHO_CHANNEL_ALIAS", (tmp_path / "alias").as_uri())
    py = local_channel.python_version
    spec = {
        "name": "myenv",
        "prefix": "/home/user/miniconda3/envs/myenv",
        "conda": {
            "channels": ["conda-forge"],
            "dependencies": [
                f"pip={local_channel.packages['pip']}=pyh0_poncho",
                "poncho-demo-app=0.1.0=pyh0_poncho",
                f"python={py}=h0_poncho",
                {"pip": ["poncho-demo-piptop==0.1.0"]},
            ],
        },
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=4))
    before = spec_path.read_bytes()
    assert spec_main(["validate", "-q", str(spec_path)]) == 0
    out = tmp_path / "env.tar.gz"
    argv = ["-q", "--no-index", "--find-links", str(wheelhouse.path), str(spec_path), str(out)]
    argv += [f"--{key.replace('_', '-')}={value}" for key, value in build_dirs.items()]
    assert main(argv) == 0
    assert spec_path.read_bytes() == before
    dest = tmp_path / "unpacked"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(out), "-C", str(dest)], check=True)
    code = "import poncho_demo_app, poncho_demo_piptop, sys; print(sys.version.split()[0])"
    result = subprocess.run(
        [str(dest / "bin" / "run_in_env"), "python", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == py
    assert load_spec(dest / "poncho" / "spec.json").hash() == load_spec(spec_path).hash()
