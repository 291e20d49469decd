"""CCTools' package_analyze API on poncho-analyze: scripts, and live functions never run."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import packaging.version
import pytest

from poncho import package_analyze

RAN: list[str] = []


def _pip(spec: dict[str, Any]) -> list[str]:
    deps = spec["conda"]["dependencies"]
    return [p for d in deps if isinstance(d, dict) for p in d["pip"]]


def uses_an_import_statement() -> None:
    import packaging.requirements  # noqa: F401

    RAN.append("import")


def uses_a_module_global() -> object:
    RAN.append("global")
    return packaging.version.Version("1")


def test_functions_are_read_not_run() -> None:
    spec = package_analyze.create_spec_from_functions([uses_an_import_statement])
    assert f"packaging=={version('packaging')}" in _pip(spec)
    spec = package_analyze.create_spec_from_functions([uses_a_module_global])
    assert f"packaging=={version('packaging')}" in _pip(spec)
    assert RAN == []


def test_nested_code_and_unknown_modules(caplog: pytest.LogCaptureFixture) -> None:
    def outer() -> None:
        def inner() -> None:
            import no_such_module_anywhere  # type: ignore[import-not-found]  # noqa: F401
            import pytest  # noqa: F401

        inner()

    assert package_analyze.imports_of_functions([outer]) >= {"pytest", "no_such_module_anywhere"}
    spec = package_analyze.create_spec_from_functions([outer])
    assert f"pytest=={version('pytest')}" in _pip(spec)
    assert "no_such_module_anywhere" in caplog.text
    with pytest.raises(TypeError):
        package_analyze.imports_of_functions([len])


def test_create_spec_of_a_script(tmp_path: Path) -> None:
    script = tmp_path / "task.py"
    script.write_text("import json\nimport packaging\n\ndef f():\n    import pytest\n")
    spec = package_analyze.create_spec(script, toplevel=True)
    assert _pip(spec) == [f"packaging=={version('packaging')}"]
    spec = package_analyze.create_spec(script, function="f", out=tmp_path / "spec.json")
    assert _pip(spec) == [f"pytest=={version('pytest')}"]
    assert json.loads((tmp_path / "spec.json").read_text()) == spec
    spec = package_analyze.create_spec(script, pkg_mapping=["packaging=pip:packaging>=20"],
                                       extra_pkg=["pluggy"])  # fmt: skip
    assert {"packaging>=20", f"pluggy=={version('pluggy')}"} <= set(_pip(spec))


def test_create_spec_rejects_bad_mappings(tmp_path: Path) -> None:
    from poncho_analyze import AnalyzeError

    with pytest.raises(AnalyzeError, match="IMPORT=PACKAGE"):
        package_analyze.create_spec(tmp_path / "x.py", pkg_mapping=["nonsense"])


def test_create_spec_writes_local_folders_relative_to_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # seams 15: `pip install --target site ./mypkg`, then create_spec(..., out="sub/api.json")
    # must write "../mypkg", as poncho_package_analyze does, since create reads it from sub/.
    site = tmp_path / "site"
    (tmp_path / "mypkg" / "mypkg").mkdir(parents=True)
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text("")
    meta = site / "mypkg-0.1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1.0\n")
    (meta / "RECORD").write_text("mypkg/__init__.py,,\nmypkg-0.1.0.dist-info/METADATA,,\n")
    (meta / "direct_url.json").write_text(
        json.dumps({"url": (tmp_path / "mypkg").as_uri(), "dir_info": {}})
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PONCHO_ANALYZE_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    Path("task.py").write_text("import mypkg\n")
    spec = package_analyze.create_spec("task.py", out="sub/api.json")
    assert _pip(spec) == ["../mypkg"]
    assert json.loads(Path("sub/api.json").read_text()) == spec
    assert _pip(package_analyze.create_spec("task.py")) == ["./mypkg"]  # no out: the cwd
