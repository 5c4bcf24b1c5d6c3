"""Backends for the store tests: SQLite always, PostgreSQL when ``VBR_TEST_PG_URL`` is set.

Start a server and point the tests at it with::

    export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)

Each PostgreSQL test gets a fresh schema (``t_<random>``, selected through ``search_path`` in
the URL) in the server's database, and the same schema in ``<database>_equality`` for the
equality store (the database vbr derives for it; the script creates both). The schemas are
dropped afterwards. Without ``VBR_TEST_PG_URL`` the PostgreSQL variants are skipped with a
reason; with it set, a server that cannot be reached is an error, not a skip.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

PG_ENV = "VBR_TEST_PG_URL"
SKIP_REASON = (f"PostgreSQL tests need {PG_ENV}; start a server with "
               f"`export {PG_ENV}=$(bash scripts/postgres.sh)`")


@dataclass
class PgServer:
    url: str  # the database vbr_test (or whatever the URL names)
    admin: object  # sqlalchemy Engine on that database
    equality_admin: object  # sqlalchemy Engine on <database>_equality

    def fresh(self) -> "Backend":
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        schema = f"t_{uuid.uuid4().hex[:12]}"
        for eng in (self.admin, self.equality_admin):
            with eng.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        base = make_url(self.url).update_query_dict({"options": f"-csearch_path={schema}"})
        main = base.render_as_string(hide_password=False)
        equality = base.set(database=f"{base.database}_equality").render_as_string(hide_password=False)

        def drop() -> None:
            from vbr.store import db

            for url in (main, equality):
                engine = db._ENGINES.pop(url, None)
                if engine is not None:
                    engine.dispose()
            for eng in (self.admin, self.equality_admin):
                with eng.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

        return Backend("postgresql", main, equality, schema=schema, cleanup=drop)


@dataclass
class Backend:
    """One fresh place to put a store: ``main_url`` and its ``equality_url``."""

    name: str
    main_url: str
    equality_url: str
    schema: str | None = None
    path: Path | None = None  # SQLite: the main database file
    cleanup: Callable[[], None] = field(default=lambda: None, repr=False)

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


@pytest.fixture(scope="session")
def pg_server():
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(SKIP_REASON)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(f"{PG_ENV} is set but psycopg is not installed: pip install 'psycopg[binary]'")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin = create_engine(base, pool_size=2)
    equality_admin = create_engine(base.set(database=f"{base.database}_equality"), pool_size=2)
    for eng in (admin, equality_admin):
        try:
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # a configured but unreachable server must fail loudly
            pytest.fail(f"{PG_ENV}={url!r}: cannot connect to {eng.url.database}: {exc}")
    yield PgServer(url, admin, equality_admin)
    admin.dispose()
    equality_admin.dispose()


@pytest.fixture
def pg_backend(pg_server):
    """A fresh PostgreSQL schema pair (skipped without ``VBR_TEST_PG_URL``)."""
    b = pg_server.fresh()
    yield b
    b.cleanup()


def _sqlite_backend(tmp_path: Path) -> Backend:
    main = tmp_path / "vbr.sqlite"
    return Backend("sqlite", f"sqlite:///{main}", f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}", path=main)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    """Each test that takes ``backend`` runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_backend(tmp_path)
        return
    b = request.getfixturevalue("pg_server").fresh()
    yield b
    b.cleanup()

