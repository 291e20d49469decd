"""``poncho completion bash|zsh|fish``: print the completion script (:mod:`poncho.completion`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from poncho.completion import SHELLS, script
from poncho_core.cli_common import ArgumentParser, epilog

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Print the shell completion script of poncho and the poncho_* commands (sub-commands,
options, and files where a path goes), generated from their own parsers. Install it once.
For bash:

    poncho completion bash > ~/.local/share/bash-completion/completions/poncho

For zsh, with ~/.zfunc in $fpath before compinit in ~/.zshrc:

    poncho completion zsh > ~/.zfunc/_poncho

For fish (conf.d, so that each of the commands completes, not only poncho):

    poncho completion fish > ~/.config/fish/conf.d/poncho.fish

Or load it in every new shell instead: 'source <(poncho completion bash)' in ~/.bashrc,
'source <(poncho completion zsh)' after compinit in ~/.zshrc. Open a new shell afterwards,
and regenerate the script after an upgrade of Poncho."""


def build_parser(prog: str = "poncho completion") -> argparse.ArgumentParser:
    """The argument parser of ``poncho completion``."""
    parser = ArgumentParser(
        prog=prog,
        description=_DESCRIPTION,
        epilog=epilog(exit_status=[("0", "printed"), ("2", "bad usage")]),
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help=", ".join(SHELLS))
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "poncho completion") -> int:
    """``poncho completion bash|zsh|fish``: print the script; returns the exit status."""
    args = build_parser(prog).parse_args(argv)
    print(script(args.shell), end="")
    return 0
