"""The pages on PostgreSQL (skipped without ``VBR_TEST_PG_URL``; start a server with
``export VBR_TEST_PG_URL=$(bash scripts/postgres.sh)``): a double-submitted override makes one
override, the form lock is a PostgreSQL advisory lock, so it holds across server processes, and
a campaign's pages read only that campaign's log entries. Each test gets a fresh schema
(``tests.pg``)."""

from __future__ import annotations

import re

import pytest

from tests.pages.conftest import CAMPAIGN, FakeClock, Pages, pages_plugins, seed
from tests.pg import fresh_schema


@pytest.fixture
def pg_url():
    with fresh_schema("t_pages_") as schema:
        yield schema.main_url


def test_double_submitted_override_on_postgres_makes_one_override(pg_url):
    from fastapi.testclient import TestClient

    from vbr.engine import Engine
    from vbr.server.app import Settings, create_app

    engine = Engine(pg_url, plugins=pages_plugins())
    seed(engine, n=12)
    clock = FakeClock()
    app = create_app(engine, settings=Settings(clock=clock))
    with TestClient(app) as client:
        pages = Pages(client, engine, clock, app)
        pages.sign_in("recruiter")
        review = f"/pages/campaigns/{CAMPAIGN}/review"
        app_id = re.findall(r'/review/([\w-]+)"', client.get(review).text)[0]
        form = re.findall(r'<form method="post" class="override-form".*?</form>',
                          client.get(f"{review}/{app_id}").text, re.S)[0]
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
        data = {**fields, "action": "override", "level": "2", "reason": "Clear example given"}
        assert client.post(f"{review}/{app_id}", data=data, follow_redirects=False).status_code == 303
        assert client.post(f"{review}/{app_id}", data=data).status_code == 409
        history = engine.store.score_history(app_id, fields["question_id"], fields["value_id"])
        assert [h["source"] for h in history] == ["scorer", "override"]
        pages.sign_in("equality_officer")
        assert client.get(f"/pages/campaigns/{CAMPAIGN}/equality").status_code == 200


def test_the_form_lock_is_held_across_connections(pg_url):
    from sqlalchemy import text

    from vbr.pages.web import PG_PAGES_LOCK, _pg_lock
    from vbr.store.db import connect

    engine = connect(pg_url)
    ns, k = PG_PAGES_LOCK
    with engine.connect() as other:  # another connection stands for another server process
        with _pg_lock(engine):
            assert other.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), {"ns": ns, "k": k}).scalar() is False
        assert other.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), {"ns": ns, "k": k}).scalar() is True
        other.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": ns, "k": k})


def test_pages_read_only_their_campaigns_log_entries_on_postgres(pg_url, monkeypatch):
    from fastapi.testclient import TestClient

    from tests.pages import test_log_index as idx
    from vbr.engine import Engine
    from vbr.server.app import Settings, create_app

    engine = Engine(pg_url, plugins=pages_plugins())
    seed(engine, n=12)
    clock = FakeClock()
    app = create_app(engine, settings=Settings(clock=clock))
    with TestClient(app) as client:
        pages = idx.add_other_campaign(Pages(client, engine, clock, app))
        idx.check_pages_read_only_their_campaigns_entries(pages, monkeypatch)
        idx.check_same_rows_as_the_full_scan(pages)
