"""``Store.review_counts`` (the campaigns page's review progress, counted in SQL) against the pages'
own rule in Python (``vbr.pages.review.progress`` over ``accepted_rows`` and ``score_states``), and
``Store.campaigns`` / ``campaign_count`` filtering and paging in SQL. Every test runs on SQLite
and on PostgreSQL (see conftest.py).

A score row is reviewed when it is a person's override or its id is the ``score_id`` of a
``score.accepted`` entry of the campaign (read through the log's campaign index, payload
``campaign`` equal to the campaign). Accepts of rows that are no longer current, accepts logged
for another campaign and entries with another action must not count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vbr.models import Application, Campaign, Score
from vbr.pages import review as rv

ACCEPTED = rv.ACCEPTED
KEYS = [("q1", "care"), ("q1", "respect"), ("q2", "care")]
_ids = itertools.count(1)


def score(app: str, q: str, v: str, level: int = 2) -> Score:
    return Score(application_id=app, question_id=q, value_id=v, level=level, confidence=0.5,
                 scorer_id="evidence", scorer_version="1.0", rubric_ref="nhs-constitution@1.0")


def current_id(store: Store, app: str, q: str, v: str) -> int:
    return store.score_history(app, q, v)[-1]["id"]


def accept(store: Store, app: str, q: str, v: str, row_id: int, *, campaign: str, action: str = ACCEPTED) -> None:
    """A log entry as the review page writes it (subject the score; payload campaign and row id)."""
    store.log.append("recruiter", action, f"score:{app}/{q}/{v}",
                     payload={"campaign": campaign, "score_id": row_id, "level": 2, "at": "2026-03-02T09:00:00"})


def python_progress(store: Store, campaign: str) -> dict[str, int]:
    return rv.progress(SimpleNamespace(store=store), campaign, rv.accepted_rows(store.log, campaign))


def sql_progress(store: Store, campaign: str) -> dict[str, int]:
    counts = store.review_counts(campaign, accepted_action=ACCEPTED)
    return rv._progress(counts["reviewed"], counts["total"])


# ---------------------------------------------------------------------------- a table of known answers


def test_review_counts_known_campaign(store):
    for c in ("ca", "cb"):
        store.add_campaign(Campaign(id=c, title=c, rubric_id="r"), "r@1", actor="ats")
        store.add_applications([Application(id=f"{c}-1", campaign_id=c), Application(id=f"{c}-2", campaign_id=c)])
        store.add_scores([score(f"{c}-{n}", q, v) for n in (1, 2) for q, v in KEYS], actor="scorer", campaign_id=c)
    assert store.review_counts("ca", accepted_action=ACCEPTED) == {"total": 6, "reviewed": 0}

    # ca-1: one accepted (twice: still one), one overridden, one accepted then re-scored (old accept lapses)
    a1 = current_id(store, "ca-1", "q1", "care")
    accept(store, "ca-1", "q1", "care", a1, campaign="ca")
    accept(store, "ca-1", "q1", "care", a1, campaign="ca")
    store.override_score("ca-1", "q1", "respect", 4, actor="recruiter", reason="clear example given")
    old = current_id(store, "ca-1", "q2", "care")
    accept(store, "ca-1", "q2", "care", old, campaign="ca")
    store.add_scores([score("ca-1", "q2", "care", 3)], actor="scorer", campaign_id="ca")
    # ca-2: accepted under another action; accepted naming campaign cb in its payload (indexed under
    # ca by its subject); accepted in cb's log naming ca's row; accepted, then overridden (counts once)
    b1 = current_id(store, "ca-2", "q1", "care")
    accept(store, "ca-2", "q1", "care", b1, campaign="ca", action="score.viewed")
    b2 = current_id(store, "ca-2", "q1", "respect")
    accept(store, "ca-2", "q1", "respect", b2, campaign="cb")
    b3 = current_id(store, "ca-2", "q2", "care")
    accept(store, "cb-1", "q1", "care", b3, campaign="cb")
    accept(store, "cb-2", "q1", "care", current_id(store, "cb-2", "q1", "care"), campaign="cb")
    store.override_score("cb-2", "q1", "care", 1, actor="recruiter", reason="off the question")

    assert store.review_counts("ca", accepted_action=ACCEPTED) == {"total": 6, "reviewed": 2}
    assert store.review_counts("cb", accepted_action=ACCEPTED) == {"total": 6, "reviewed": 1}
    assert store.review_counts("ca", accepted_action="score.viewed") == {"total": 6, "reviewed": 2}  # override + b1
    assert store.review_counts("nope", accepted_action=ACCEPTED) == {"total": 0, "reviewed": 0}
    for c in ("ca", "cb", "nope"):
        assert sql_progress(store, c) == python_progress(store, c)
    assert python_progress(store, "ca") == {"done": 2, "total": 6, "percent": 33}


# ---------------------------------------------------------------------------- any mix of changes

OPS = st.lists(st.tuples(
    st.sampled_from(["rescore", "override", "accept", "accept_old", "accept_twice", "accept_other_payload",
                     "accept_in_other_log", "other_action"]),
    st.integers(0, 2),                      # application
    st.integers(0, len(KEYS) - 1),          # question/value
    st.booleans()),                         # in the first campaign or the second
    max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(apps=st.tuples(st.integers(1, 3), st.integers(0, 3)),
       scored=st.lists(st.booleans(), min_size=9, max_size=9), ops=OPS)
def test_review_counts_equal_the_pages_rule(store, apps, scored, ops):
    n = next(_ids)
    names = (f"h{n}a", f"h{n}b")
    app_ids = {}
    for c, count in zip(names, apps):
        store.add_campaign(Campaign(id=c, title=c, rubric_id="r"), "r@1", actor="ats")
        app_ids[c] = [f"{c}-{i}" for i in range(count)]
        store.add_applications([Application(id=a, campaign_id=c) for a in app_ids[c]])
        rows = [score(a, q, v) for i, a in enumerate(app_ids[c]) for k, (q, v) in enumerate(KEYS)
                if scored[i * len(KEYS) + k]]
        store.add_scores(rows, actor="scorer", campaign_id=c)
    for op, i, k, first in ops:
        c, other = names if first else names[::-1]
        if not app_ids[c]:
            continue
        a = app_ids[c][i % len(app_ids[c])]
        q, v = KEYS[k]
        history = store.score_history(a, q, v)
        if op == "rescore":
            store.add_scores([score(a, q, v, 3)], actor="scorer", campaign_id=c)
            continue
        if not history:
            continue
        row = history[-1]["id"]
        if op == "override":
            store.override_score(a, q, v, 1, actor="recruiter", reason="a person's judgement")
        elif op == "accept":
            accept(store, a, q, v, row, campaign=c)
        elif op == "accept_old":
            accept(store, a, q, v, history[0]["id"], campaign=c)  # the current row only if never re-scored
        elif op == "accept_twice":
            accept(store, a, q, v, row, campaign=c)
            accept(store, a, q, v, row, campaign=c)
        elif op == "accept_other_payload":
            accept(store, a, q, v, row, campaign=other)  # indexed under c by its subject, names the other
        elif op == "accept_in_other_log" and app_ids[other]:
            b = app_ids[other][0]
            accept(store, b, q, v, row, campaign=other)  # the other campaign's entry naming c's row
        elif op == "other_action":
            accept(store, a, q, v, row, campaign=c, action="score.viewed")
    for c in names:
        python = python_progress(store, c)
        assert sql_progress(store, c) == python
        assert python["total"] == len(store.score_states(c))


# ---------------------------------------------------------------------------- campaigns by tenant, paged


def test_campaigns_filter_by_tenant_and_page_in_sql(store):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(7):
        for tenant in ("t1", "t2"):
            store.add_campaign(Campaign(id=f"{tenant}-c{i}", title="t", rubric_id="r",
                                        created_at=start + dt.timedelta(days=i)), "r@1", actor="ats", tenant=tenant)
    assert [c["id"] for c in store.campaigns()][:4] == ["t1-c0", "t2-c0", "t1-c1", "t2-c1"]  # all, oldest first
    assert len(store.campaigns()) == 14 and store.campaign_count() == 14
    assert store.campaign_count("t1") == 7 and store.campaign_count("nobody") == 0
    assert [c["id"] for c in store.campaigns("t2")] == [f"t2-c{i}" for i in range(7)]
    assert [c["id"] for c in store.campaigns("t1", newest_first=True, limit=3)] == ["t1-c6", "t1-c5", "t1-c4"]
    assert [c["id"] for c in store.campaigns("t1", newest_first=True, limit=3, offset=3)] == ["t1-c3", "t1-c2",
                                                                                                "t1-c1"]
    assert [c["id"] for c in store.campaigns("t1", newest_first=True, limit=3, offset=6)] == ["t1-c0"]
    assert store.campaigns("t1", newest_first=True, limit=3, offset=9) == []
    assert {c["tenant"] for c in store.campaigns("t1")} == {"t1"}
