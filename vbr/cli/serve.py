"""``vbr serve``: the HTTP service (``pip install vbr[server]``), on loopback by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from vbr.cli.common import DbOption, err_console, resolve_db


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8765, "--port", min=1, max=65535),
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = typer.Option(None, "--equality-db", envvar="VBR_EQUALITY_DB",
                                              help="Equality database (default: beside the main store)."),
    max_body_bytes: int = typer.Option(1024 * 1024, "--max-body-bytes", min=1024, help="Largest request body."),
    sqlite_synchronous: Optional[str] = typer.Option(
        None, "--sqlite-synchronous", help="SQLite PRAGMA synchronous: NORMAL trades the last commits before a "
        "power cut for ~10x write throughput (never corruption); default: the store's FULL."),
    threads: int = typer.Option(4, "--threads", min=1, max=256,
                                help="Requests whose database work runs at once; the rest wait their turn. More "
                                     "threads only contend for Python's GIL (longer tail latency)."),
    log_level: str = typer.Option("info", "--log-level"),
    models: list[Path] = typer.Option([], "--model", exists=True, dir_okay=False, metavar="<file>",
                                      help="A trained model (`vbr scorer train --rubric --question --value`) for "
                                      "the 'learned' scorer ({\"scorer\": \"learned\"}); repeat for more. "
                                      "Added to VBR_MODELS."),
) -> None:
    """Serve the HTTP API (docs at /v1/docs, OpenAPI at /v1/openapi.json)."""
    try:
        import uvicorn

        from vbr.server.app import Settings, create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        err_console.print(f"[bold red]error:[/] the server extra is not installed ({exc.name}): "
                          "pip install 'vbr[server]'")
        raise typer.Exit(1) from None
    url = resolve_db(db)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] listening on {host}, not loopback: put TLS in front of it")
    settings = Settings(db=url, equality_db=resolve_db(equality_db) if equality_db else None,
                        max_body_bytes=max_body_bytes, sqlite_synchronous=sqlite_synchronous, threads=threads)
    from vbr.scoring.model_scorer import MODELS_ENV, SCORER_ID, model_paths

    if models:
        from vbr.plugins import reset_plugins

        os.environ[MODELS_ENV] = os.pathsep.join(str(m) for m in [*models, *model_paths(os.environ.get(MODELS_ENV))])
        reset_plugins()  # the scorers are registered from VBR_MODELS when the plugin system is built
    app = create_app(settings=settings)
    if model_paths(os.environ.get(MODELS_ENV)):  # read and check the model files now, not at the first request
        from vbr.plugins import get_plugins

        learned = get_plugins().registry("scorers")[SCORER_ID]  # a bad file stops here, named
        err_console.print(f"scorer '{SCORER_ID}': {len(learned.loaded)} trained model(s) for "
                          f"{', '.join(learned.rubric_refs())}", highlight=False)
    err_console.print(f"vbr serving {url.split('@')[-1]} on http://{host}:{port}/v1 (docs: /v1/docs)",
                      highlight=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
