"""Writes run on their own threads on PostgreSQL, so reads never queue behind them; on SQLite
(one writer at a time anyway) they share the default pool. Shown without timing: a write held
inside its route does not stop a read from being answered."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

import anyio
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from vbr.server.threads import on_write_threads, reset_write_threads


def _app(dialect: str, threads: int = 1) -> tuple[FastAPI, threading.Event, threading.Event]:
    entered, release = threading.Event(), threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        reset_write_threads(app, threads, dialect)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/write")
    @on_write_threads
    def write(request: Request, n: int = 1) -> dict:
        entered.set()
        assert release.wait(30)
        return {"n": n, "thread": threading.current_thread().name}

    @app.get("/read")
    def read() -> dict:
        return {"ok": True}

    return app, entered, release


def test_a_read_is_answered_while_the_only_thread_for_writes_is_busy():
    app, entered, release = _app("postgresql", threads=1)
    with TestClient(app) as client:
        assert isinstance(app.state.write_threads, anyio.CapacityLimiter)
        answers = []
        writer = threading.Thread(target=lambda: answers.append(client.post("/write?n=3")))
        writer.start()
        try:
            assert entered.wait(30)
            # the default pool has one thread, the write pool one, and the write holds its own
            assert client.get("/read").json() == {"ok": True}
        finally:
            release.set()
            writer.join(30)
        assert answers[0].status_code == 200 and answers[0].json()["n"] == 3


def test_on_sqlite_writes_share_the_default_pool():
    app, _, release = _app("sqlite")
    release.set()
    with TestClient(app) as client:
        assert app.state.write_threads is None
        assert client.post("/write?n=2").json()["n"] == 2


def test_the_route_keeps_its_parameters_in_the_openapi_document():
    app, _, _ = _app("postgresql")
    params = app.openapi()["paths"]["/write"]["post"]["parameters"]
    assert [(p["name"], p["in"]) for p in params] == [("n", "query")]


def test_a_write_route_must_take_the_request():
    with pytest.raises(TypeError, match="must take 'request: Request'"):
        on_write_threads(lambda n: n)
