"""requirements.txt and environment.yml in, a spec out: real files read as pip reads them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from poncho_spec import InvalidSpec, SpecNotFound
from poncho_spec.importers import MissingExtra, import_file, is_importable

HASH = "1f28b4522cdc2fb4256ac1a020c78acf9cba2c6b461ccd2c126f3aa8e8335d04"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "localpkg").mkdir()
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text(f"attrs==23.1.0 --hash=sha256:{HASH}\n")
    (tmp_path / "requirements.txt").write_text(
        "# the app\n"
        "--index-url https://pypi.example.org/simple\n"
        "-r reqs/base.txt\n"
        'numpy>=1.24 ; python_version >= "3.9"\n'
        "requests[socks]==2.31.0 \\\n"
        "    --hash=sha256:" + HASH + "\n"
        "-e ./localpkg\n"
        "y @ git+https://example.org/y.git@" + "a" * 40 + "\n"
        "--only-binary :all:\n"
    )
    return tmp_path


def test_a_requirements_file(project: Path) -> None:
    result = import_file(project / "requirements.txt", python_version="3.12")
    spec = result.spec
    assert spec.conda.dependencies == ("python=3.12", "pip")
    assert spec.pip == (
        "attrs==23.1.0",
        'numpy>=1.24 ; python_version >= "3.9"',
        "requests[socks]==2.31.0",
        "./localpkg",
        "y @ git+https://example.org/y.git@" + "a" * 40,
    )
    assert spec.base_dir == project.resolve()
    notes = "\n".join(result.notes)
    assert "requirements.txt: line 2: --index-url: give it to poncho_package_create" in notes
    assert "requirements.txt: base.txt:1: --hash: not kept" in notes
    assert "requirements.txt: line 5: --hash: not kept" in notes
    assert "requirements.txt: line 7: -e ./localpkg: installed as a copy" in notes
    assert "requirements.txt: line 9: --only-binary: not kept" in notes
    default = import_file(project / "requirements.txt").spec
    assert default.conda.dependencies[0] == f"python={sys.version_info[0]}.{sys.version_info[1]}"


def test_every_line_that_cannot_be_converted_is_named(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("attrs<24\n")
    (tmp_path / "requirements.txt").write_text(
        "attrs\n-c c.txt\nthis is not valid!!\n-e git+https://example.org/x.git#egg=x\nnumpy>>1\n"
    )
    with pytest.raises(InvalidSpec) as info:
        import_file(tmp_path / "requirements.txt")
    lines = [line.removeprefix(f"{tmp_path}/") for line in str(info.value).splitlines()]
    assert lines[0].startswith("requirements.txt: line 2: -c constraint files cannot be said")
    assert lines[1].startswith("requirements.txt: line 3: 'this is not valid!!': Invalid")
    assert lines[2].startswith("requirements.txt: line 5: 'numpy>>1': Invalid")
    assert lines[3].startswith("requirements.txt: line 4: '-e git+https://example.org/x.git")
    assert len(lines) == 4


def test_a_conda_environment_file(project: Path) -> None:
    env = project / "environment.yml"
    env.write_text(
        "name: analysis\n"
        "channels:\n  - conda-forge\n  - bioconda\n  - nodefaults\n"
        "dependencies:\n  - python=3.11\n  - numpy>=1.24\n  - pip\n"
        "  - pip:\n    - requests==2.31.0\n    - -r reqs/base.txt\n"
        "    - --index-url https://pypi.example.org/simple\n"
        "variables:\n  OMP_NUM_THREADS: '1'\n"
        "prefix: /home/u/miniconda3/envs/analysis\n"
    )
    result = import_file(env)
    assert result.spec.conda.channels == ("conda-forge", "bioconda")
    assert result.spec.conda.dependencies == ("python=3.11", "numpy>=1.24", "pip")
    assert result.spec.pip == ("requests==2.31.0", "attrs==23.1.0")
    notes = "\n".join(result.notes)
    for expected in (
        "environment.yml: name: not part of the environment's content",
        "environment.yml: variables: not part",
        "environment.yml: channels: nodefaults dropped",
        "environment.yml: dependencies[3].pip, line 3: --index-url",
        "environment.yml: base.txt:1: --hash: not kept",
    ):
        assert expected in notes
    assert [p.name for p in project.iterdir() if "poncho" in p.name] == []


def test_bad_environment_files(tmp_path: Path) -> None:
    env = tmp_path / "environment.yaml"
    env.write_text("channels: conda-forge\ndependencies: [numpy>>1, 3]\nextra: 1\n")
    with pytest.raises(InvalidSpec) as info:
        import_file(env)
    text = str(info.value)
    assert "extra: unknown key" in text and "channels: must be a list" in text
    assert "conda.dependencies[0]" in text and "conda.dependencies[1]" in text
    env.write_text("- a list\n")
    with pytest.raises(InvalidSpec, match="a YAML mapping"):
        import_file(env)
    env.write_text("key: [unclosed\n")
    with pytest.raises(InvalidSpec, match="not a readable YAML file"):
        import_file(env)
    env.write_text("dependencies: 3\n")
    with pytest.raises(InvalidSpec, match="dependencies: must be a list"):
        import_file(env)
    with pytest.raises(SpecNotFound):
        import_file(tmp_path / "missing.txt")


def test_missing_includes_and_url_without_name(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r nowhere.txt\n")
    with pytest.raises(InvalidSpec, match="Could not open requirements file"):
        import_file(tmp_path / "requirements.txt")
    (tmp_path / "requirements.txt").write_text("https://example.org/x-1.0.tar.gz\n")
    with pytest.raises(InvalidSpec, match="without a package name"):
        import_file(tmp_path / "requirements.txt")


def test_file_kinds_and_the_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_importable("requirements.txt") and is_importable("env.YML")
    assert not is_importable("spec.json")
    (tmp_path / "requirements.txt").write_text("attrs\n")
    monkeypatch.setitem(sys.modules, "pip_requirements_parser", None)
    with pytest.raises(MissingExtra, match=r"poncho-spec\[import\]"):
        import_file(tmp_path / "requirements.txt")


def test_poncho_specs_under_other_names_are_read_as_specs(tmp_path: Path) -> None:
    # Parsl's TaskVine executor writes poncho_package_analyze's JSON spec to a .yaml file.
    json_in_yaml = tmp_path / "tmp.yaml"
    json_in_yaml.write_text('{"conda": {"dependencies": ["python=3.11"]}, "name": "x"}')
    result = import_file(json_in_yaml)
    assert result.spec.conda.dependencies == ("python=3.11",) and result.notes == []
    assert result.spec.warnings[0].startswith("name: ignored")
    yaml_spec = tmp_path / "spec.yml"
    yaml_spec.write_text("conda:\n  dependencies: [python=3.12]\npip: [attrs]\n")
    assert import_file(yaml_spec).spec.pip == ("attrs",)
