"""The service on PostgreSQL: the end-to-end flow, idempotency and natural keys, the log pages, and 1,000
concurrent submissions (no write lock there: the database arbitrates).

Runs when ``VBR_TEST_PG_URL`` is set (``export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)``);
each test gets fresh schemas in the main and equality databases, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
import warnings

import pytest

from tests.server import test_concurrency, test_flow, test_idempotency, test_log_route
from tests.server.conftest import Service

PG_URL = os.environ.get("VBR_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="set VBR_TEST_PG_URL (bash scripts/postgres.sh) for PostgreSQL")


@pytest.fixture
def pg_svc(clock):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from vbr.engine import Engine
    from vbr.server.app import Settings, create_app
    from vbr.store import db

    base = make_url(PG_URL)
    schema = f"srv_{uuid.uuid4().hex[:12]}"
    admins = [create_engine(base), create_engine(base.set(database=f"{base.database}_equality"))]
    for eng in admins:
        with eng.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    main = url.render_as_string(hide_password=False)
    equality = url.set(database=f"{base.database}_equality").render_as_string(hide_password=False)
    try:
        engine = Engine(main, equality_db=equality)
        app = create_app(engine, settings=Settings(clock=clock))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Service(client, engine, clock, app)
    finally:
        for u in (main, equality):
            e = db._ENGINES.pop(u, None)
            if e is not None:
                e.dispose()
        for eng in admins:
            with eng.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            eng.dispose()


def test_flow_on_postgres(pg_svc):
    test_flow.test_campaign_to_released_shortlist(pg_svc)


def test_replay_on_postgres(pg_svc):
    test_idempotency.test_same_key_same_body_is_replayed_once_stored(pg_svc)


def test_key_reuse_on_postgres(pg_svc):
    test_idempotency.test_same_key_different_body_is_422_and_changes_nothing(pg_svc)


def test_in_flight_on_postgres(pg_svc):
    test_idempotency.test_a_request_in_flight_gets_409(pg_svc)


def test_natural_keys_on_postgres(pg_svc):
    test_idempotency.test_natural_keys_dedupe_without_a_header(pg_svc)


def test_expiry_on_postgres(pg_svc):
    test_idempotency.test_keys_expire_after_24_hours(pg_svc, pg_svc.clock)


def test_a_thousand_concurrent_submissions_on_postgres(pg_svc):
    test_concurrency.test_a_thousand_concurrent_submissions_make_one_row_each(pg_svc)


def test_log_pages_on_postgres(pg_svc):
    test_log_route.test_pages_walk_the_tenants_entries_in_order_and_never_another_tenants(pg_svc)

