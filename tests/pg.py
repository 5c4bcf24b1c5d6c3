"""A fresh scratch schema on the PostgreSQL test server, for the tests that also run on PostgreSQL.

Start a server and point the tests at it with::

    export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)

``fresh_schema(prefix)`` creates a schema ``<prefix><random>`` in the server's database and the
same schema in ``<database>_equality`` (the database vbr derives for the equality store; the
script creates both), yields the two URLs with that schema selected through ``search_path``, and
afterwards disposes of vbr's cached engines on that schema and drops both schemas. Use it in a
fixture::

    @pytest.fixture
    def pg_url():
        with fresh_schema("t_") as schema:
            yield schema.main_url

Without ``VBR_TEST_PG_URL`` the test is skipped (``SKIP_REASON``), never failed; with it set, a
server that cannot be reached is a failure, not a skip.

Imported as ``tests.pg``, like the other shared test helpers (``tests.server.conftest``, ...),
also by the plugins' tests under ``plugins/``: the repository root is on ``sys.path`` through the
editable install (``make setup-dev``), and with ``python -m pytest`` run from it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from typing import Iterator

import pytest

PG_ENV = "VBR_TEST_PG_URL"
SKIP_REASON = (f"PostgreSQL tests need {PG_ENV}; start a server with "
               f"`export {PG_ENV}=$(bash scripts/postgres.sh)`")


def pg_url() -> str:
    """The test server's URL (``VBR_TEST_PG_URL``); skips the calling test when it is not set."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(SKIP_REASON)
    return url


@dataclass(frozen=True)
class Schema:
    """A scratch schema, as URLs that select it: in the server's database and in its ``_equality`` sibling."""

    name: str
    main_url: str
    equality_url: str


@contextlib.contextmanager
def fresh_schema(prefix: str = "t_") -> Iterator[Schema]:
    """A new schema ``<prefix><12 hex digits>`` in the test database and ``<database>_equality``,
    dropped (with vbr's cached engines on it disposed of) when the block ends. Skips without
    ``VBR_TEST_PG_URL``."""
    url = pg_url()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(f"{PG_ENV} is set but psycopg is not installed: pip install 'psycopg[binary]'")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    equality_db = f"{base.database}_equality"
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admins = [create_engine(base, pool_size=2), create_engine(base.set(database=equality_db), pool_size=2)]
    created = []
    try:
        for admin in admins:
            try:
                with admin.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{name}"'))
            except Exception as exc:  # a configured but unreachable server must fail loudly
                pytest.fail(f"{PG_ENV}={url!r}: cannot create a schema in {admin.url.database}: {exc}")
            created.append(admin)
        selected = base.update_query_dict({"options": f"-csearch_path={name}"})
        yield Schema(name, selected.render_as_string(hide_password=False),
                     selected.set(database=equality_db).render_as_string(hide_password=False))
    finally:
        from vbr.store import db

        for key in [k for k in db._ENGINES if name in k]:  # the schema's URLs, with any other options
            db._ENGINES.pop(key).dispose()
        for admin in created:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        for admin in admins:
            admin.dispose()
