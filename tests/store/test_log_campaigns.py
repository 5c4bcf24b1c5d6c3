"""The audit log's campaign index (``audit_log_campaigns``): filled with each entry, in the same
transaction, for every kind of entry the pages show; back-filled when an existing database is
upgraded; outside the hash chain. Every test runs on SQLite and on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from vbr.models import Application, Campaign, Decision, Score, ShortlistDecision
from vbr.store import Store
from vbr.store.db import connect, migrate, now
from vbr.store.log import GENESIS, _digest
from vbr.store.migrations import DIALECT_WORDS, ENTRY_CAMPAIGNS, MAIN

OLD_APPEND_ONLY = ("audit_log", "scores", "human_ratings", "answer_flags")  # as at migration 2


def score(app: str, q: str = "q1", v: str = "care", level: int = 3) -> Score:
    return Score(application_id=app, question_id=q, value_id=v, level=level, confidence=0.5,
                 scorer_id="evidence", scorer_version="1.0", rubric_ref="nhs-constitution@1.0")


def index(store: Store) -> dict[int, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT seq, campaign_id FROM audit_log_campaigns ORDER BY seq")).all())


def derived(store: Store) -> dict[int, str]:
    """What the migration's back-fill finds for every entry now in the log."""
    words = DIALECT_WORDS[store.engine.dialect.name]
    with store.engine.connect() as conn:
        rows = conn.execute(text(ENTRY_CAMPAIGNS.format(**words))).all()
    return {seq: c for seq, c in rows if c is not None}


def by_action(store: Store) -> dict[tuple[str, str], int]:
    return {(e.action, e.subject): e.seq for e in store.log.entries()}


def two_campaigns(store: Store) -> None:
    """Campaigns c1 and c2 with every kind of entry the review page and the dashboard show."""
    for c in ("c1", "c2"):
        store.add_campaign(Campaign(id=c, title="t", rubric_id="r"), "r@1", actor="ats")
        store.add_applications([Application(id=f"{c}-a1", campaign_id=c), Application(id=f"{c}/a2", campaign_id=c)])
        store.add_scores([score(f"{c}-a1"), score(f"{c}/a2")], actor="scorer", campaign_id=c)
        store.override_score(f"{c}/a2", "q1", "care", 1, actor="recruiter", reason="no example given")
        row = store.current_scores(c)[0]
        # as the review page accepts a score (it passes the campaign), and as a caller that does not
        store.log.append("recruiter", "score.accepted", f"score:{c}-a1/q1/care",
                         payload={"campaign": c, "score_id": row["id"], "at": now()}, campaign_id=c)
        store.log.append("recruiter", "score.accepted", f"score:{c}/a2/q1/care",
                         payload={"campaign": c, "score_id": row["id"] + 1, "at": now()})
        sid = store.add_shortlist(c, [f"{c}-a1"], stage="interview", actor="ats")
        store.record_decision(sid, ShortlistDecision(campaign_id=c, decision=Decision.REVIEW,
                                                     reasons=("small group",), regime="ugesp"), actor="gate")
        store.record_decision(sid, ShortlistDecision(campaign_id=c, decision=Decision.REVIEW, reasons=("small",),
                                                     regime="ugesp", released=True, released_by="officer",
                                                     justification="j" * 40), actor="officer")
        store.log.append("vbr.gate", "gate.hook_failed", f"shortlist:{sid}", payload={"error": "x"})
        store.log.append("officer", "pages.refused", f"campaign:{c}", reason="not yours", payload={"page": "p"},
                         campaign_id=c)
        store.log.append("officer", "pages.summary_exported", f"shortlist:{sid}", payload={"campaign": c},
                         campaign_id=c)
    # entries about no campaign
    store.log.append("cli", "key.created", "key:k1", payload={"role": "ats"})
    store.add_scores([score("c1-a1", v="respect")], actor="scorer")  # subject 'scores'
    store.log.append("x", "test", "shortlist:01")  # not how vbr writes shortlist 1
    store.log.append("x", "test", "shortlist:999")  # no such shortlist
    store.log.append("x", "test", "score:nobody/q1/care")  # no such application
    store.log.append("x", "test", "score:c1-a1")  # not a score subject
    # about a campaign only through the payload
    store.log.append("ats", "greenhouse.test_sent", "application:c2-a1", payload={"campaign": "c2"})


