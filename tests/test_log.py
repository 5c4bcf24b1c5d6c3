"""The hash-chained audit log detects edited and deleted rows."""

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError

from vbr.store import open_store


@pytest.fixture
def store(tmp_path):
    return open_store(f"sqlite:///{tmp_path / 'log.sqlite'}")


def _fill(store, n=5):
    for i in range(n):
        store.log.append("officer@trust", "shortlist.released", f"shortlist:{i}", reason=f"reason {i}",
                         payload={"i": i})


def test_chain_verifies_and_links(store):
    _fill(store)
    entries = list(store.log.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert store.log.verify().ok


def test_database_refuses_update_and_delete(store):
    _fill(store, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE audit_log SET reason='x' WHERE seq=1")
    with pytest.raises(DBAPIError, match="append-only"):
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log WHERE seq=1")


def _tamper(path, sql):
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("DROP TRIGGER audit_log_no_delete")
    con.execute(sql)
    con.commit()
    con.close()


def test_edited_row_is_detected(store, tmp_path):
    _fill(store)
    _tamper(tmp_path / "log.sqlite", "UPDATE audit_log SET reason='nothing to see' WHERE seq=3")
    result = store.log.verify()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "changed" in result.problem


def test_deleted_row_is_detected(store, tmp_path):
    _fill(store)
    _tamper(tmp_path / "log.sqlite", "DELETE FROM audit_log WHERE seq=2")
    result = store.log.verify()
    assert not result.ok and result.first_bad_seq == 3 and "missing" in result.problem


def test_log_needs_an_actor(store):
    with pytest.raises(ValueError, match="actor"):
        store.log.append(" ", "x", "y")
