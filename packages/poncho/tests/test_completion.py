"""``poncho completion bash|zsh|fish``: the scripts, sourced in a real bash (and zsh, fish),
complete sub-commands, options, values and files as the parsers say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from poncho.cli import COMMANDS, OWN_COMMANDS, main
from poncho.completion import command_tree, script

BASH_DRIVER = """
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_poncho_complete
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scripts as `poncho completion SHELL` prints them."""
    folder = tmp_path_factory.mktemp("completion")
    paths = {}
    for shell in ("bash", "zsh", "fish"):
        path = folder / f"poncho.{shell}"
        proc = subprocess.run(
            ["poncho", "completion", shell], capture_output=True, text=True, check=True
        )
        path.write_text(proc.stdout)
        paths[shell] = path
    return paths


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "spec.json").write_text("{}")
    (tmp_path / "envs").mkdir()
    return tmp_path


def bash_complete(script_path: Path, cwd: Path, *words: str) -> list[str]:
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", str(script_path), *words],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in proc.stdout.splitlines() if line]


def test_the_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert out == script("bash") and "complete -F _poncho_complete poncho " in out
    assert main(["completion", "fish"]) == 0
    out = capsys.readouterr().out
    assert out == script("fish") and "complete -c poncho -f -a '(__poncho_complete)'" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["completion", "tcsh"])
    assert exit_info.value.code == 2


def test_the_help_s_install_commands_can_be_copied(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["completion", "-h"])
    lines = capsys.readouterr().out.splitlines()
    for command in (
        "poncho completion bash > ~/.local/share/bash-completion/completions/poncho",
        "poncho completion zsh > ~/.zfunc/_poncho",
        "poncho completion fish > ~/.config/fish/conf.d/poncho.fish",
    ):
        assert f"    {command}" in lines  # whole, on a line of its own
    assert max(map(len, lines)) <= 80


def test_bash_registers_every_command(scripts: dict[str, Path]) -> None:
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", 'source "$1"; complete -p', "bash",
         str(scripts["bash"])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    registered = {line.split()[-1] for line in proc.stdout.splitlines()}
    commands = {"poncho", "poncho_package_create", "poncho_package_run", "poncho_spec",
                "poncho_fetch", "poncho_package_analyze", "python_package_run"}  # fmt: skip
    assert commands <= registered


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["poncho", "cr"], ["create"]),
        (["poncho", "c"], ["create", "cache", "completion"]),
        (["poncho_spec", "val"], ["validate"]),
        (["poncho", "spec", "validate", "--st"], ["--strict"]),
        (["poncho", "create", "spec.json", "--verb"], ["--verbose"]),
        (["poncho", "analyze", "--tople"], ["--toplevel"]),
        (["poncho", "cache", "list", "--envs-dir", ""], ["envs"]),  # folders only
        (["poncho", "cache", ""], ["list", "prune"]),
        (["poncho_package_create", "sp"], ["spec.json"]),
        (["poncho_package_create", "--lock-out", "sp"], ["spec.json"]),
        (["poncho_fetch", "--timeout", ""], []),  # a number: nothing to offer
        (["poncho", "completion", ""], ["bash", "zsh", "fish"]),
        (["poncho", "run", "-e", "x", "echo", "sp"], ["spec.json"]),  # the command's args
        (["poncho", "run", "-e", "x", "echo", "--no"], []),  # not run's options any more
        (["python_package_run", "--no-d"], ["--no-data"]),
        (["poncho", "create", "--platform", "osx-"], ["osx-64", "osx-arm64"]),
        (["poncho", "-"], ["-h", "--help", "-V", "--version"]),
        (["poncho", "help", "cr"], ["create"]),
    ],
)
def test_bash_completes(
    words: list[str], expected: list[str], scripts: dict[str, Path], workdir: Path
) -> None:
    assert sorted(bash_complete(scripts["bash"], workdir, *words)) == sorted(expected)


def test_bash_completes_the_command_poncho_run_runs(
    scripts: dict[str, Path], workdir: Path
) -> None:
    for words in (["poncho_package_run", "-e", "env.tar.gz", "ech"],
                  ["poncho", "run", "-u", "d", "--", "ech"]):  # fmt: skip
        assert "echo" in bash_complete(scripts["bash"], workdir, *words)


def test_bash_offers_every_sub_command(scripts: dict[str, Path], workdir: Path) -> None:
    assert set(bash_complete(scripts["bash"], workdir, "poncho", "")) == {
        *COMMANDS,
        *OWN_COMMANDS,
        "help",
    }


def test_every_option_of_every_parser_is_in_the_tables() -> None:
    tree = command_tree()
    create = tree["poncho"].commands["create"]
    assert "--override-channels" in create.options and create.values["--channel"] == "none"
    assert tree["poncho"].commands["cache"].commands["prune"].values["--envs-dir"] == "dir"
    assert tree["poncho_package_run"].runs_a_command


ZSH_DRIVER = """
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
_files() { print -- "FILES $*"; }
_command_names() { print -- COMMANDS; }
source "$1"; shift
words=("$@")
CURRENT=$#words
_poncho
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["poncho", "cr"], "create"),
        (["poncho", "spec", "validate", "--st"], "--strict"),
        (["poncho", "cache", "list", "--envs-dir", ""], "FILES -/"),
        (["poncho_package_create", "--lock-out", ""], "FILES "),
        (["poncho_package_run", "-e", "x", "ech"], "COMMANDS"),
        (["poncho", "run", "-e", "x", "echo", ""], "FILES "),
        (["poncho", "completion", ""], "zsh"),
    ],
)
def test_zsh_completes(words: list[str], expected: str, scripts: dict[str, Path]) -> None:
    check = subprocess.run(["zsh", "-n", str(scripts["zsh"])], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.run(
        ["zsh", "-f", "-c", ZSH_DRIVER, "zsh", str(scripts["zsh"]), *words],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert expected in proc.stdout.splitlines(), proc.stdout
    assert scripts["zsh"].read_text().startswith("#compdef poncho ")


def test_the_bash_script_is_shellcheck_clean(scripts: dict[str, Path]) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); make lint runs it")
    proc = subprocess.run(
        ["shellcheck", "-s", "bash", str(scripts["bash"])], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("poncho cr", ["create"]),
        ("poncho spec validate --st", ["--strict"]),
        ("poncho create --platform linux-aa", ["linux-aarch64"]),
        ("poncho cache list --envs-dir ", ["envs/"]),  # folders only
        ("poncho_package_create --lock-out sp", ["spec.json"]),
        ("poncho_fetch --timeout ", []),
        ("poncho_package_run -e x ech", ["echo"]),
        ("poncho run -e x echo sp", ["spec.json"]),  # the command's own arguments
        ("poncho completion ", ["bash", "fish", "zsh"]),
        ("python_package_run --no-d", ["--no-data"]),
    ],
)
def test_fish_completes(
    line: str, expected: list[str], scripts: dict[str, Path], workdir: Path
) -> None:
    check = subprocess.run(["fish", "-n", str(scripts["fish"])], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.run(
        ["fish", "--no-config", "-c", 'source $argv[1]; complete -C"$argv[2]"',
         str(scripts["fish"]), line],
        cwd=workdir, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    found = [out.split("\t")[0] for out in proc.stdout.splitlines()]
    if line.endswith("ech"):
        assert "echo" in found
    else:
        assert sorted(found) == expected, proc.stdout
