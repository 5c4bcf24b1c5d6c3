"""Entries deleted off the end of the audit log behind vbr's back (the chain that is left still
links up) leave their campaign-index rows behind; the next append about a campaign then fails
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


def test_a_writer_committing_while_the_check_reads_is_not_a_cut(backend):
    """The check behind the error above runs after any failed append, often while other writers
    are committing (CI saw one such false alarm under eight threads). Here an entry about a
    campaign, with its index row, is committed from another connection straight after the check's
    first statement: the check must still see an intact log."""
    from sqlalchemy import event

    store = _store(backend)
    other = Store(backend.main_url)
    fired: list[str] = []

    def commit_between(conn, cursor, statement, parameters, context, executemany):
        if not fired and "MAX(seq)" in statement:
            fired.append(statement)
            other.log.append("recruiter@trust", "score.accepted", "score:a1/q1/care#x",
                             payload={"campaign": "c1"}, campaign_id="c1")

    event.listen(store.engine, "after_cursor_execute", commit_between)
    try:
        assert store.log._cut_short() is None
    finally:
        event.remove(store.engine, "after_cursor_execute", commit_between)
    assert fired  # the other writer did commit during the check
    assert store.log._cut_short() is None
