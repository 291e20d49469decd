"""``poncho completion bash|zsh|fish``: shell completion generated from the argparse parsers.

The parsers of every command (the umbrella's sub-commands and the package commands under
their own names) are read into a small tree of `Node`; the script holds that tree as
tables and one function that walks the words typed so far. Nothing is imported when the
shell completes: the script is plain bash, zsh or fish, written once by ``poncho completion``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["SHELLS", "Node", "command_tree", "node_of", "script"]

SHELLS = ("bash", "zsh", "fish")

# Values that are not paths: nothing to offer (the shell's file completion would mislead).
_NOT_PATHS = {"SECS", "SIZE", "N", "AGE", "NAME", "PKG", "CHANNEL", "IMPORT=NAME", "URL", "ID"}


@dataclass
class Node:
    """What may follow a command (or a sub-command) on the command line."""

    options: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # option -> file|dir|none|choice …
    commands: dict[str, Node] = field(default_factory=dict)
    runs_a_command: bool = False  # poncho_package_run: the first operand is a command
    choices: list[str] = field(default_factory=list)  # what the first operand may be


def node_of(parser: argparse.ArgumentParser, runs_a_command: bool = False) -> Node:
    """The completion `Node` of an argparse *parser* (its sub-parsers included)."""
    node = Node(runs_a_command=runs_a_command)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                node.commands[name] = node_of(sub)
            continue
        node.options += action.option_strings
        if not action.option_strings and action.choices is not None and not node.choices:
            node.choices = [str(choice) for choice in action.choices]
        if action.option_strings and action.nargs != 0:
            kind = _value_kind(action)
            for option in action.option_strings:
                node.values[option] = kind
    return node


def _value_kind(action: argparse.Action) -> str:
    if action.choices is not None:
        return "choice " + " ".join(str(choice) for choice in action.choices)
    metavar = str(action.metavar or action.dest).upper()
    if metavar == "PLATFORM":
        from poncho_create.options import KNOWN_PLATFORMS

        return "choice " + " ".join(sorted(KNOWN_PLATFORMS))
    if metavar in _NOT_PATHS or metavar.startswith("X.Y"):
        return "none"
    return "dir" if metavar.endswith("DIR") else "file"


# command name -> (module, parser factory, whether its first operand is a command)
_PACKAGE_COMMANDS = {
    "poncho_package_analyze": ("poncho_analyze.cli", "build_parser", False),
    "poncho_package_create": ("poncho_create.cli", "build_parser", False),
    "poncho_package_run": ("poncho_run.cli", "build_parser", True),
    "poncho_fetch": ("poncho_fetch.cli", "build_parser", False),
    "poncho_spec": ("poncho_spec.cli", "build_parser", False),
}
_OWN_PARSERS = {
    "inspect": ("poncho.inspect_cli", "build_inspect_parser"),
    "diff": ("poncho.inspect_cli", "build_diff_parser"),
    "cache": ("poncho.cache_cli", "build_parser"),
}  # and completion, added by command_tree
# Installed under CCTools' old names too (Parsl looks these up).
_ALIASES = {
    "python_package_analyze": "poncho_package_analyze",
    "python_package_create": "poncho_package_create",
    "python_package_run": "poncho_package_run",
}


def _parser(module: str, factory: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = getattr(importlib.import_module(module), factory)()
    return parser


def command_tree() -> dict[str, Node]:
    """Every command that completes: ``poncho`` and each package command, by name."""
    from poncho.cli import COMMANDS

    tree: dict[str, Node] = {}
    for name, (module, factory, runs) in _PACKAGE_COMMANDS.items():
        tree[name] = node_of(_parser(module, factory), runs)
    for alias, name in _ALIASES.items():
        tree[alias] = tree[name]
    umbrella = Node(options=["-h", "--help", "-V", "--version"])
    for name, (_module, original, _summary) in COMMANDS.items():
        umbrella.commands[name] = tree[original]
    for name, (module, factory) in _OWN_PARSERS.items():
        umbrella.commands[name] = node_of(_parser(module, factory))
    umbrella.commands["completion"] = node_of(_parser("poncho.completion_cli", "build_parser"))
    umbrella.commands["help"] = Node(choices=[n for n in umbrella.commands if n != "help"])
    return {"poncho": umbrella, **tree}


def _paths(tree: dict[str, Node]) -> Iterator[tuple[str, Node]]:
    """(``"poncho spec validate"``, its node) for every command and sub-command."""

    def walk(path: str, node: Node) -> Iterator[tuple[str, Node]]:
        yield path, node
        for name, sub in node.commands.items():
            yield from walk(f"{path} {name}", sub)

    for name, node in tree.items():
        yield from walk(name, node)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _entries(tree: dict[str, Node]) -> Iterator[tuple[str, str, str]]:
    """(table, key, quoted value) of every entry of the five tables: ``opts`` and ``subs``
    of a command path, ``runs`` and ``args`` (what its first operand may be), and ``vals``
    (what an option's value is) of ``"PATH OPTION"``."""
    for path, node in _paths(tree):
        yield "opts", path, _quote(" ".join(node.options))
        if node.commands:
            yield "subs", path, _quote(" ".join(node.commands))
        if node.runs_a_command:
            yield "runs", path, "1"
        if node.choices:
            yield "args", path, _quote(" ".join(node.choices))
        for option, kind in node.values.items():
            yield "vals", f"{path} {option}", _quote(kind)


def _tables(tree: dict[str, Node], assign: str) -> list[str]:
    """One ``assign`` line per table entry (``_poncho_opts[KEY]=VALUE``)."""
    return [
        assign.format(table=table, key=_quote(key), value=value)
        for table, key, value in _entries(tree)
    ]


_BASH = r"""# bash completion for poncho and the poncho_* commands.
# Generated by `poncho completion bash` from the commands' own parsers; install with
#   poncho completion bash > ~/.local/share/bash-completion/completions/poncho
# or source it from ~/.bashrc: source <(poncho completion bash)

declare -gA _poncho_opts=() _poncho_subs=() _poncho_vals=() _poncho_runs=() _poncho_args=()
@TABLES@

# Walk the words before the cursor: the (sub-)command they name, whether the last one is an
# option waiting for its value, and how many operands were given; then offer what may come.
_poncho_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} path=${COMP_WORDS[0]##*/} word kind='' operands=0 ends='' i
    [[ -n ${_poncho_opts[$path]+set} ]] || path=poncho
    local runs=${_poncho_runs[$path]}
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -n $kind ]]; then
            kind=
        elif [[ -z $ends && $word == -- ]]; then
            ends=1
        elif [[ -z $ends && $word == -* ]]; then
            kind=${_poncho_vals["$path $word"]}
        elif [[ -z $ends && " ${_poncho_subs[$path]} " == *" $word "* ]] && ((operands == 0)); then
            path="$path $word"
            runs=${_poncho_runs[$path]}
        else
            operands=$((operands + 1))
            [[ -n $runs ]] && ends=1  # the command's own arguments follow
        fi
    done
    COMPREPLY=()
    if [[ -n $kind ]]; then
        case $kind in
            file | dir)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen "-${kind:0:1}" -- "$cur")
                ;;
            choice\ *) mapfile -t COMPREPLY < <(compgen -W "${kind#choice }" -- "$cur") ;;
        esac
    elif [[ -n $runs ]] && ((operands == 0)) && [[ -n $ends || $cur != -* ]]; then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    elif [[ -z $ends && $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${_poncho_opts[$path]}" -- "$cur")
    elif [[ -z $ends && -n ${_poncho_subs[$path]} ]] && ((operands == 0)); then
        mapfile -t COMPREPLY < <(compgen -W "${_poncho_subs[$path]}" -- "$cur")
    elif [[ -n ${_poncho_args[$path]} ]] && ((operands == 0)); then
        mapfile -t COMPREPLY < <(compgen -W "${_poncho_args[$path]}" -- "$cur")
    else
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}

complete -F _poncho_complete @COMMANDS@
"""

_ZSH = r"""#compdef @COMMANDS@
# zsh completion for poncho and the poncho_* commands.
# Generated by `poncho completion zsh` from the commands' own parsers; install with
#   poncho completion zsh > "${fpath[1]}/_poncho"     (a folder of $fpath; then compinit)
# or, after compinit in ~/.zshrc: source <(poncho completion zsh)

typeset -gA _poncho_opts _poncho_subs _poncho_vals _poncho_runs _poncho_args
@TABLES@

# Walk the words before the cursor: the (sub-)command they name, whether the last one is an
# option waiting for its value, and how many operands were given; then offer what may come.
_poncho() {
    local cur=${words[CURRENT]} path=${words[1]:t} word key kind='' operands=0 ends='' i
    (( ${+_poncho_opts[$path]} )) || path=poncho
    local runs=${_poncho_runs[$path]}
    for ((i = 2; i < CURRENT; i++)); do
        word=${words[i]}
        if [[ -n $kind ]]; then
            kind=
        elif [[ -z $ends && $word == -- ]]; then
            ends=1
        elif [[ -z $ends && $word == -* ]]; then
            key="$path $word"
            kind=${_poncho_vals[$key]}
        elif [[ -z $ends && " ${_poncho_subs[$path]} " == *" $word "* ]] && ((operands == 0)); then
            path="$path $word"
            runs=${_poncho_runs[$path]}
        else
            operands=$((operands + 1))
            [[ -n $runs ]] && ends=1  # the command's own arguments follow
        fi
    done
    if [[ -n $kind ]]; then
        case $kind in
            file) _files ;;
            dir) _files -/ ;;
            choice\ *) compadd -- ${=kind#choice } ;;
        esac
    elif [[ -n $runs ]] && ((operands == 0)) && [[ -n $ends || $cur != -* ]]; then
        _command_names -e
    elif [[ -z $ends && $cur == -* ]]; then
        compadd -- ${=_poncho_opts[$path]}
    elif [[ -z $ends && -n ${_poncho_subs[$path]} ]] && ((operands == 0)); then
        compadd -- ${=_poncho_subs[$path]}
    elif [[ -n ${_poncho_args[$path]} ]] && ((operands == 0)); then
        compadd -- ${=_poncho_args[$path]}
    else
        _files
    fi
}

if [[ ${funcstack[1]} == _poncho ]]; then
    _poncho "$@"
elif (( $+functions[compdef] )); then
    compdef _poncho @COMMANDS@
fi
"""


_FISH = r"""# fish completion for poncho and the poncho_* commands.
# Generated by `poncho completion fish` from the commands' own parsers; install with
#   poncho completion fish > ~/.config/fish/conf.d/poncho.fish
# (conf.d, read by every new fish: each of the commands completes, not only poncho)

# The tables: `__poncho_table opts|subs|vals|runs|args KEY` prints the entry (or fails).
function __poncho_table --argument-names table key
    switch "$table $key"
@TABLES@
        case '*'
            return 1
    end
end

function __poncho_is_sub --argument-names path word
    contains -- $word (string split ' ' -- (__poncho_table subs $path))
end

# Walk the words before the cursor: the (sub-)command they name, whether the last one is an
# option waiting for its value, and how many operands were given; then offer what may come.
function __poncho_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l path (string replace -r '.*/' '' -- $tokens[1])
    __poncho_table opts $path >/dev/null; or set path poncho
    set -l runs (__poncho_table runs $path)
    set -l kind
    set -l ends
    set -l operands 0
    set -e tokens[1]
    for word in $tokens
        if test -n "$kind"
            set kind
        else if test -z "$ends"; and test "$word" = --
            set ends 1
        else if test -z "$ends"; and string match -q -- '-*' $word
            set kind (__poncho_table vals "$path $word")
        else if test -z "$ends"; and test $operands -eq 0; and __poncho_is_sub $path $word
            set path "$path $word"
            set runs (__poncho_table runs $path)
        else
            set operands (math $operands + 1)
            test -n "$runs"; and set ends 1 # the command's own arguments follow
        end
    end
    if test -n "$kind"
        switch $kind
            case file
                __fish_complete_path $cur
            case dir
                __fish_complete_directories $cur ''
            case 'choice *'
                string split ' ' -- (string replace 'choice ' '' -- $kind)
        end
    else if test -n "$runs"; and test $operands -eq 0; and begin
            test -n "$ends"; or not string match -q -- '-*' $cur
        end
        __fish_complete_command $cur
    else if test -z "$ends"; and string match -q -- '-*' $cur
        string split ' ' -- (__poncho_table opts $path)
    else if test -z "$ends"; and test $operands -eq 0; and __poncho_table subs $path >/dev/null
        string split ' ' -- (__poncho_table subs $path)
    else if test $operands -eq 0; and __poncho_table args $path >/dev/null
        string split ' ' -- (__poncho_table args $path)
    else
        __fish_complete_path $cur
    end
end

@COMPLETE@
"""


def script(shell: str, tree: dict[str, Node] | None = None) -> str:
    """The completion script for *shell* (``bash``, ``zsh`` or ``fish``)."""
    tree = command_tree() if tree is None else tree
    commands = " ".join(tree)
    if shell == "fish":
        # fish has no associative arrays: each table entry is a case of one switch.
        cases = "\n".join(
            f"        case {_quote(f'{table} {key}')}\n            echo {value}"
            for table, key, value in _entries(tree)
        )
        complete = "\n".join(f"complete -c {name} -f -a '(__poncho_complete)'" for name in tree)
        return _FISH.replace("@TABLES@", cases).replace("@COMPLETE@", complete)
    templates = {"bash": _BASH, "zsh": _ZSH}
    if shell not in templates:
        raise ValueError(f"no completion for {shell!r} (shells: {', '.join(SHELLS)})")
    # zsh keeps the quotes of a subscript in an assignment: a pair appended instead.
    assign = (
        "_poncho_{table}[{key}]={value}" if shell == "bash" else "_poncho_{table}+=({key} {value})"
    )
    tables = "\n".join(_tables(tree, assign))
    return templates[shell].replace("@TABLES@", tables).replace("@COMMANDS@", commands)
