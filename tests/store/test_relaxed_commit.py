"""Records whose last commits may be lost in an OS crash (idempotency records) are written on
PostgreSQL sessions with synchronous_commit off; the store's own sessions keep their setting.
Uses the store tests' fresh PostgreSQL schema (skipped without ``VBR_TEST_PG_URL``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.engine import make_url

from vbr.server.idempotency import IdempotencyStore
from vbr.server.migrations import SERVER
from vbr.store import Store, db


def test_idempotency_records_do_not_wait_for_the_disk_but_the_store_does(pg_backend):
    # the store's sessions ask for synchronous_commit on (the test cluster's default is off)
    url = make_url(pg_backend.main_url).update_query_dict(
        {"options": f"-csearch_path={pg_backend.schema} -csynchronous_commit=on"}).render_as_string(hide_password=False)
    try:
        store = Store(url)
        db.migrate(store.engine, SERVER)
        relaxed = db.relaxed_commit_engine(store.engine)
        assert relaxed is not store.engine and db.relaxed_commit_engine(store.engine) is relaxed
        with store.engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        with relaxed.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
            assert conn.execute(text("SHOW search_path")).scalar_one() == pg_backend.schema  # same place
        idem = IdempotencyStore(relaxed, ttl=dt.timedelta(hours=24), clock=lambda: dt.datetime.now(dt.timezone.utc))
        assert idem.claim("t1", "k1", "POST", "/v1/x", "d1") is None
        idem.finish("t1", "k1", 201, {"ok": True})
        assert idem.claim("t1", "k1", "POST", "/v1/x", "d1") == (201, {"ok": True})
        store.engine.dispose()  # the relaxed engine goes with it
        assert id(store.engine) not in db._RELAXED
    finally:
        engine = db._ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()


def test_elsewhere_it_is_the_engine_itself(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'vbr.sqlite'}")
    assert db.relaxed_commit_engine(store.engine) is store.engine
