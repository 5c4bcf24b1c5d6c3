"""Two thread pools, so a read never waits behind writes stuck on the disk.

Route functions are synchronous (SQLAlchemy), so they run on threads: reads on anyio's default
pool, and on PostgreSQL writes (every ``POST`` of the API, marked with
:func:`on_write_threads`) on a pool of their own, each of ``Settings.threads`` threads. With one
shared pool, a write holds a thread while its commit waits for the disk, and when the disk is
slow (a checkpoint, a neighbour's I/O) every thread ends up waiting for it and reads queue
behind them. On durable PostgreSQL with a busy disk (``dd ... conv=fsync`` beside it), a paced
mix of 200 requests/s had reads at a p99 of 601 ms, above the writes' own 419 ms, and 18% of
requests over 100 ms; with the write pool, reads 137 ms and 7% over 100 ms
(benchmarks/http_load.py). Both pools stay small, because more threads only contend for
Python's GIL (see ``Settings.threads``).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, TypeVar

import anyio
from fastapi import FastAPI, Request

T = TypeVar("T")


def reset_write_threads(app: FastAPI, threads: int, dialect: str) -> None:
    """Give ``app`` a fresh write pool (at start-up: a limiter belongs to one event loop).

    Only on server databases: SQLite takes one writer at a time anyway (``WriteLock``), so a
    pool of its own only added threads contending for the GIL (closed-loop mixed load fell from
    ~500 to ~420 requests/s); there writes share the default pool, as before."""
    app.state.write_threads = None if dialect == "sqlite" else anyio.CapacityLimiter(threads)


def on_write_threads(route: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run a synchronous route that writes on the app's write pool instead of the shared one.

    The route must take ``request: Request`` (FastAPI passes arguments by name); its signature,
    and so its parameters, dependencies and OpenAPI description, are unchanged."""
    if "request" not in inspect.signature(route).parameters:
        raise TypeError(f"{route.__qualname__} must take 'request: Request' to run on the write threads")

    @functools.wraps(route)
    async def on_writes(*args: Any, **kwargs: Any) -> T:
        request: Request = kwargs["request"]
        return await anyio.to_thread.run_sync(functools.partial(route, *args, **kwargs),
                                              limiter=request.app.state.write_threads)

    return on_writes
