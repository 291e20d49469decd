"""Every ``--json`` output, from real runs, checked against its JSON Schema in docs/schemas/
(the schemas the guide documents): create, fetch, inspect, diff, cache list and prune."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from poncho.cli import main

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def _registry() -> Registry:  # type: ignore[type-arg]
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def check(name: str, text: str) -> Any:
    """Parse *text* (one JSON document) and validate it against ``<name>.schema.json``."""
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(text)
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(data)
    return data


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().out


@pytest.fixture(scope="module")
def built(
    local_channel: Any, wheelhouse: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Two specs (A with a pip package and http data, B smaller) and their folders."""
    from poncho_testing import serve_directory

    root = tmp_path_factory.mktemp("json")
    served = root / "served"
    served.mkdir()
    (served / "d.txt").write_text("data")
    with serve_directory(served) as server:
        yield from _specs(root, server.url, local_channel, wheelhouse)


def _specs(root: Path, url: str, local_channel: Any, wheelhouse: Any) -> Iterator[dict[str, Any]]:
    spec_a = {
        "conda": {"channels": [local_channel.url],
                  "dependencies": ["python", "poncho-demo-app", {"pip": ["poncho-demo-pipbase"]}]},
        "http": {"DATA": {"url": f"{url}/d.txt"}},
    }  # fmt: skip
    spec_b = {"conda": {"channels": [local_channel.url], "dependencies": ["python"]}}
    (root / "a.json").write_text(json.dumps(spec_a))
    (root / "b.json").write_text(json.dumps(spec_b))
    options = ["--no-index", "--find-links", str(wheelhouse.path), "-q",
               "--pkgs-dir", str(root / "pkgs")]  # fmt: skip
    into_cache = ["create", str(root / "a.json"), "--json", "--cache-dir", str(root / "envs"),
                  "--lock-out", str(root / "a.lock.json"), *options]  # fmt: skip
    outputs = []
    for argv in (
        into_cache,
        into_cache,  # a cache hit
        ["create", str(root / "b.json"), str(root / "b.tar.gz"), "--json", *options],
    ):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(argv) == 0
        outputs.append(out.getvalue())
    yield {"root": root, "create": outputs, "b": root / "b.tar.gz",
           "a": Path(json.loads(outputs[0])["path"])}  # fmt: skip


def test_create_then_a_cache_hit(built: dict[str, Any]) -> None:
    first, again, other = (check("create", out) for out in built["create"])
    assert first["cache_hit"] is False and first["pip_packages"] == 1
    assert Path(first["path"]).stat().st_size == first["size"]
    assert again["cache_hit"] is True and again["path"] == first["path"]
    assert other["pip_packages"] == 0 and other["path"] == str(built["b"])


def test_create_dry_run(built: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    root = built["root"]
    argv = ["create", str(root / "b.json"), "--dry-run", "--json", "--pkgs-dir", str(root / "pkgs")]
    status, out = run(argv, capsys)
    plan = check("create-dry-run", out)
    assert status == 0 and plan["cache_hit"] is True and plan["conda"]


def test_fetch(built: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    root = built["root"]
    argv = ["fetch", "--json", "--cache-dir", str(root / "data"), str(root / "a.json")]
    status, out = run(argv, capsys)
    assert status == 0
    data = check("fetch", out)
    assert Path(data["variables"]["DATA"]).read_text() == "data"
    assert [e["var"] for e in data["entries"]] == ["DATA"]


def test_inspect_every_kind(built: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    root = built["root"]
    kinds = set()
    for path in (built["a"], root / "a.lock.json", root / "a.json", root / "b.tar.gz"):
        status, out = run(["inspect", "--json", str(path)], capsys)
        assert status == 0
        kinds.add(check("inspect", out)["kind"])
    assert kinds == {"tarball", "lock", "spec"}


def test_diff(built: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["diff", "--json", str(built["a"]), str(built["b"])], capsys)
    assert status == 1
    assert "poncho-demo-pipbase" in {p["name"] for p in check("diff", out)["only_a"]}
    lock = json.loads((built["root"] / "a.lock.json").read_text())
    for package in lock["conda"]:
        if package["name"] == "poncho-demo-app":
            package["version"] = "9.9"
    (built["root"] / "newer.json").write_text(json.dumps(lock))
    status, out = run(
        ["diff", "--json", str(built["a"]), str(built["root"] / "newer.json")], capsys
    )
    assert status == 1 and check("diff", out)["changed"][0]["b"]["version"] == "9.9"


def test_cache_list_and_prune(built: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    root = built["root"]
    dirs = ["--envs-dir", str(root / "envs"), "--data-dir", str(root / "data"),
            "--pkgs-dir", str(root / "pkgs")]  # fmt: skip
    status, out = run(["cache", "list", "--json", *dirs], capsys)
    assert status == 0
    reports = check("cache", out)
    assert [r["kind"] for r in reports] == ["envs", "layers", "data", "pkgs"]
    assert all(r["items"] for r in reports)
    status, out = run(["cache", "prune", "--json", "-n", "--max-size", "0", *dirs], capsys)
    assert status == 0
    assert all(r["removed"] for r in check("cache", out))


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("create", {"path": "x.tar.gz", "cache_hit": "no", "size": 1, "spec_hash": None,
                    "platform": None, "python": None, "conda_packages": 0, "pip_packages": 0}),
        ("fetch", {"spec": "s", "spec_hash": "0" * 64, "cache_dir": "/c",
                   "variables": {"X": "relative/path"}, "entries": []}),
        ("inspect", {"path": "p", "kind": "zip"}),
        ("diff", {"only_a": [{"name": "x"}], "only_b": [], "changed": []}),
        ("cache", [{"kind": "envs", "root": "/r", "items": [], "removed": [],
                    "kept_in_use": [], "size": -1}]),
    ],
)  # fmt: skip
def test_the_schemas_refuse_a_wrong_document(name: str, document: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        check(name, json.dumps(document))


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["create", "missing.json", "--json"], 1, "missing.json: spec file not found"),
        (["fetch", "--json", "missing.json"], 1, "missing.json: spec file not found"),
        (["inspect", "--json", "missing.tar.gz"], 1, "missing.tar.gz: no such file"),
        (["diff", "--json", "missing.tar.gz", "afile"], 2, "missing.tar.gz: no such file"),
        (["cache", "list", "--json", "envs", "--envs-dir", "afile"], 1, "afile: Not a dir"),
        (["cache", "prune", "--json", "-n", "--max-size", "0", "--envs-dir", "afile"], 1, "afile"),
    ],
)  # fmt: skip
def test_a_failure_under_json_prints_an_error_document(
    argv: list[str],
    status: int,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    assert main(argv) == status
    captured = capsys.readouterr()
    error = check("error", captured.out)["error"]
    assert error["exit_status"] == status and error["message"].startswith(message)
    assert f": error: {error['message'].splitlines()[0]}\n" in captured.err


def test_the_error_schema_refuses_a_success_document() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check("error", json.dumps({"path": "x.tar.gz"}))
