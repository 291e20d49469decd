"""Print the release notes of a project from its pyproject.toml and git tags."""
import os
import subprocess
import sys

import click
from rich.console import Console
from rich.table import Table

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

if sys.platform == "win32":
    import colorama

    colorama.just_fix_windows_console()

WINDOWS = os.name == "nt"
if WINDOWS:
    import winreg  # noqa: F401


@click.command()
@click.argument("project", type=click.Path(exists=True))
def main(project):
    with open(os.path.join(project, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)["project"]
    tags = subprocess.run(["git", "-C", project, "tag"], capture_output=True, text=True).stdout
    table = Table(title=f"{meta['name']} releases")
    table.add_column("tag")
    for tag in tags.split():
        table.add_row(tag)
    Console().print(table)


if __name__ == "__main__":
    main()
