"""Incremental log checks (``AuditLog.verify(after_seq, after_hash)``) on SQLite and PostgreSQL.

From a point an earlier check found good, only the entries after it are checked, once the row at
the point is confirmed unchanged: what the equality dashboard runs on every load after the first.
"""

from __future__ import annotations

import json

import pytest

import vbr.store.log as log_module
from vbr.store import Store
from vbr.store.log import GENESIS

from tests.store.test_backends import fill_log


def point(store: Store):
    full = store.log.verify()
    assert full.ok and full.after_seq == 0
    return full.last_seq, full.last_hash


def test_a_full_check_reports_where_it_ended(backend):
    store = Store(backend.main_url)
    empty = store.log.verify()
    assert empty.ok and empty.rows == 0 and (empty.last_seq, empty.last_hash) == (0, GENESIS)
    fill_log(store)
    v = store.log.verify()
    head = list(store.log.entries())[-1]
    assert (v.ok, v.rows, v.first_bad_seq, v.problem) == (True, 5, None, None)  # the fields as before
    assert (v.after_seq, v.last_seq, v.last_hash) == (0, 5, head.hash)


def test_appended_rows_pass_and_move_the_point(backend):
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    nothing_new = store.log.verify(seq, digest)
    assert nothing_new.ok and nothing_new.rows == 0 and (nothing_new.last_seq, nothing_new.last_hash) == (seq, digest)
    fill_log(store, 3)
    v = store.log.verify(seq, digest)
    head = list(store.log.entries())[-1]
    assert v.ok and v.rows == 3 and v.after_seq == 5 and (v.last_seq, v.last_hash) == (8, head.hash)
    assert store.log.verify(v.last_seq, v.last_hash).rows == 0


def test_only_the_new_rows_and_the_anchor_are_hashed(backend, monkeypatch):
    store = Store(backend.main_url)
    fill_log(store, 20)
    seq, digest = point(store)
    fill_log(store, 4)
    calls = []
    real = log_module._digest
    monkeypatch.setattr(log_module, "_digest", lambda *a: calls.append(a[0]) or real(*a))
    assert store.log.verify(seq, digest).ok
    assert calls == [20, 21, 22, 23, 24]  # the anchor, then the four new entries; none of the old ones


def test_a_changed_new_row_is_found(backend):
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    fill_log(store, 3)
    backend.tamper("UPDATE audit_log SET reason='nothing to see' WHERE seq=7")
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == 7 and "changed" in v.problem
    assert (v.last_seq, v.rows) == (6, 2)  # entry 6 was good; entries 6 and 7 were read


def test_a_relinked_new_row_is_found(backend):
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    fill_log(store, 2)
    backend.tamper("UPDATE audit_log SET prev_hash='" + "f" * 64 + "' WHERE seq=6")
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == 6 and "link" in v.problem


def test_a_changed_anchor_is_found(backend):
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    fill_log(store, 2)
    backend.tamper(f"UPDATE audit_log SET reason='nothing to see' WHERE seq={seq}")
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == seq and "changed" in v.problem and v.last_seq == 0


def test_a_rehashed_anchor_is_found(backend):
    """The anchor rewritten with a hash that matches its new content (and the next row relinked to
    it): the chain after it is consistent, but the row is not the one that was checked."""
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    fill_log(store, 1)
    row = list(store.log.entries(after=seq - 1, limit=1))[0]
    body = json.dumps(row.payload, sort_keys=True, separators=(",", ":"))
    forged = log_module._digest(row.seq, row.ts, row.actor, row.action, row.subject, "nothing to see", body,
                                row.prev_hash)
    backend.tamper(f"UPDATE audit_log SET reason = CASE WHEN seq={seq} THEN 'nothing to see' ELSE reason END,"
                   f" hash = CASE WHEN seq={seq} THEN '{forged}' ELSE hash END,"
                   f" prev_hash = CASE WHEN seq={seq + 1} THEN '{forged}' ELSE prev_hash END"
                   f" WHERE seq IN ({seq}, {seq + 1})")  # one statement: the helper lifts the guard once
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == seq and "checked" in v.problem


def test_a_deleted_anchor_is_found(backend):
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    fill_log(store, 2)
    backend.tamper(f"DELETE FROM audit_log WHERE seq={seq}")
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == seq and "missing" in v.problem


def test_a_log_cut_short_is_found(backend):
    """The full check cannot see entries cut off the end; from a point past the new end, the
    incremental check can."""
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    backend.tamper("DELETE FROM audit_log WHERE seq >= 4")
    assert store.log.verify().ok
    v = store.log.verify(seq, digest)
    assert not v.ok and v.first_bad_seq == seq and "missing" in v.problem


def test_an_old_row_is_left_to_the_full_check(backend):
    """What an incremental check does not claim: entries before the point are not re-read."""
    store = Store(backend.main_url)
    fill_log(store)
    seq, digest = point(store)
    backend.tamper("UPDATE audit_log SET reason='nothing to see' WHERE seq=2")
    assert store.log.verify(seq, digest).ok
    assert store.log.verify().first_bad_seq == 2


def test_a_point_needs_both_halves(backend):
    store = Store(backend.main_url)
    with pytest.raises(ValueError):
        store.log.verify(3)
    with pytest.raises(ValueError):
        store.log.verify(0, "a" * 64)
    with pytest.raises(ValueError):
        store.log.verify(-1, "a" * 64)
