"""``vbr keys``: API keys for the HTTP service (create, list, revoke).

A key is printed once, when it is created; only its SHA-256 hash is stored. Keys have a role
(ats, recruiter, equality_officer, admin), a tenant, an optional name and an optional expiry.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Optional

import typer
from rich.table import Table

from vbr.cli.common import DbOption, console, err_console, print_json, resolve_db

keys_app = typer.Typer(help="API keys for `vbr serve`: create (printed once), list, revoke.", no_args_is_help=True)


def _store(db: str | None):
    from vbr.server.keys import KeyStore
    from vbr.store import open_store

    return KeyStore(open_store(resolve_db(db)).engine)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


@keys_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help="ats, recruiter, equality_officer or admin."),
    tenant: str = typer.Option("default", "--tenant", help="The tenant whose data the key may reach."),
    name: Optional[str] = typer.Option(None, "--name", help="A label, e.g. the ATS or the person."),
    expires_in_days: Optional[float] = typer.Option(None, "--expires-in-days", min=0.0,
                                                    help="Expire the key after this many days."),
    db: Optional[str] = DbOption,
    as_json: bool = typer.Option(False, "--json", help="Print the key and its details as JSON."),
) -> None:
    """Create a key and print it ONCE (only its hash is stored: copy it now)."""
    from vbr.server.keys import utcnow

    expires = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days is not None else None
    key, info = _store(db).create(role, tenant=tenant, name=name, expires_at=expires, actor=_actor())
    if as_json:
        print_json({"key": key, "id": info.id, "role": info.role, "tenant": info.tenant, "name": info.name,
                    "expires_at": info.expires_at})
        return
    err_console.print(f"created key [bold]{info.id}[/] role={info.role} tenant={info.tenant}"
                      + (f" expires={info.expires_at}" if info.expires_at else "")
                      + "\nthis is the only time the key is shown; store it in your secret manager:",
                      highlight=False)
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    tenant: Optional[str] = typer.Option(None, "--tenant", help="Only this tenant's keys."),
    db: Optional[str] = DbOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List keys (never the keys themselves): id, role, tenant, name, status."""
    from vbr.server.keys import utcnow

    now = utcnow()
    keys = _store(db).list(tenant=tenant)
    if as_json:
        print_json([{**k.__dict__, "status": k.status(now)} for k in keys])
        return
    table = Table(title="API keys")
    for col in ("id", "role", "tenant", "name", "created", "expires", "status"):
        table.add_column(col)
    for k in keys:
        table.add_row(k.id, k.role, k.tenant, k.name or "", k.created_at[:19], (k.expires_at or "")[:19],
                      k.status(now))
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (from `vbr keys list`)."),
           db: Optional[str] = DbOption) -> None:
    """Revoke a key: it is refused (401) from now on."""
    info = _store(db).revoke(key_id, actor=_actor())
    err_console.print(f"revoked key {info.id} ({info.role}, tenant {info.tenant})", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
