"""The store, its migrations, the audit log and the equality store on SQLite and PostgreSQL.

Every test here runs on both backends (PostgreSQL only when ``VBR_TEST_PG_URL`` is set; see
conftest.py).
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from vbr.errors import NotFound
from vbr.fairness.equality import MIGRATIONS as EQUALITY_MIGRATIONS, EqualityRecord, EqualityStore
from vbr.models import Application, Campaign, Decision, Score, ShortlistDecision
from vbr.store import Store
from vbr.store.db import migrate
from vbr.store.migrations import APPEND_ONLY, MAIN

MAIN_TABLES = {"schema_migrations", "campaigns", "applications", "responses", "scores", "human_ratings",
               "shortlists", "gate_decisions", "audit_log", "answer_flags", "audit_log_campaigns"}


def tables(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        else:
            rows = conn.execute(text("SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = current_schema()"))
        return {r[0] for r in rows} - {"sqlite_sequence"}


def fill_log(store: Store, n: int = 5) -> None:
    for i in range(n):
        store.log.append("officer@trust", "shortlist.released", f"shortlist:{i}", reason=f"reason {i}",
                         payload={"i": i, "name": "Zoë"})


def score(app: str, q: str = "q1", v: str = "care", level: int = 3, conf: float = 0.123456789012345) -> Score:
    return Score(application_id=app, question_id=q, value_id=v, level=level, confidence=conf,
                 scorer_id="evidence", scorer_version="1.0", rubric_ref="nhs-constitution@1.0")


# ---------------------------------------------------------------------------------- migrations
def test_migrations_create_the_schema_once(backend):
    store = Store(backend.main_url)
    assert store.engine.dialect.name == backend.name
    assert tables(store.engine) == MAIN_TABLES
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT version FROM schema_migrations ORDER BY version"))] == \
            [version for version, _, _ in MAIN]
    assert migrate(store.engine, MAIN, APPEND_ONLY) == []  # re-opening applies nothing
    Store(backend.main_url)  # and a second Store on the same database is fine
    eq = EqualityStore(backend.equality_url)
    assert tables(eq.engine) == {"schema_migrations", "equality_records", "equality_imports", "equality_reads"}
    assert migrate(eq.engine, EQUALITY_MIGRATIONS) == []


def test_concurrent_first_opens_migrate_once(backend):
    """Several processes/threads opening a new database at once (e.g. server workers)."""
    errors: list[BaseException] = []

    def open_it():
        try:
            Store(backend.main_url)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(backend.main_url).engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM schema_migrations")).scalar_one() == len(MAIN)


def test_round_trip_values_and_generated_ids(backend):
    store = Store(backend.main_url)
    store.add_campaign(Campaign(id="c1", title="Staff nurse", rubric_id="nhs-constitution"),
                       "nhs-constitution@1.0", actor="recruiter")
    store.add_applications([Application(id="a1", campaign_id="c1", disability_confident=True),
                            Application(id="a2", campaign_id="c1")],
                           [("a1", "q1", "I cared", "I cared", None), ("a2", "q1", None, None, {"rank": [2, 1]})])
    store.add_scores([score("a1"), score("a2", level=1)], actor="scorer", campaign_id="c1")
    assert store.campaign("c1")["question_ids"] == []
    assert [a["disability_confident"] for a in store.applications("c1")] == [1, 0]
    current = store.current_scores("c1")
    assert [c["level"] for c in current] == [3, 1]
    assert current[0]["confidence"] == 0.123456789012345  # an 8-byte float on both backends
    assert current[0]["score"].confidence == 0.123456789012345

    first = store.override_score("a2", "q1", "care", 2, actor="recruiter", reason="clear evidence of care")
    second = store.override_score("a2", "q1", "care", 4, actor="recruiter", reason="second look at the answer")
    assert second > first
    history = store.score_history("a2", "q1", "care")
    assert [h["id"] for h in history][-2:] == [first, second]
    assert history[-1]["supersedes"] == first
    assert [c["level"] for c in store.current_scores("c1")] == [3, 4]

    s1 = store.add_shortlist("c1", ["a1"], stage="shortlist", actor="recruiter")
    s2 = store.add_shortlist("c1", ["a1", "a2"], stage="interview", actor="recruiter")
    assert s2 == s1 + 1 and store.shortlist(s2)["application_ids"] == ["a1", "a2"]
    d1 = store.record_decision(s1, ShortlistDecision(campaign_id="c1", decision=Decision.REVIEW,
                                                     reasons=("small group",), regime="ugesp"), actor="gate")
    d2 = store.record_decision(s1, ShortlistDecision(campaign_id="c1", decision=Decision.REVIEW,
                                                     reasons=("small group",), regime="ugesp", released=True,
                                                     released_by="officer", justification="j" * 40),
                               actor="officer")
    assert d2 == d1 + 1
    assert [(d["id"], d["released"]) for d in store.decisions(s1)] == [(d1, 0), (d2, 1)]
    assert store.log.verify().ok


def test_one_application_with_its_answers_is_stored_whole_or_not_at_all(backend):
    """One application and its answers (what an HTTP submission stores; on PostgreSQL a single
    statement): stored with every field, and a failure on any answer or a duplicate id stores
    nothing of that application."""
    from sqlalchemy.exc import IntegrityError

    store = Store(backend.main_url)
    store.add_campaign(Campaign(id="c1", title="Staff nurse", rubric_id="nhs-constitution"),
                       "nhs-constitution@1.0", actor="recruiter")
    answers = [("a1", f"q{j}", f"text {j}", f"redacted {j}", {"rank": [j, 1]} if j % 2 else None) for j in range(7)]
    statements: list[str] = []
    seen = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert store.add_applications([Application(id="a1", campaign_id="c1", reference="R1",
                                                    disability_confident=True)],
                                      answers, received_at="2026-03-02T09:00:00+00:00") == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    if store.engine.dialect.name == "postgresql":  # one INSERT statement (in autocommit), not two
        assert len(statements) == 1 and statements[0].startswith("WITH app AS (INSERT INTO applications")
    (app,) = store.applications("c1")
    assert (app["id"], app["reference"], app["disability_confident"], app["created_at"]) == \
        ("a1", "R1", 1, "2026-03-02T09:00:00+00:00")
    got = [(r["application_id"], r["question_id"], r["original_text"], r["redacted_text"],
            json.loads(r["structured"]) if r["structured"] else None, r["received_at"]) for r in store.responses("c1")]
    assert got == [(*a, "2026-03-02T09:00:00+00:00") for a in answers]

    with pytest.raises(IntegrityError):  # the second answer to q1 breaks the answers' key: no a2 at all
        store.add_applications([Application(id="a2", campaign_id="c1")],
                               [("a2", "q1", "x", "x", None), ("a2", "q1", "y", "y", None)])
    with pytest.raises(IntegrityError):  # a1 again: nothing of this submission is stored
        store.add_applications([Application(id="a1", campaign_id="c1")], [("a1", "q9", "z", "z", None)])
    assert [a["id"] for a in store.applications("c1")] == ["a1"]
    assert [r["question_id"] for r in store.responses("c1")] == [f"q{j}" for j in range(7)]
    assert store.add_applications([Application(id="a3", campaign_id="c1")], []) == 1  # no answers at all
    assert [a["id"] for a in store.applications("c1")] == ["a1", "a3"]


def test_campaign_rows_are_read_once_and_handed_out_as_copies(backend):
    """Campaigns never change once written, so the store keeps a row it has read; callers get
    copies, and an id not found is looked up again (another process may create it)."""
    store = Store(backend.main_url)
    with pytest.raises(NotFound):
        store.campaign("c1")
    Store(backend.main_url).add_campaign(Campaign(id="c1", title="Staff nurse", rubric_id="nhs-constitution",
                                                  question_ids=("q1", "q2")),
                                         "nhs-constitution@1.0", actor="recruiter", tenant="t1")
    first = store.campaign("c1")
    assert (first["title"], first["tenant"], first["question_ids"]) == ("Staff nurse", "t1", ["q1", "q2"])
    first["question_ids"].append("q3")
    first["tenant"] = "t2"
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        again = store.campaign("c1")
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "campaigns" in s]  # not read again ...
    assert again["question_ids"] == ["q1", "q2"] and again["tenant"] == "t1"  # ... and callers cannot change it
    assert again == Store(backend.main_url).campaign("c1")


# ---------------------------------------------------------------------------------- append-only
@pytest.mark.parametrize("table", APPEND_ONLY)
def test_database_refuses_update_and_delete(backend, table):
    store = Store(backend.main_url)
    store.add_campaign(Campaign(id="c1", title="t", rubric_id="r"), "r@1", actor="recruiter")
    store.add_applications([Application(id="a1", campaign_id="c1")])
    store.add_scores([score("a1")], actor="scorer")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO human_ratings (application_id, question_id, value_id, rater, level,"
                          " created_at) VALUES ('a1', 'q1', 'care', 'r1', 2, 'now')"))
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO answer_flags (application_id, question_id, flags, scorer_id, scorer_version,"
                          " created_by, created_at) VALUES ('a1', 'q2', '[]', 'evidence', '1', 'scorer', 'now')"))
    column = {"scores": "created_by", "audit_log": "actor", "human_ratings": "rater", "answer_flags": "created_by",
              "audit_log_campaigns": "campaign_id"}
    for sql in (f"UPDATE {table} SET {column[table]} = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            with store.engine.begin() as conn:
                conn.execute(text(sql))
    with store.engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() >= 1


def test_equality_reads_and_imports_are_append_only(backend):
    eq = EqualityStore(backend.equality_url)
    eq.import_records([EqualityRecord(application_id="a1", ethnic_code="A")], actor="officer")
    eq.records_for(["a1"])
    for table in ("equality_imports", "equality_reads"):
        with pytest.raises(DBAPIError, match="append-only"):
            with eq.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))
    with eq.engine.begin() as conn:  # the records themselves may be corrected (upsert)
        conn.execute(text("UPDATE equality_records SET sex = 'F'"))


def test_reopening_rearms_a_disabled_guard(backend):
    store = Store(backend.main_url)
    fill_log(store, 1)
    if backend.name == "sqlite":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    Store(backend.main_url)  # migrate() runs the guards again
    with pytest.raises(DBAPIError, match="append-only"):
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log")


# ---------------------------------------------------------------------------------- hash chain
def test_chain_verifies_and_links(backend):
    store = Store(backend.main_url)
    fill_log(store)
    entries = list(store.log.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert entries[2].payload == {"i": 2, "name": "Zoë"}
    assert [e.seq for e in store.log.entries(subject="shortlist:3")] == [4]
    assert [e.seq for e in store.log.entries(after=2, limit=2)] == [3, 4]
    assert store.log.verify().ok and store.log.verify().rows == 5


def test_same_entries_hash_the_same_on_both_backends(backend, tmp_path):
    """The hash format does not depend on the backend: copying the rows elsewhere still verifies."""
    store = Store(backend.main_url)
    fill_log(store)
    other = Store(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    cols = "seq, ts, actor, action, subject, reason, payload, prev_hash, hash"
    with store.engine.connect() as src, other.engine.begin() as dst:
        rows = [dict(r) for r in src.execute(text(f"SELECT {cols} FROM audit_log ORDER BY seq")).mappings()]
        dst.execute(text(f"INSERT INTO audit_log ({cols}) VALUES (:seq, :ts, :actor, :action, :subject,"
                         " :reason, :payload, :prev_hash, :hash)"), rows)
    assert other.log.verify().ok and other.log.verify().rows == 5


def test_edited_row_is_detected(backend):
    store = Store(backend.main_url)
    fill_log(store)
    backend.tamper("UPDATE audit_log SET reason='nothing to see' WHERE seq=3")
    result = store.log.verify()
    assert not result.ok and result.first_bad_seq == 3 and "changed" in result.problem


def test_deleted_row_is_detected(backend):
    store = Store(backend.main_url)
    fill_log(store)
    backend.tamper("DELETE FROM audit_log WHERE seq=2")
    result = store.log.verify()
    assert not result.ok and result.first_bad_seq == 3 and "missing" in result.problem


def test_relinked_row_is_detected(backend):
    store = Store(backend.main_url)
    fill_log(store)
    backend.tamper("UPDATE audit_log SET prev_hash='" + "f" * 64 + "' WHERE seq=4")
    result = store.log.verify()
    assert not result.ok and result.first_bad_seq == 4 and "link" in result.problem


def test_concurrent_appends_make_one_unbroken_chain(backend):
    """Writers in threads, some appending on their own and some inside a store transaction."""
    store = Store(backend.main_url)
    n_threads, per_thread = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def writer(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                if i % 5 == 4:  # a log entry written in the caller's transaction
                    store.add_campaign(Campaign(id=f"c-{t}-{i}", title="t", rubric_id="r"), "r@1",
                                       actor=f"writer-{t}")
                else:
                    store.log.append(f"writer-{t}", "test.append", f"thread:{t}", payload={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = list(store.log.entries())
    assert [e.seq for e in entries] == list(range(1, n_threads * per_thread + 1))
    assert len(store.campaigns()) == n_threads * (per_thread // 5)
    result = store.log.verify()
    assert result.ok and result.rows == n_threads * per_thread
    for t in range(n_threads):  # each writer's own entries are in the order it wrote them
        mine = [e.payload["i"] for e in entries if e.subject == f"thread:{t}"]
        assert mine == sorted(mine)


def test_a_rolled_back_transaction_leaves_no_entry(backend):
    store = Store(backend.main_url)
    fill_log(store, 2)
    with pytest.raises(RuntimeError):
        with store.engine.begin() as conn:
            store.log.append("a", "b", "c", conn=conn)
            raise RuntimeError("caller fails after logging")
    fill_log(store, 1)
    assert [e.seq for e in store.log.entries()] == [1, 2, 3] and store.log.verify().ok


# ---------------------------------------------------------------------------------- equality store
def test_equality_store(backend):
    eq = EqualityStore(backend.equality_url)
    assert eq.engine.dialect.name == backend.name
    r1 = eq.import_records([EqualityRecord(application_id="a1", ethnic_code="A", sex="F", disability="Y"),
                            EqualityRecord(application_id="a2", ethnic_code="n")], actor="officer")
    r2 = eq.import_records([EqualityRecord(application_id="a1", ethnic_code="Z"),
                            EqualityRecord(application_id="a3", ethnic_code="99")],
                           actor="officer", columns=set())
    assert (r1.inserted, r1.updated, r2.inserted, r2.updated) == (2, 0, 1, 1)
    assert r2.import_id == r1.import_id + 1
    assert [i["id"] for i in eq.imports()] == [r1.import_id, r2.import_id]
    got = eq.records_for(["a1", "a2", "a3", "missing", "a1"])
    assert set(got) == {"a1", "a2", "a3"}
    assert (got["a1"].ethnic_code, got["a1"].sex, got["a1"].disability) == ("Z", "F", "Y")
    assert got["a2"].ethnic_code == "N" and eq.count() == 3
    with eq.engine.connect() as conn:
        reads = conn.execute(text("SELECT requested, found FROM equality_reads")).all()
    assert [tuple(r) for r in reads] == [(4, 3)]
    with pytest.raises(Exception):
        eq.import_records([EqualityRecord(application_id="a9", ethnic_code="A"),
                           EqualityRecord(application_id="a9", ethnic_code="B")], actor="officer")
    assert eq.count() == 3  # nothing half-written


def test_equality_store_beside_the_main_store(backend, monkeypatch):
    monkeypatch.delenv("VBR_EQUALITY_DB", raising=False)
    store = Store(backend.main_url)
    eq = EqualityStore.beside(backend.main_url)
    assert eq.url == backend.equality_url
    assert "equality_records" in tables(eq.engine) and "equality_records" not in tables(store.engine)
    assert "audit_log" not in tables(eq.engine)


def test_an_older_vbr_refuses_a_database_a_newer_one_upgraded(backend):
    from vbr.errors import IntegrityError

    Store(backend.main_url).engine.dispose()
    newest = max(m[0] for m in MAIN)
    store = Store(backend.main_url)
    with store.engine.begin() as conn:  # other parts' migrations share the table, in blocks of their own
        conn.execute(text("INSERT INTO schema_migrations (version, name, applied_at) VALUES (250, 'webhooks', "
                          "'2030-01-01')"))
    Store(backend.main_url).engine.dispose()
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, 'from the future', "
                          "'2030-01-01')"), {"v": newest + 1})
    store.engine.dispose()
    with pytest.raises(IntegrityError, match=rf"upgraded by a newer vbr \(schema {newest + 1}; this vbr knows up "
                                             rf"to {newest}\)") as e:
        Store(backend.main_url)
    assert "upgrade vbr on this machine" in e.value.hint and e.value.file  # the database, named
    assert ":vbr@" not in e.value.file  # without its password
