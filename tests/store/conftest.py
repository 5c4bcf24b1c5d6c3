"""Backends for the store tests: SQLite always, PostgreSQL when ``VBR_TEST_PG_URL`` is set.

Start a server and point the tests at it with::

    export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)

Each PostgreSQL test gets a fresh schema (``t_<random>``, selected through ``search_path`` in
the URL) in the server's database, and the same schema in ``<database>_equality`` for the
equality store (the database vbr derives for it; the script creates both). The schemas are
dropped afterwards (``tests.pg.fresh_schema``). Without ``VBR_TEST_PG_URL`` the PostgreSQL
variants are skipped with a reason; with it set, a server that cannot be reached is an error, not
a skip.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg import fresh_schema


@dataclass
class Backend:
    """One fresh place to put a store: ``main_url`` and its ``equality_url``."""

    name: str
    main_url: str
    equality_url: str
    schema: str | None = None
    path: Path | None = None  # SQLite: the main database file

    def tamper(self, sql: str, table: str = "audit_log", url: str | None = None) -> None:
        """Run ``sql`` behind vbr's back, with the table's append-only guard out of the way (as
        someone with direct access to the database could), then put the guard back."""
        url = url or self.main_url
        if self.name == "sqlite":
            con = sqlite3.connect(url.removeprefix("sqlite:///"))
            con.execute(f"DROP TRIGGER {table}_no_update")
            con.execute(f"DROP TRIGGER {table}_no_delete")
            con.execute(sql)
            con.commit()
            con.close()
            return
        from sqlalchemy import create_engine

        eng = create_engine(url)
        try:
            with eng.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
                conn.exec_driver_sql(sql)
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        finally:
            eng.dispose()


@pytest.fixture
def pg_backend():
    """A fresh PostgreSQL schema pair (skipped without ``VBR_TEST_PG_URL``)."""
    with fresh_schema("t_") as schema:
        yield Backend("postgresql", schema.main_url, schema.equality_url, schema=schema.name)


def _sqlite_backend(tmp_path: Path) -> Backend:
    main = tmp_path / "vbr.sqlite"
    return Backend("sqlite", f"sqlite:///{main}", f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}", path=main)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    """Each test that takes ``backend`` runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_backend(tmp_path)
        return
    yield request.getfixturevalue("pg_backend")


@pytest.fixture
def store(backend):
    """A :class:`vbr.store.Store` on each backend (a module may define its own ``store``)."""
    from vbr.store import Store

    s = Store(backend.main_url)
    yield s
    s.engine.dispose()