def test_each_kind_of_entry_the_pages_show_is_indexed_by_its_campaign(backend):
    store = Store(backend.main_url)
    two_campaigns(store)
    seqs = by_action(store)
    idx = index(store)
    for c in ("c1", "c2"):
        sid = store.shortlists(c)[0]["id"]
        for key in [("campaign.created", f"campaign:{c}"), ("scores.added", f"campaign:{c}"),
                    ("score.overridden", f"score:{c}/a2/q1/care"), ("score.accepted", f"score:{c}-a1/q1/care"),
                    ("score.accepted", f"score:{c}/a2/q1/care"), ("shortlist.proposed", f"shortlist:{sid}"),
                    ("shortlist.review", f"shortlist:{sid}"), ("shortlist.released", f"shortlist:{sid}"),
                    ("gate.hook_failed", f"shortlist:{sid}"), ("pages.refused", f"campaign:{c}"),
                    ("pages.summary_exported", f"shortlist:{sid}")]:
            assert idx.get(seqs[key]) == c, key
    assert idx[seqs[("greenhouse.test_sent", "application:c2-a1")]] == "c2"
    for key in [("key.created", "key:k1"), ("scores.added", "scores"), ("test", "shortlist:01"),
                ("test", "shortlist:999"), ("test", "score:nobody/q1/care"), ("test", "score:c1-a1")]:
        assert seqs[key] not in idx, key
    # what each append wrote is what the back-fill of an existing database finds for the same entries
    assert idx == derived(store)
    assert store.log.verify().ok


def test_entries_of_a_campaign(backend):
    store = Store(backend.main_url)
    two_campaigns(store)
    idx = index(store)
    everything = list(store.log.entries())
    for c in ("c1", "c2"):
        mine = [e for e in everything if idx.get(e.seq) == c]
        assert list(store.log.entries(campaign_id=c)) == mine
        assert list(store.log.entries(campaign_id=c, newest_first=True)) == mine[::-1]
        assert list(store.log.entries(campaign_id=c, action="score.accepted")) == \
            [e for e in mine if e.action == "score.accepted"]
        middle = mine[3].seq
        assert list(store.log.entries(campaign_id=c, before=middle, newest_first=True, limit=2)) == \
            [mine[2], mine[1]]
        assert list(store.log.entries(campaign_id=c, after=middle, limit=2)) == mine[4:6]
    assert list(store.log.entries(campaign_id="nobody")) == []
    assert [e.seq for e in store.log.entries(newest_first=True, limit=2)] == [everything[-1].seq, everything[-2].seq]


def test_an_index_row_is_written_in_the_entrys_transaction(backend):
    store = Store(backend.main_url)
    store.add_campaign(Campaign(id="c1", title="t", rubric_id="r"), "r@1", actor="ats")
    with pytest.raises(RuntimeError):
        with store.engine.begin() as conn:
            store.log.append("a", "b", "campaign:c1", conn=conn)
            raise RuntimeError("caller fails after logging")
    assert list(index(store).values()) == ["c1"]  # only campaign.created
    store.log.append("a", "b", "campaign:c1")
    assert list(index(store).items()) == [(1, "c1"), (2, "c1")] and store.log.verify().ok


# ---------------------------------------------------------------------------------- upgrading


def old_append(conn, actor: str, action: str, subject: str, reason: str | None = None,
               payload: dict | None = None) -> int:
    """An entry as vbr wrote it before migration 3 (no index row)."""
    body = json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), default=str)
    head = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    ts = now()
    conn.execute(text("INSERT INTO audit_log (seq, ts, actor, action, subject, reason, payload, prev_hash, hash) "
                      "VALUES (:seq, :ts, :actor, :action, :subject, :reason, :payload, :prev, :hash)"),
                 {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject, "reason": reason,
                  "payload": body, "prev": prev, "hash": _digest(seq, ts, actor, action, subject, reason, body, prev)})
    return seq


