"""Cursor pagination for list endpoints: ``?limit=`` (1-500) and an opaque ``?cursor=``.

Every list answers ``{"items": [...], "next_cursor": "..." | null}``; pass ``next_cursor`` back
as ``cursor`` for the next page. A cursor is only meaningful for the list that issued it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Generic, Sequence, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from vbr.server.problems import Problem

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")

    items: list[T]
    next_cursor: str | None = None


class PageParams:
    """``?limit=`` and ``?cursor=``; routes take it as ``params: PageParams = Depends(page_params)``."""

    def __init__(self, limit: int = 100, cursor: str | None = None) -> None:
        self.limit = limit
        self.cursor = cursor

    @property
    def position(self) -> int:
        """Where the page starts (an offset, or a sequence number for the log)."""
        return decode(self.cursor) if self.cursor else 0


async def page_params(limit: int = Query(100, ge=1, le=MAX_LIMIT, description="items per page"),
                      cursor: str | None = Query(None, max_length=200,
                                                 description="next_cursor from the previous page")) -> PageParams:
    # a coroutine: FastAPI would run a class or a plain ``def`` dependency in its thread pool
    return PageParams(limit, cursor)


def encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("p") or not raw[1:].isdigit() or len(raw) > 19:
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(400, "Bad cursor", "the cursor is not one this service issued", kind="bad-cursor",
                      field="cursor", hint="pass next_cursor from the previous page unchanged, or omit it") from None


def page(items: Sequence[T], params: PageParams) -> dict:
    """A page of an in-memory list, by offset."""
    start = params.position
    chunk = list(items[start:start + params.limit])
    more = start + params.limit < len(items)
    return {"items": chunk, "next_cursor": encode(start + params.limit) if more else None}


def page_fetched(rows: Sequence[T], params: PageParams) -> dict:
    """A page of rows the database paged: fetched as ``params.limit + 1`` rows from
    ``params.position``, the extra row (not shown) only says that there is a next page."""
    more = len(rows) > params.limit
    return {"items": list(rows[:params.limit]),
            "next_cursor": encode(params.position + params.limit) if more else None}
