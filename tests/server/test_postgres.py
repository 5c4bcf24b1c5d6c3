"""The service on PostgreSQL: the end-to-end flow, idempotency and natural keys, the log pages, and 1,000
concurrent submissions (no write lock there: the database arbitrates).

Runs when ``VBR_TEST_PG_URL`` is set (``export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)``);
each test gets fresh schemas in the main and equality databases, dropped afterwards (``tests.pg``).
"""

from __future__ import annotations

import warnings

import pytest

from tests.pg import fresh_schema
from tests.server import test_concurrency, test_flow, test_idempotency, test_log_route
from tests.server.conftest import Service


@pytest.fixture
def pg_svc(clock):
    from vbr.engine import Engine
    from vbr.server.app import Settings, create_app

    with fresh_schema("srv_") as schema:
        engine = Engine(schema.main_url, equality_db=schema.equality_url)
        app = create_app(engine, settings=Settings(clock=clock))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Service(client, engine, clock, app)


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