def version_2_database(url: str) -> dict[str, str | None]:
    """A database at migration 2, with entries of every kind; seq -> the campaign it is about."""
    engine = connect(url)
    assert migrate(engine, [m for m in MAIN if m[0] <= 2], OLD_APPEND_ONLY) == [1, 2]
    expected: dict[int, str | None] = {}
    with engine.begin() as conn:
        for c in ("c1", "c2"):
            conn.execute(text("INSERT INTO campaigns (id, title, rubric_id, rubric_ref, question_ids, created_at)"
                              " VALUES (:c, 't', 'r', 'r@1', '[]', :ts)"), {"c": c, "ts": now()})
            for a in (f"{c}-a1", f"{c}/a2"):
                conn.execute(text("INSERT INTO applications (id, campaign_id, created_at) VALUES (:a, :c, :ts)"),
                             {"a": a, "c": c, "ts": now()})
            sid = conn.execute(text("INSERT INTO shortlists (campaign_id, stage, application_ids, created_by,"
                                    " created_at) VALUES (:c, 's', '[]', 'ats', :ts) RETURNING id"),
                               {"c": c, "ts": now()}).scalar_one()
            expected[old_append(conn, "ats", "campaign.created", f"campaign:{c}", payload={"title": "Zoë"})] = c
            expected[old_append(conn, "scorer", "scores.added", f"campaign:{c}", payload={"n": 2})] = c
            expected[old_append(conn, "r", "score.overridden", f"score:{c}/a2/q1/care", reason="because",
                                payload={"from": 3, "to": 1})] = c
            expected[old_append(conn, "r", "score.accepted", f"score:{c}-a1/q1/care",
                                payload={"campaign": c, "score_id": 1, "at": now()})] = c
            expected[old_append(conn, "ats", "shortlist.proposed", f"shortlist:{sid}",
                                payload={"campaign": c, "n": 0})] = c
            expected[old_append(conn, "gate", "shortlist.review", f"shortlist:{sid}",
                                payload={"campaign": c, "figures": {"ratio": float("nan")}})] = c
            expected[old_append(conn, "eo", "pages.refused", f"campaign:{c}", payload={"page": "p"})] = c
        expected[old_append(conn, "cli", "key.created", "key:k1")] = None
        expected[old_append(conn, "scorer", "scores.added", "scores")] = None
        expected[old_append(conn, "x", "test", "shortlist:01")] = None
        expected[old_append(conn, "x", "test", "score:nobody/q1/care")] = None
        expected[old_append(conn, "x", "test", "score:gone/q1/care", payload={"campaign": "c1"})] = "c1"
        expected[old_append(conn, "x", "test", "thread:1", payload={"campaign": 7})] = None
        expected[old_append(conn, "x", "test", "thread:2", payload={"campaign": ""})] = None
        expected[old_append(conn, "x", "test", "thread:3", payload={"nested": {"campaign": "c1"}})] = None
    return expected


def test_an_upgraded_database_is_back_filled_and_still_verifies(backend):
    from typer.testing import CliRunner

    from vbr.cli import _register_all, app

    expected = version_2_database(backend.main_url)
    store = Store(backend.main_url)  # applies migration 3 and every later one
    with store.engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT version FROM schema_migrations"))) == \
            [m[0] for m in MAIN]
    assert index(store) == {seq: c for seq, c in expected.items() if c is not None}
    assert store.log.verify().ok and store.log.verify().rows == len(expected)
    _register_all()
    result = CliRunner().invoke(app, ["log", "verify", "--db", backend.main_url])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output
    # the chain goes on from the old entries, and new entries are indexed
    entry = store.log.append("ats", "campaign.created", "campaign:c3")
    assert entry.seq == len(expected) + 1 and index(store)[entry.seq] == "c3" and store.log.verify().ok
    with pytest.raises(Exception, match="append-only"):  # the index is guarded like the log
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log_campaigns SET campaign_id = 'c2'"))


def test_a_tampered_old_entry_is_still_caught_after_the_upgrade(backend):
    version_2_database(backend.main_url)
    backend.tamper("UPDATE audit_log SET reason='nothing to see' WHERE seq=3")
    store = Store(backend.main_url)
    result = store.log.verify()
    assert not result.ok and result.first_bad_seq == 3
