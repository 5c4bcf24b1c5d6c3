"""``vbr log``: read and verify the hash-chained audit log."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from vbr.cli.common import DbOption, console, print_json, resolve_db
from vbr.errors import IntegrityError

log_app = typer.Typer(help="Read and verify the append-only audit log.", no_args_is_help=True)


@log_app.command("verify")
def verify(db: Optional[str] = DbOption) -> None:
    """Recompute the hash chain; exits 5 naming the first row that was changed or removed."""
    from vbr.store import open_store

    result = open_store(resolve_db(db)).log.verify()
    if not result.ok:
        raise IntegrityError(f"audit log does not verify: {result.problem}",
                             hint="restore the database from a backup and investigate who changed it")
    console.print(f"[green]✓[/] audit log verified: {result.rows} entries, chain intact")


@log_app.command("show")
def show(
    db: Optional[str] = DbOption,
    subject: Optional[str] = typer.Option(None, help="Only entries about this subject, e.g. shortlist:1."),
    limit: int = typer.Option(50, help="At most this many entries (newest last)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show log entries: who did what, when and why."""
    from vbr.store import open_store

    entries = list(open_store(resolve_db(db)).log.entries(subject=subject))[-limit:]
    if json_out:
        print_json([e.__dict__ for e in entries])
        return
    table = Table(title="audit log")
    for col in ("seq", "when", "who", "action", "subject", "why"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), e.ts[:19], e.actor, e.action, e.subject, e.reason or "")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
