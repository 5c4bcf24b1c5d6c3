"""Shared CLI plumbing: consoles, error reporting with exit codes, common options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from vbr.errors import VbrError

console = Console()
err_console = Console(stderr=True)

DbOption = typer.Option(
    None, "--db", envvar="VBR_DB", help="SQLite file or database URL (default: vbr.sqlite in your data dir)."
)
RubricDirOption = typer.Option(
    None, "--rubric-dir", help="Extra directory of rubric YAML files (also VBR_RUBRIC_PATH).", exists=True,
    file_okay=False,
)


class VbrGroup(TyperGroup):
    """The root command group: a vbr error anywhere becomes its message and its exit code."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except VbrError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            ctx.exit(exc.exit_code)


def run_guarded(app: typer.Typer, argv: list[str]) -> None:
    """Run the app; turn vbr errors into a clear message and their exit code, not a traceback."""
    try:
        app(args=argv, standalone_mode=True)
    except VbrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def resolve_db(db: str | None) -> str:
    from vbr.store import default_db_url

    if db is None:
        return default_db_url()
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"
