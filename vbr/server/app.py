"""The FastAPI application of ``vbr serve``: :func:`create_app`.

Everything is under ``/v1``: the OpenAPI document at ``/v1/openapi.json`` and a docs page at
``/v1/docs`` that renders it with local assets only (no CDN). Errors are RFC 9457 problem
documents (:mod:`vbr.server.problems`); request bodies above ``Settings.max_body_bytes`` are
refused with 413 before they are read. Plugins add routes through ``vbr_register_routes``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from vbr.server import problems
from vbr.server.idempotency import IdempotencyStore, WriteLock
from vbr.server.keys import KeyStore, utcnow
from vbr.server.threads import reset_write_threads
from vbr.store.db import relaxed_commit_engine

log = logging.getLogger("vbr.server")
API_PREFIX = "/v1"


@dataclass
class Settings:
    """How the service runs. ``clock`` is injectable so tests can move time (key expiry, idempotency)."""

    db: str | None = None
    equality_db: str | None = None
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl: dt.timedelta = dt.timedelta(hours=24)
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    sqlite_synchronous: str | None = None  # e.g. "NORMAL": see :func:`sqlite_synchronous`
    # how long a verified API key is used without reading its row again; a key revoked by another
    # process (`vbr keys revoke`) is refused within this time, by this process at once (0: never cache)
    key_cache_seconds: float = 1.0
    # requests whose database work runs at once (threads); the rest wait their turn on the event loop
    threads: int = 4
    title: str = "vbr"


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` (by Content-Length, and while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                await self._refuse(scope, receive, send, 400, "Bad request", "Content-Length is not a number")
                return
            if too_big:
                await self._refuse(scope, receive, send, 413, "Request too large", self._detail(int(length)))
                return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise StarletteHTTPException(413, self._detail(seen))
            return message

        await self.app(scope, limited, send)

    def _detail(self, n: int) -> str:
        return f"the request body has {n} bytes or more; the limit is {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str) -> None:
        problem = problems.Problem(status, title, detail, hint="send smaller batches" if status == 413 else None)
        await problems.problem_response(problem, scope.get("path"))(scope, receive, send)


def create_app(engine: Any = None, *, settings: Settings | None = None) -> FastAPI:
    """The HTTP service around ``engine`` (a :class:`vbr.Engine`; made from ``settings.db`` if omitted)."""
    from vbr.engine import Engine
    from vbr.server.migrations import SERVER
    from vbr.store.db import migrate

    settings = settings or Settings()
    if settings.threads < 1:
        raise ValueError(f"threads must be at least 1, not {settings.threads}")
    if engine is None:
        engine = Engine(settings.db, equality_db=settings.equality_db)
    migrate(engine.store.engine, SERVER)
    if settings.sqlite_synchronous:
        sqlite_synchronous(engine.store.engine, settings.sqlite_synchronous)
    lock = WriteLock(engine.store.engine.dialect.name)
    # idempotency records are a cache of answers: on PostgreSQL their commits do not wait for the
    # disk (a record lost in an OS crash is a 409 for a few minutes, then the natural key's 200)
    idempotency = IdempotencyStore(relaxed_commit_engine(engine.store.engine), ttl=settings.idempotency_ttl,
                                   clock=settings.clock, lock=lock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Database work runs in anyio's thread pool (40 threads by default). More than a few
        # threads only contend for the GIL: with 16 clients on two cores (benchmarks/http_load.py),
        # 40 threads gave score reads a p99 of ~110 ms, 2-4 threads ~30-40 ms, with the same or
        # better throughput, on SQLite and PostgreSQL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # and as many again for writes on PostgreSQL (vbr.server.threads)
        reset_write_threads(_app, settings.threads, engine.store.engine.dialect.name)
        try:
            idempotency.purge()
        except Exception:  # noqa: BLE001 - housekeeping must not stop the service starting
            log.exception("could not purge expired idempotency keys")
        yield

    app = FastAPI(
        title=settings.title, version="1",
        description="Values-based recruitment for the NHS: campaigns, answers, scores with evidence, "
                    "equality records (write-only), adverse-impact audits and the shortlist gate. "
                    "Authenticate with `Authorization: Bearer <key>` (`vbr keys create`). Errors are "
                    "RFC 9457 problem documents. Every POST accepts an `Idempotency-Key` header.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.engine = engine
    reset_write_threads(app, settings.threads, engine.store.engine.dialect.name)
    app.state.settings = settings
    app.state.keys = KeyStore(engine.store.engine, clock=settings.clock, cache_seconds=settings.key_cache_seconds)
    app.state.idempotency = idempotency
    app.state.write_lock = lock
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    from vbr.server.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    _include_webhooks(app)

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = resources.files("vbr.server").joinpath("docs.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{openapi}}", f"{API_PREFIX}/openapi.json"))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{API_PREFIX}/docs")

    @app.get(f"{API_PREFIX}/health", tags=["meta"], summary="Liveness (no key needed)")
    async def health() -> JSONResponse:  # a coroutine: no thread-pool hop
        return JSONResponse({"status": "ok"})

    try:
        engine.plugins.hook.vbr_register_routes(app=app)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, the service still starts
        if os.environ.get("VBR_STRICT_PLUGINS") == "1":
            raise
        log.error("a plugin failed in vbr_register_routes: %s: %s", type(exc).__name__, exc)
    return app


def sqlite_synchronous(engine: Any, mode: str) -> None:
    """Set SQLite's ``PRAGMA synchronous`` on every connection of ``engine`` (no-op elsewhere).

    The store runs WAL with SQLite's default ``FULL``: every commit waits for the disk (about 5 ms
    each here). ``NORMAL`` is SQLite's recommended pairing with WAL: the database cannot be
    corrupted, but the last transactions before a power cut or OS crash (not a process crash)
    may be lost. An ATS retrying with its Idempotency-Key then re-submits them.
    """
    from sqlalchemy import event

    mode = mode.upper()
    if mode not in ("NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"sqlite synchronous must be NORMAL, FULL or EXTRA, not {mode!r}")
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _synchronous(dbapi_conn, _record):  # pragma: no cover - exercised by the benchmark
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA synchronous={mode}")
        cur.close()

    engine.dispose()  # pooled connections reconnect with the setting


def _include_webhooks(app: FastAPI) -> None:
    """Include the webhook deliveries API (:mod:`vbr.webhooks.api`) when it is installed, behind
    this service's keys: its caller is the authenticated key (role and tenant), its outbox the
    main store's."""
    try:
        from vbr.webhooks import api as webhooks  # type: ignore[import-not-found]
        from vbr.webhooks.outbox import Outbox  # type: ignore[import-not-found]
    except ImportError:
        return
    from fastapi import Depends

    from vbr.server.auth import principal
    from vbr.server.keys import Principal

    outbox = Outbox(app.state.engine.store.engine)

    def caller(who: Principal = Depends(principal)):
        return webhooks.Caller(actor=who.actor, tenant=who.tenant, role=who.role)

    # not app.dependency_overrides: while any override is set, FastAPI re-analyses every
    # dependency of every request of the app (about 2 ms of CPU each)
    app.include_router(webhooks.make_router(caller=caller, outbox=lambda: outbox),
                       responses=problems.problem_responses(400, 401, 403, 404, 422, 500))
