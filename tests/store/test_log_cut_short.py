"""Entries deleted off the end of the audit log behind vbr's back (the chain that is left still
links up) leave their campaign-index rows behind; the next append then fails
with an error that says so and what to do, and writes nothing. On PostgreSQL the index's foreign
key refuses such a deletion outright (SQLite does not enforce foreign keys), which is checked too."""

from __future__ import annotations

import pytest

from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.errors import IntegrityError
from vbr.models import Application, Campaign, Score
from vbr.store import Store


def _store(backend) -> Store:
    store = Store(backend.main_url)
    store.add_campaign(Campaign(id="c1", title="c1", rubric_id="nhs-constitution", question_ids=("q1",)),
                       "nhs-constitution@1.0", actor="ats")
    store.add_applications([Application(id="a1", campaign_id="c1")], [("a1", "q1", "text", "text", None)])
    for i in range(3):
        store.log.append("recruiter@trust", "score.accepted", f"score:a1/q1/care#{i}",
                         payload={"campaign": "c1", "i": i}, campaign_id="c1")
    return store


def _cut(backend, where: str) -> bool:
    """Delete log entries behind vbr's back; False where the database refuses (PostgreSQL)."""
    if backend.name == "postgresql":
        with pytest.raises(SAIntegrityError, match="audit_log_campaigns_seq_fkey"):
            backend.tamper(f"DELETE FROM audit_log WHERE {where}")
        return False
    backend.tamper(f"DELETE FROM audit_log WHERE {where}")
    return True


def test_an_append_after_entries_were_cut_off_the_end_names_the_tampering(backend):
    store = _store(backend)
    last = max(e.seq for e in store.log.entries())
    if not _cut(backend, f"seq >= {last - 1}"):
        assert max(e.seq for e in store.log.entries()) == last  # refused: nothing was deleted
        return
    assert store.log.verify().ok  # what is left still links up: the chain alone cannot tell
    with pytest.raises(IntegrityError) as err:
        store.log.append("recruiter@trust", "score.accepted", "score:a1/q1/care", payload={"campaign": "c1"},
                         campaign_id="c1")
    assert f"the audit log ends at entry {last - 2} but its campaign index goes on to entry {last}" in str(err.value)
    assert "vbr log verify" in err.value.hint
    assert max(e.seq for e in store.log.entries()) == last - 2  # nothing was written


def test_a_write_in_a_transaction_fails_whole_with_the_same_error(backend):
    store = _store(backend)
    last = max(e.seq for e in store.log.entries())
    if not _cut(backend, f"seq = {last}"):
        assert max(e.seq for e in store.log.entries()) == last
        return
    score = Score(application_id="a1", question_id="q1", value_id="care", level=3, confidence=0.5,
                  scorer_id="evidence", scorer_version="1.0", rubric_ref="nhs-constitution@1.0")
    with pytest.raises(IntegrityError, match="entries were deleted from the end of the log"):
        store.add_scores([score], actor="vbr", campaign_id="c1")
    assert store.current_scores("c1") == []  # the scores went with the failed entry



def test_an_entry_about_no_campaign_is_refused_too(backend):
    """Otherwise it would take a deleted entry's seq, whose leftover index row would then tie
    it to a campaign it is not about."""
    store = _store(backend)
    last = max(e.seq for e in store.log.entries())
    if not _cut(backend, f"seq = {last}"):
        return
    with pytest.raises(IntegrityError, match=f"ends at entry {last - 1} but its campaign index goes on to entry {last}"):
        store.log.append("admin@trust", "key.created", "key:k1", payload={"role": "ats"})
    assert max(e.seq for e in store.log.entries()) == last - 1


def test_the_check_costs_no_extra_round_trip(backend):
    """The head of the log and the end of its index are read in one statement (one snapshot:
    read one after the other, an entry another writer committed in between looked like a cut,
    which is how CI's eight-thread append test once failed)."""
    from sqlalchemy import event

    store = _store(backend)
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if "audit_log" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        store.log.append("admin@trust", "key.created", "key:k1", payload={"role": "ats"})
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    heads = [s for s in seen if "audit_log_campaigns" in s]
    assert len(heads) == 1 and "FROM audit_log " in heads[0]
