"""``vbr webhooks``: subscribe endpoints, rotate their secrets, list, replay and deliver webhooks.

Exit codes: 0 done, 2 invalid input, 4 not found; ``deliver --once`` returns 0 even when some
deliveries are waiting to be retried (see ``vbr webhooks list``).
"""

from __future__ import annotations

import json
import signal
from typing import Optional

import typer
from rich.table import Table

from vbr.cli.common import DbOption, console, err_console, print_json, resolve_db
from vbr.cli.shortlist import vbr_errors

webhooks_app = typer.Typer(help="Outbound webhooks (Standard Webhooks): endpoints, deliveries, the worker.",
                           no_args_is_help=True)
endpoints_app = typer.Typer(help="Subscribe, list, enable and disable webhook endpoints.", no_args_is_help=True)
webhooks_app.add_typer(endpoints_app, name="endpoints")

ActorOption = typer.Option(..., "--as", help="Who is doing this (recorded in the audit log).")


def _outbox(db: str | None):
    from vbr.webhooks.outbox import Outbox

    return Outbox.open(resolve_db(db))


@endpoints_app.command("add")
def endpoints_add(
    url: str = typer.Argument(..., help="The URL the ATS receives webhooks at."),
    event: Optional[list[str]] = typer.Option(None, "--event", "-e",
                                              help="Event type to send (repeat; default: all)."),
    tenant: str = typer.Option("default", "--tenant", help="Only events of this tenant's campaigns."),
    description: Optional[str] = typer.Option(None, "--description"),
    actor: str = ActorOption,
    db: Optional[str] = DbOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Subscribe URL; prints its signing secret ONCE: give it to the receiver now."""
    with vbr_errors():
        ep = _outbox(db).add_endpoint(url, actor=actor, event_types=event or ("*",), tenant=tenant,
                                      description=description)
    if as_json:
        print_json(ep)
        return
    console.print(f"endpoint [bold]{ep['id']}[/] -> {ep['url']} (events: {', '.join(ep['event_types'])}, "
                  f"tenant {ep['tenant']})", highlight=False, soft_wrap=True)
    console.print(f"signing secret (shown once): [bold]{ep['secret']}[/]", highlight=False, soft_wrap=True)


@endpoints_app.command("list")
def endpoints_list(db: Optional[str] = DbOption, tenant: Optional[str] = typer.Option(None, "--tenant"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """Endpoints (never their secrets)."""
    with vbr_errors():
        eps = _outbox(db).endpoints(tenant=tenant)
    if as_json:
        print_json(eps)
        return
    table = Table("id", "tenant", "url", "events", "status", "secrets")
    for e in eps:
        status = e["status"] + (f" ({e['disabled_reason']})" if e["disabled_reason"] else "")
        table.add_row(e["id"], e["tenant"], e["url"], ",".join(e["event_types"]), status, str(e["live_secrets"]))
    console.print(table)


@endpoints_app.command("disable")
def endpoints_disable(endpoint_id: str, reason: str = typer.Option(..., "--reason"), actor: str = ActorOption,
                      db: Optional[str] = DbOption) -> None:
    """Stop sending to an endpoint; its deliveries wait until it is enabled."""
    with vbr_errors():
        _outbox(db).set_endpoint_status(endpoint_id, "disabled", actor=actor, reason=reason)
    console.print(f"endpoint {endpoint_id} disabled")


@endpoints_app.command("enable")
def endpoints_enable(endpoint_id: str, actor: str = ActorOption, db: Optional[str] = DbOption) -> None:
    """Resume an endpoint (after a 410 or a manual disable); waiting deliveries go out."""
    with vbr_errors():
        _outbox(db).set_endpoint_status(endpoint_id, "active", actor=actor)
    console.print(f"endpoint {endpoint_id} enabled")


@webhooks_app.command("rotate-secret")
def rotate_secret(endpoint_id: str,
                  grace: float = typer.Option(86400.0, "--grace", help="Seconds the old secret keeps signing."),
                  actor: str = ActorOption, db: Optional[str] = DbOption) -> None:
    """Make a new secret; old and new both sign for --grace seconds. Prints the new one ONCE."""
    with vbr_errors():
        secret = _outbox(db).rotate_secret(endpoint_id, actor=actor, grace_seconds=grace)
    console.print(f"new signing secret for {endpoint_id} (shown once): [bold]{secret}[/]", highlight=False, soft_wrap=True)
    console.print(f"the previous secret keeps signing for {grace:g} s")


@webhooks_app.command("list")
def list_deliveries(
    status: Optional[str] = typer.Option(None, "--status", help="pending, delivered or failed."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint"),
    event: Optional[str] = typer.Option(None, "--event-id"),
    after: int = typer.Option(0, "--after", help="Show deliveries after this id (paging)."),
    limit: int = typer.Option(100, "--limit"),
    db: Optional[str] = DbOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deliveries, oldest first: event, endpoint, status, attempts, last error."""
    with vbr_errors():
        rows = _outbox(db).deliveries(status=status, endpoint_id=endpoint, event_id=event, after_id=after,
                                      limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "event", "type", "endpoint", "status", "attempts", "last")
    for r in rows:
        table.add_row(str(r["id"]), r["event_id"], r["event_type"], r["endpoint_id"], r["status"],
                      str(r["attempts"]), r["last_error"] or (str(r["last_status"]) if r["last_status"] else ""))
    console.print(table)


@webhooks_app.command("show")
def show_delivery(delivery_id: int, db: Optional[str] = DbOption) -> None:
    """One delivery with its payload and every attempt (JSON)."""
    with vbr_errors():
        print_json(_outbox(db).delivery(delivery_id))


@webhooks_app.command("replay")
def replay(delivery_id: int, actor: str = ActorOption, db: Optional[str] = DbOption) -> None:
    """Queue a delivery again (same webhook-id); the worker sends it on its next pass."""
    with vbr_errors():
        d = _outbox(db).replay(delivery_id, actor=actor)
    console.print(f"delivery {delivery_id} ({d['event_id']} -> {d['endpoint_id']}) queued again")


@webhooks_app.command("deliver")
def deliver(
    once: bool = typer.Option(False, "--once", help="Send what is due now, then exit."),
    interval: float = typer.Option(1.0, "--interval", help="Seconds between polls when idle."),
    timeout: float = typer.Option(10.0, "--timeout", help="HTTP timeout per attempt, seconds."),
    max_attempts: int = typer.Option(12, "--max-attempts"),
    db: Optional[str] = DbOption,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Run the delivery worker (stop with Ctrl-C; safe to kill: state is in the database)."""
    from vbr.webhooks.delivery import DeliveryWorker, RetryPolicy

    def report(info: dict) -> None:
        if not quiet:
            console.print(f"delivery {info['id']} {info['event_id']} attempt {info['attempt']}: {info['outcome']}"
                          + (f" ({info['error']})" if info["error"] else ""), highlight=False, soft_wrap=True)

    with vbr_errors():
        worker = DeliveryWorker(_outbox(db), policy=RetryPolicy(max_attempts=max_attempts), timeout=timeout,
                                on_sent=report)
        try:
            if once:
                summary = worker.run_once()
                console.print(json.dumps(summary.as_dict()), highlight=False, soft_wrap=True)
                return
            stopping = {"now": False}

            def _stop(*_):
                stopping["now"] = True

            signal.signal(signal.SIGTERM, _stop)
            try:
                worker.run(stop=lambda: stopping["now"], idle_seconds=interval)
            except KeyboardInterrupt:
                err_console.print("stopped")
        finally:
            worker.close()


def register(app: typer.Typer) -> None:
    if any(g.name == "webhooks" for g in app.registered_groups):
        return  # registered already (vbr.cli.importing registers it too)
    app.add_typer(webhooks_app, name="webhooks")
