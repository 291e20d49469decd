from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze import analyze
from poncho_analyze.errors import (
    AnalyzeError,
    FunctionNotFound,
    LocalImports,
    ScriptMetadataError,
    UnresolvedImports,
)
from poncho_analyze.mapping import Environment
from poncho_spec import dumps_spec

CONDA_FORGE = "https://conda.anaconda.org/conda-forge/linux-64"
SP = "lib/python3.11/site-packages"


@pytest.fixture
def conda_env(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    conda_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> Environment:
    prefix = tmp_path / "env"
    site = prefix / SP
    conda_writer(prefix, "python", "3.11.7", "h1_cpython", CONDA_FORGE, ["lib/python3.11/os.py"])
    conda_writer(prefix, "pip", "24.0", "pyh0", CONDA_FORGE, [f"{SP}/pip/__init__.py"])
    meta = dist_writer(site, "numpy", "1.26.4", {"numpy/__init__.py": ""}, installer="conda")
    conda_writer(
        prefix,
        "numpy",
        "1.26.4",
        "py311h0",
        CONDA_FORGE,
        [f"{SP}/numpy/__init__.py", f"{SP}/{meta.name}/METADATA"],
    )
    conda_writer(
        prefix,
        "bio",
        "2.0",
        "h0",
        "https://conda.anaconda.org/bioconda/noarch",
        [f"{SP}/bio/__init__.py"],
    )
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    dist_writer(site, "scikit-learn", "1.4.0", {"sklearn/__init__.py": ""})
    dist_writer(site, "demo-pep723-dep", "1.5", {"demo_pep723_dep.py": ""})
    return make_env(prefix, site)


@pytest.fixture
def pip_env(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> Environment:
    site = tmp_path / "site"
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    dist_writer(site, "scikit-learn", "1.4.0", {"sklearn/__init__.py": ""})
    return make_env(tmp_path / "venv", site, version="3.12.1")


def _script(tmp_path: Path, text: str, name: str = "job.py") -> Path:
    path = tmp_path / "scripts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_conda_environment(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(tmp_path, "import os, numpy, yaml\nfrom bio import x\nimport sklearn.svm\n")
    result = analyze([job], environment=conda_env)
    assert result.spec.conda.channels == ("bioconda", "conda-forge")
    assert result.spec.conda.dependencies == (
        "python=3.11.7",
        "bio=2.0",
        "numpy=1.26.4",
        "pip=24.0",
    )
    assert result.spec.pip == ("PyYAML==6.0.1", "scikit-learn==1.4.0")
    lines = [d.line() for d in result.decisions]
    assert "numpy -> conda numpy=1.26.4 (conda-meta: numpy-1.26.4-py311h0.json)" in lines
    assert "os -> standard library (Python 3.11)" in lines
    assert "yaml -> pip PyYAML==6.0.1 (RECORD of PyYAML-6.0.1.dist-info)" in lines


def test_build_strings_and_channels(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(tmp_path, "import numpy\n")
    result = analyze([job], environment=conda_env, build_strings=True, channels=["mine"])
    assert result.spec.conda.dependencies == ("python=3.11.7=h1_cpython", "numpy=1.26.4=py311h0")
    assert result.spec.conda.channels == ("mine", "conda-forge")


def test_plain_environment_is_all_pip(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(tmp_path, "import yaml\nimport json\n")
    result = analyze([job], environment=pip_env)
    assert result.spec.conda.dependencies == ("python=3.12.1", "pip")
    assert result.spec.pip == ("PyYAML==6.0.1",)
    assert result.spec.conda.channels == ("conda-forge",)
    assert analyze(
        [_script(tmp_path, "import json\n", "b.py")], environment=pip_env
    ).spec.conda.dependencies == ("python=3.12.1",)


def test_output_is_deterministic(tmp_path: Path, conda_env: Environment) -> None:
    a = _script(tmp_path, "import yaml, numpy, sklearn\n", "a.py")
    b = _script(tmp_path, "import sklearn\nimport bio\n", "b.py")
    first = dumps_spec(analyze([a, b], environment=conda_env).spec)
    second = dumps_spec(analyze([b, a], environment=conda_env).spec)
    assert first == second


def test_target_python_version(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(tmp_path, "import tomllib\nimport yaml\n")
    result = analyze([job], environment=pip_env, python_version="3.13")
    assert result.spec.conda.dependencies[0] == "python=3.13"
    with pytest.raises(
        UnresolvedImports, match=r"tomllib .*in the standard library only from Python 3\.11"
    ):
        analyze([job], environment=pip_env, python_version="3.10", strict=True)
    with pytest.raises(AnalyzeError, match=r"--python: .*not a Python version"):
        analyze([job], environment=pip_env, python_version="three")
    with pytest.raises(AnalyzeError, match=r"--python: Python 3\.7 is not supported"):
        analyze([job], environment=pip_env, python_version="3.7")


def test_local_modules_stop_a_strict_run(data: Path, pip_env: Environment) -> None:
    main = data / "localproj" / "main.py"
    with pytest.raises(LocalImports) as err:
        analyze([main], environment=pip_env, strict=True)
    message = str(err.value)
    assert message.startswith("modules beside the scripts are not packages (use --allow-local")
    assert f"  .pkg (relative import, imported at {main}:4)" in message
    assert f"  helpers (local module, imported at {main}:1)" in message
    assert f"  helpers_pkg (local module, imported at {main}:2)" in message
    assert f"  .sibling_rel (relative import, imported at {main}:3)" in message
    assert len(err.value.imports) == 4
    result = analyze([main], environment=pip_env, allow_local=True, strict=True)
    assert result.spec.pip == ("PyYAML==6.0.1",)
    assert {d.module for d in result.decisions if d.outcome == "local"} == {
        "helpers",
        "helpers_pkg",
        ".pkg",
        ".sibling_rel",
    }


def test_own_code_is_left_out_with_one_notice(tmp_path: Path, pip_env: Environment) -> None:
    # An application: a project root with pyproject.toml, the entry script in a package,
    # a folder without __init__.py beside it, and a src/ layout module.
    root = tmp_path / "app"
    (root / "src" / "corelib").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (root / "src" / "corelib" / "__init__.py").write_text("")
    (root / "app" / "cli" / "commands").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "cli" / "__init__.py").write_text("")
    (root / "app" / "cli" / "commands" / "run.py").write_text("")  # namespace package
    (root / "settings.py").write_text("")
    main = root / "app" / "cli" / "main.py"
    main.write_text(
        "import yaml\n"
        "from commands import run\n"  # a folder beside the script, no __init__.py
        "from app.cli import helpers\n"  # the package the script is part of
        "import settings\n"  # the project root
        "import corelib\n"  # the project's src/
        "from . import util\n"
    )
    result = analyze([main], environment=pip_env)
    assert result.spec.pip == ("PyYAML==6.0.1",)
    assert result.warnings == ()
    (notice,) = result.notices
    lines = notice.splitlines()
    assert lines[0] == "left out of the spec, the scripts' own code (it must travel with the task):"
    assert lines[1:] == [
        f"  .util (relative import, imported at {main}:6)",
        f"  app (project code {root / 'app'}/, imported at {main}:3)",
        f"  commands (project code {root / 'app' / 'cli' / 'commands'}/, imported at {main}:2)",
        f"  corelib (project code {root / 'src' / 'corelib'}/, imported at {main}:5)",
        f"  settings (project code {root / 'settings.py'}, imported at {main}:4)",
    ]
    assert {d.module for d in result.decisions if d.outcome == "local"} == {
        ".util", "app", "commands", "corelib", "settings"
    }  # fmt: skip


def test_an_installed_package_wins_over_a_folder_without_init(
    tmp_path: Path, pip_env: Environment
) -> None:
    job = _script(tmp_path, "import yaml\n")
    (job.parent / "yaml").mkdir()  # e.g. a folder of YAML files: not what Python imports
    assert analyze([job], environment=pip_env).spec.pip == ("PyYAML==6.0.1",)


def test_unresolved_imports_are_a_warning(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(
        tmp_path,
        "import yaml\nimport unused_thing\nfrom proto import service_pb2\nimport service_pb2\n"
        "import urllib2\n",
    )
    result = analyze([job], environment=pip_env)
    assert result.spec.pip == ("PyYAML==6.0.1",)
    assert result.notices == ()
    (warning,) = result.warnings
    assert warning.splitlines() == [
        "left out of the spec, imports that no installed package provides:",
        f"  proto (imported at {job}:3): not found on the module search path",
        f"  service_pb2 (imported at {job}:4): not found on the module search path",
        f"  unused_thing (imported at {job}:2): not found on the module search path",
        f"  urllib2 (imported at {job}:5): not found on the module search path; a Python 2 "
        "standard-library module: this looks like Python 2 source",
        "if the task needs them: install the package in the inspected environment and run "
        "again, name it with --pkg-mapping IMPORT=NAME, or add it with --extra-pkg NAME",
    ]


def test_conditions_follow_the_target_python(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(
        tmp_path,
        "import sys\nif sys.version_info >= (3, 11):\n    import tomllib\nelse:\n"
        "    import tomli as tomllib\nif sys.platform == 'win32':\n    import yaml\n",
    )
    result = analyze([job], environment=pip_env)  # Python 3.12.1
    assert result.spec.pip == () and result.warnings == ()
    lines = [d.line() for d in result.decisions]
    assert (
        "tomli -> never imported on the target, left out (in the else of "
        "`if sys.version_info >= (3, 11):`, true for Python 3.12 on linux)"
    ) in lines
    assert "yaml -> never imported on the target, left out (under " in "\n".join(lines)
    older = analyze([job], environment=pip_env, python_version="3.10")
    assert "tomli (imported at" in older.warnings[0]


def test_sibling_extension_module(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(tmp_path, "import fastext\n")
    (job.parent / "fastext.cpython-312-x86_64-linux-gnu.so").write_text("")
    with pytest.raises(LocalImports, match="fastext"):
        analyze([job], environment=pip_env, strict=True)
    assert "fastext (local module fastext.cpython-312-x86_64-linux-gnu.so" in "".join(
        analyze([job], environment=pip_env).notices
    )


def test_unresolved_imports_are_listed_together(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(
        tmp_path, "import nothere\nimport distutils\nfrom yaml import x\nimport alsomissing\n"
    )
    with pytest.raises(UnresolvedImports) as err:
        analyze([job], environment=pip_env, python_version="3.12", strict=True)
    assert err.value.modules == ["alsomissing", "distutils", "nothere"]
    message = str(err.value)
    assert message.splitlines()[0] == "no installed package provides these imports:"
    assert (
        "distutils (imported at" in message
        and "removed from the standard library in Python 3.12" in message
    )
    assert message.splitlines()[-1].startswith("install the package providing each")
    assert "--pkg-mapping IMPORT=NAME" in message


def test_optional_imports_not_installed_are_left_out(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(tmp_path, "try:\n    import fastjson\nexcept ImportError:\n    fastjson = None\n")
    result = analyze([job], environment=pip_env)
    assert result.spec.pip == ()
    assert [d.outcome for d in result.decisions] == ["optional"]


def test_function_selection(tmp_path: Path, pip_env: Environment) -> None:
    job = _script(
        tmp_path,
        "import json\ndef f():\n    import yaml\ndef g():\n    return 1\nclass C:\n"
        "    def m(self):\n        import sklearn\n",
    )
    assert analyze([job], environment=pip_env, function="f").spec.pip == ("PyYAML==6.0.1",)
    assert analyze([job], environment=pip_env, function="C.m").spec.pip == ("scikit-learn==1.4.0",)
    assert analyze([job], environment=pip_env, function="g").spec.pip == ()
    with pytest.raises(FunctionNotFound, match=f"function 'h' is not defined in {job}"):
        analyze([job], environment=pip_env, function="h")
    with pytest.raises(AnalyzeError, match="exclude each other"):
        analyze([job], environment=pip_env, function="f", toplevel=True)
    assert analyze([job], environment=pip_env, toplevel=True).spec.pip == ()


def test_pkg_mapping(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(
        tmp_path,
        "import google.cloud.storage\nimport cv2\nimport mything\nimport other\nimport yaml\n",
    )
    result = analyze(
        [job],
        environment=conda_env,
        pkg_mapping={
            "google.cloud": "google-cloud-storage==2.14.0",
            "cv2": "conda:opencv=4.9",
            "mything": "NumPy",
            "other": "pip:other-dist",
            "yaml": "notinstalled",
        },
    )
    assert "opencv=4.9" in result.spec.conda.dependencies
    assert "numpy=1.26.4" in result.spec.conda.dependencies
    assert result.spec.pip == ("google-cloud-storage==2.14.0", "notinstalled", "other-dist")
    reasons = {d.module: d.reason for d in result.decisions}
    assert reasons["yaml"] == "--pkg-mapping yaml=notinstalled; not installed, unpinned"
    with pytest.raises(AnalyzeError, match="is not a package name or pip requirement"):
        analyze([job], environment=conda_env, pkg_mapping={"cv2": "opencv=4.9"})


def test_pkg_mapping_decides_each_import_once(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(tmp_path, "import yaml\nimport cv2\n")
    result = analyze(
        [job], environment=conda_env, pkg_mapping={"yaml": "PyYAML", "cv2": "conda:opencv"}
    )
    modules = [d.module for d in result.decisions]
    assert sorted(modules) == ["cv2", "yaml"]


def test_extra_packages(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(tmp_path, "import json\n")
    result = analyze(
        [job], environment=conda_env, extra_pkgs=["bio", "PyYAML", "conda:zlib", "dill>=0.3"]
    )
    assert result.spec.conda.dependencies == ("python=3.11.7", "bio=2.0", "zlib", "pip=24.0")
    assert result.spec.pip == ("dill>=0.3", "PyYAML==6.0.1")
    # A conda spec in any form replaces the pin of the package it names.
    result = analyze([job], environment=conda_env, extra_pkgs=["conda:pip>=23", "conda:zlib"])
    assert result.spec.conda.dependencies == ("python=3.11.7", "zlib", "pip>=23")


def test_pep723_metadata(data: Path, conda_env: Environment) -> None:
    result = analyze([data / "pep723.py"], environment=conda_env)
    assert result.spec.pip == ("demo-pep723-dep==1.5", "not-installed-dep==2.0", "PyYAML==6.0.1")
    with pytest.raises(ScriptMetadataError, match=r"requires Python >=3\.10, the target is 3\.9"):
        analyze([data / "pep723.py"], environment=conda_env, python_version="3.9")


def test_pep723_a_version_the_environment_lacks_is_asked_as_written(
    tmp_path: Path, conda_env: Environment
) -> None:
    job = _script(tmp_path, "# /// script\n# dependencies = ['pyyaml>=7', 'numpy>=2']\n# ///\n"
                  "import yaml\nimport numpy\n")  # fmt: skip
    result = analyze([job], environment=conda_env)
    assert result.spec.pip == ("numpy>=2", "pyyaml>=7")
    assert "numpy=1.26.4" not in result.spec.conda.dependencies
    assert result.notices == (
        f"{job} needs pyyaml>=7, but PyYAML 6.0.1 is installed: the spec asks for pyyaml>=7 "
        "as the script writes it",
        f"{job} needs numpy>=2, but numpy 1.26.4 is installed: the spec asks for numpy>=2 "
        "as the script writes it",
    )


@pytest.mark.parametrize(
    ("requires", "python"),
    [
        (">=3.12", "python=3.12"),
        ("~=3.13", "python=3.13"),
        (">=3.12.2", "python>=3.12.2,<3.13"),
        ("==3.10.4", "python=3.10.4"),
    ],
)
def test_pep723_requires_python_chooses_the_python(
    tmp_path: Path, conda_env: Environment, requires: str, python: str
) -> None:
    job = _script(
        tmp_path,
        f"# /// script\n# requires-python = '{requires}'\n# ///\nimport tomllib\nimport yaml\n",
    )
    result = analyze([job], environment=conda_env)  # Python 3.11.7 installed
    assert result.spec.conda.dependencies[0] == python
    assert result.spec.pip == ("PyYAML==6.0.1",)
    assert result.notices[0].startswith(f"requires-python {requires} ({job}) chooses {python}: ")
    target = python.split("=")[-1].split(",")[0].lstrip(">")
    if target < "3.11":  # the standard library of the chosen Python is the one left out
        assert "  tomllib (imported at" in result.warnings[0]
    else:
        assert result.warnings == ()


def test_pep723_requires_python_no_version_fits(tmp_path: Path, conda_env: Environment) -> None:
    job = _script(tmp_path, "# /// script\n# requires-python = '>=4'\n# ///\n")
    with pytest.raises(ScriptMetadataError, match=r"no Python from 3\.8 to 3\.14 satisfies"):
        analyze([job], environment=conda_env)
    ok = _script(tmp_path, "# /// script\n# requires-python = '>=3.11'\n# ///\n", "ok.py")
    result = analyze([ok], environment=conda_env)
    assert result.spec.conda.dependencies[0] == "python=3.11.7" and result.notices == ()


def test_notebook(data: Path, conda_env: Environment) -> None:
    result = analyze([data / "notebook.ipynb"], environment=conda_env)
    assert result.spec.pip == ("PyYAML==6.0.1", "scikit-learn==1.4.0")
    where = {d.module: d.where for d in result.decisions}
    assert where["sklearn"] == (f"{data / 'notebook.ipynb'}:cell 4:3",)


def test_stdin_and_notes(
    conda_env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = "import yaml\nimportlib.import_module(name)\n"
    result = analyze(["-"], environment=conda_env, stdin=io.StringIO(text))
    assert result.spec.pip == ("PyYAML==6.0.1",)
    notes = [d for d in result.decisions if d.outcome == "note"]
    assert [(n.module, n.reason) for n in notes] == [
        ("<stdin>:2", "dynamic import with a computed name, not followed")
    ]
    with pytest.raises(AnalyzeError, match="only once"):
        analyze(["-", "-"], environment=conda_env)
    with pytest.raises(AnalyzeError, match="no script"):
        analyze([], environment=conda_env)


def test_namespace_ambiguity_is_unresolved(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    site = tmp_path / "ns"
    dist_writer(site, "protobuf", "4.25.2", {"google/protobuf/__init__.py": ""})
    dist_writer(site, "google-auth", "2.27.0", {"google/auth/__init__.py": ""})
    env = make_env(None, site)
    job = _script(tmp_path, "import google\nfrom google import protobuf\n")
    with pytest.raises(UnresolvedImports, match="shared by google-auth, protobuf"):
        analyze([job], environment=env, strict=True)
    ok = _script(tmp_path, "from google import protobuf\nimport google.auth\n", "ok.py")
    assert analyze([ok], environment=env).spec.pip == ("google-auth==2.27.0", "protobuf==4.25.2")


def test_local_installs_become_their_folder(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    site = tmp_path / "venv" / "site"
    work = tmp_path / "work"
    # pip install -e ./mylib (PEP 660: a .pth puts mylib/src on the path; RECORD lists
    # only the .pth), pip install ./tools (a copy, from a local folder)
    (work / "mylib" / "src" / "mylib").mkdir(parents=True)
    (work / "mylib" / "src" / "mylib" / "__init__.py").write_text("")
    editable = dist_writer(site, "mylib", "0.1.0", {"__editable__.mylib-0.1.0.pth": ""})
    (editable / "direct_url.json").write_text(
        json.dumps({"url": (work / "mylib").as_uri(), "dir_info": {"editable": True}})
    )
    copied = dist_writer(site, "tools", "2.0", {"tools/__init__.py": ""})
    (copied / "direct_url.json").write_text(
        json.dumps({"url": (tmp_path / "elsewhere" / "tools").as_uri(), "dir_info": {}})
    )
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    env = make_env(tmp_path / "venv", site, work / "mylib" / "src")
    job = _script(tmp_path, "import mylib\nimport tools\nimport yaml\n")
    result = analyze([job], environment=env, spec_path=work / "spec.json")
    assert result.spec.pip == ("./mylib", "PyYAML==6.0.1", "../elsewhere/tools")
    reasons = {d.module: d.reason for d in result.decisions}
    assert reasons["mylib"] == (f"editable install of {work / 'mylib'} (mylib-0.1.0.dist-info)")
    assert reasons["tools"].startswith("installed from the folder ")
    assert analyze([job], environment=env, spec_path="-").spec.pip[0] == str(work / "mylib")
