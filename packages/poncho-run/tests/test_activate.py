from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from poncho_run.activate import (
    _expand,
    _template,
    activate_base,
    apply_activation,
    compute_activation,
)
from poncho_run.errors import RunError

BASE = {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "PYTHONPATH": "/x", "PYTHONHOME": "/y"}


def test_activation_sets_what_conda_activate_sets() -> None:
    env = activate_base("/envs/a", BASE)
    assert env["PATH"] == "/envs/a/bin:/usr/bin:/bin"
    assert env["CONDA_PREFIX"] == env["CONDA_DEFAULT_ENV"] == "/envs/a"
    assert env["CONDA_SHLVL"] == "1"
    assert env["CONDA_PROMPT_MODIFIER"] == "(a) "
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env
    assert env["HOME"] == "/home/u"
    assert BASE["PYTHONPATH"] == "/x", "the base is not modified"


def test_activation_replaces_a_previously_active_environment() -> None:
    base = {"PATH": "/old/bin:/usr/bin:/envs/a/bin", "CONDA_PREFIX": "/old", "CONDA_SHLVL": "1"}
    env = activate_base("/envs/a", base)
    assert env["PATH"] == "/envs/a/bin:/usr/bin"
    assert env["CONDA_PREFIX_1"] == "/old"
    assert env["CONDA_SHLVL"] == "2"


def test_activating_the_active_environment_again_changes_nothing_more() -> None:
    once = activate_base("/envs/a", BASE)
    assert activate_base("/envs/a", once) == once


def test_activation_without_path_or_with_a_strange_level() -> None:
    env = activate_base("/envs/a", {"CONDA_SHLVL": "x"})
    assert env["PATH"] == "/envs/a/bin:" + os.defpath
    assert env["CONDA_SHLVL"] == "1"


@pytest.mark.parametrize(
    ("value", "old", "expected"),
    [
        ("/p/extra:/p/bin:/usr/bin", "/p/bin:/usr/bin", "\0P/extra:\0O"),
        ("/usr/bin:/p/x", "/usr/bin", "\0O:\0P/x"),
        ("-I/p/include -O2", "-O2", "-I\0P/include \0O"),
        ("10", "1", "10"),  # not a whole list item: kept literally
        ("on:/p", "", "on:\0P"),
        ("a:b:a", "a", "\0O:b:\0O"),
    ],
)
def test_templates_are_relative_to_the_prefix_and_the_old_value(
    value: str, old: str, expected: str
) -> None:
    template = _template(value, old, "/p")
    assert template == expected
    assert _expand(template, old, "/p") == value


@pytest.mark.parametrize(
    ("template", "expected"),
    [("\0P/extra:\0O", "/q/extra"), ("\0O:\0P/x", "/q/x"), ("a:\0O:b", "a:b"), ("\0O", "")],
)
def test_an_empty_old_value_leaves_no_dangling_separator(template: str, expected: str) -> None:
    assert _expand(template, "", "/q") == expected


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    root = tmp_path / "env"
    (root / "bin").mkdir(parents=True)
    scripts = root / "etc" / "conda" / "activate.d"
    write(scripts / "10-first.sh", 'export FIRST="1:$CONDA_PREFIX"\necho "said on stdout"\n')
    write(
        scripts / "20-second.sh",
        'export PATH="$CONDA_PREFIX/extra:$PATH"\nexport ORDER="${FIRST}-then"\nunset GONE\n',
    )
    write(scripts / "ignored.txt", "export IGNORED=1\n")
    return root


def test_activate_d_scripts_are_run_once_and_replayed(prefix: Path) -> None:
    base = {**BASE, "GONE": "here"}
    activation = compute_activation(str(prefix), base)
    assert set(activation) == {"scripts"}
    assert activation["scripts"]["unset"] == ["GONE"]
    env = apply_activation(str(prefix), activation, base)
    assert env["FIRST"] == f"1:{prefix}"
    assert env["ORDER"] == f"1:{prefix}-then"
    assert env["PATH"] == f"{prefix}/extra:{prefix}/bin:/usr/bin:/bin"
    assert "GONE" not in env and "IGNORED" not in env
    json.dumps(activation)  # stored as JSON


def test_replayed_activation_follows_a_new_base_and_a_moved_folder(
    prefix: Path, tmp_path: Path
) -> None:
    activation = compute_activation(str(prefix), BASE)
    moved = tmp_path / "moved"
    shutil.move(prefix, moved)
    env = apply_activation(str(moved), activation, {"PATH": "/opt/bin"})
    assert env["PATH"] == f"{moved}/extra:{moved}/bin:/opt/bin"
    assert env["FIRST"] == f"1:{moved}"


def test_conda_env_vars_are_set_before_the_scripts_run(prefix: Path) -> None:
    write(prefix / "conda-meta" / "state", json.dumps({"env_vars": {"MYVAR": "v", "FIRST": "x"}}))
    write(prefix / "etc" / "conda" / "activate.d" / "30-use.sh", 'export SEEN="$MYVAR"\n')
    activation = compute_activation(str(prefix), BASE)
    env = apply_activation(str(prefix), activation, BASE)
    assert env["MYVAR"] == "v" and env["SEEN"] == "v"
    assert env["FIRST"] == f"1:{prefix}", "scripts run after the env vars"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"env_vars": ["x"]}', "env_vars must be an object"),
        ("[]", "not a JSON object"),
        ('{"env_vars": {"A=B": "1"}}', "env_vars\\['A=B'\\]: not a valid variable name"),
    ],
)
def test_a_damaged_conda_state_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    # conda activate fails on these too; refused when the activation is computed (at unpack
    # time), never replayed by later runs.
    write(tmp_path / "conda-meta" / "state", content)
    with pytest.raises(RunError, match=f"conda-meta/state: .*{message}"):
        compute_activation(str(tmp_path), BASE)


def test_a_state_file_without_env_vars_needs_nothing(tmp_path: Path) -> None:
    write(tmp_path / "conda-meta" / "state", '{"other": 1}')
    assert compute_activation(str(tmp_path), BASE) == {}


def test_an_environment_without_scripts_needs_nothing(tmp_path: Path) -> None:
    assert compute_activation(str(tmp_path), BASE) == {}
    assert apply_activation(str(tmp_path), {}, BASE) == activate_base(str(tmp_path), BASE)


def test_a_broken_script_is_a_clear_error(prefix: Path) -> None:
    write(prefix / "etc" / "conda" / "activate.d" / "99-broken.sh", "if then fi (\n")
    with pytest.raises(RunError, match=r"activation scripts of .*99-broken\.sh"):
        compute_activation(str(prefix), BASE)


def test_a_missing_shell_is_a_clear_error(prefix: Path) -> None:
    with pytest.raises(RunError, match="cannot run sh"):
        compute_activation(str(prefix), {"PATH": str(prefix / "nothing-here")})
