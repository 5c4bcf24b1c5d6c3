"""``vbr plugins``: what is loaded, from which distribution, implementing which hooks."""

from __future__ import annotations

import typer
from rich.table import Table

from vbr.cli.common import console, err_console, print_json


def plugins_command(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List loaded plugins (built-in ones too), their distribution and hooks, and any that failed."""
    from vbr.plugins import get_plugins

    system = get_plugins()
    rows = system.describe()
    if json_out:
        print_json({"plugins": rows, "failed": [f.__dict__ for f in system.failures]})
        return
    table = Table(title="vbr plugins")
    table.add_column("plugin")
    table.add_column("distribution")
    table.add_column("hooks")
    for row in rows:
        table.add_row(row["name"], row["distribution"], ", ".join(row["hooks"]))
    console.print(table)
    for failure in system.failures:
        err_console.print(f"[yellow]plugin {failure.name} failed to load:[/] {failure.error}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
