"""What every route module needs: the engine, the write lock, documented problem responses."""

from __future__ import annotations

from typing import Any, ContextManager

from fastapi import Request

from vbr.engine import Engine
from vbr.server.problems import problem_responses

# every authenticated route can answer these
AUTH_ERRORS = problem_responses(400, 401, 403, 404, 422, 500)
POST_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 500)


async def engine(request: Request) -> Engine:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request for nothing
    return request.app.state.engine


def writing(request: Request) -> ContextManager[Any]:
    """Hold while writing to the main store (serialises writers on SQLite)."""
    return request.app.state.write_lock()
