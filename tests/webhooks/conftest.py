"""Fixtures for webhook tests: a main store, an outbox on it, a clock tests move by hand.

``db_url`` is SQLite, and also PostgreSQL when ``VBR_TEST_PG_URL`` is set (start a server with
``export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)``): each PostgreSQL test gets a fresh schema
(``tests.pg``).
"""

from __future__ import annotations

import pytest

from tests.pg import fresh_schema
from vbr.store import Store
from vbr.webhooks.outbox import Outbox


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vbr.sqlite'}"
        return
    with fresh_schema("t_") as schema:
        yield schema.main_url


@pytest.fixture
def store(db_url) -> Store:
    return Store(db_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(store, clock) -> Outbox:
    return Outbox(store.engine, clock=clock)
