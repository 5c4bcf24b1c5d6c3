"""Fixtures for webhook tests: a main store, an outbox on it, a clock tests move by hand.

``db_url`` is SQLite, and also PostgreSQL when ``VBR_TEST_PG_URL`` is set (start a server with
``export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)``): each PostgreSQL test gets a fresh schema.
"""

from __future__ import annotations

import os
import uuid

import pytest

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
    pg = os.environ.get("VBR_TEST_PG_URL")
    if not pg:
        pytest.skip("PostgreSQL: set VBR_TEST_PG_URL (export VBR_TEST_PG_URL=$(bash scripts/postgres.sh))")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from vbr.store import db

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine = db._ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(db_url) -> Store:
    return Store(db_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(store, clock) -> Outbox:
    return Outbox(store.engine, clock=clock)
