"""Pages read in SQL: a campaign's applications by id (``Store.applications(limit=, offset=)``),
and migration 4's indexes, which let the database read those pages and a tenant's campaigns in
order instead of sorting every row first. Runs on SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from vbr.models import Application, Campaign
from vbr.store import Store


def _campaign(store: Store, cid: str, tenant: str = "t1") -> None:
    store.add_campaign(Campaign(id=cid, title="t", rubric_id="r",
                                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)), "r@1", actor="ats",
                       tenant=tenant)


def test_applications_page_by_id_in_sql(store):
    _campaign(store, "c1")
    _campaign(store, "c2")
    ids = [f"a{i:03d}" for i in (5, 1, 9, 3, 7, 2, 8)]  # stored out of order
    store.add_applications([Application(id=i, campaign_id="c1") for i in ids])
    store.add_applications([Application(id=f"b{i}", campaign_id="c2") for i in range(4)])
    want = sorted(ids)
    assert [a["id"] for a in store.applications("c1")] == want
    for limit in (1, 3, 7, 10):
        got = []
        for offset in range(0, 12, limit):
            got += [a["id"] for a in store.applications("c1", limit=limit, offset=offset)]
        assert got == want, limit
    assert store.applications("c1", limit=3, offset=6) == store.applications("c1")[6:]
    assert store.applications("c1", limit=3, offset=7) == []
    assert store.applications("c1", limit=0) == []
    assert {a["campaign_id"] for a in store.applications("c2", limit=10)} == {"c2"}
    assert store.applications("nobody", limit=5) == []
    with pytest.raises(ValueError, match="offset needs a limit"):
        store.applications("c1", offset=2)


def _indexes(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
        return {r[0]: r[1] for r in rows}


def test_migration_4_indexes_the_paged_orders(store):
    idx = _indexes(store)
    assert "(tenant, created_at, id)" in idx["campaigns_tenant_created"].replace('"', "")
    assert "(campaign_id, id)" in idx["applications_campaign_id"].replace('"', "")
    assert "applications_campaign" not in idx  # the new index starts with its column


@pytest.mark.parametrize("sql", [
    "SELECT * FROM applications WHERE campaign_id = 'c1' ORDER BY id LIMIT 25 OFFSET 50",
    "SELECT * FROM campaigns WHERE tenant = 't1' ORDER BY created_at DESC, id DESC LIMIT 25",
    "SELECT * FROM campaigns WHERE tenant = 't1' ORDER BY created_at, id LIMIT 25",
])
def test_sqlite_reads_the_pages_in_index_order_without_sorting(tmp_path, sql):
    store = Store(f"sqlite:///{tmp_path / 'vbr.db'}")
    with store.engine.connect() as conn:
        plan = " | ".join(r[-1] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    store.engine.dispose()
    assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
