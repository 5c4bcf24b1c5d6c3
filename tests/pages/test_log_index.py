"""The review page and the equality dashboard read only their campaign's audit-log entries (the
log's campaign index), and show the same rows, in the same order, as the full scan they replace."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence

import pytest
from sqlalchemy import event, text

from tests.pages.conftest import CAMPAIGN, Pages, seed
from vbr.pages import review as rv
from vbr.pages.dashboard import ACTION_WORDS, campaign_log
from vbr.store.log import AuditLog

OTHER = "other-2026"


# ---------------------------------------------------------------------------- what the pages did before


def full_scan_campaign_log(engine, campaign_id: str, shortlist_ids: Sequence[int], limit: int = 200) -> list:
    """campaign_log as it was: every entry of the log, filtered here."""
    apps = tuple(f"score:{a}/" for a in engine.store.application_ids(campaign_id))
    exact = {f"campaign:{campaign_id}"} | {f"shortlist:{s}" for s in shortlist_ids}
    rows = []
    for e in engine.store.log.entries():
        if e.subject in exact or (apps and e.subject.startswith(apps)):
            payload = {k: v for k, v in e.payload.items() if k not in ("figures", "reasons")}
            rows.append({"seq": e.seq, "ts": e.ts[:19].replace("T", " "), "actor": e.actor, "action": e.action,
                         "words": ACTION_WORDS.get(e.action, e.action), "subject": e.subject, "reason": e.reason,
                         "hash": e.hash[:12],
                         "details": ", ".join(f"{k}: {v}" for k, v in sorted(payload.items())
                                              if k not in ("campaign", "score_id", "reviewer_key") and v is not None)})
    return list(reversed(rows))[:limit]


def full_scan_accepted_rows(log, campaign_id: str) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for e in log.entries(action=rv.ACCEPTED):
        if e.payload.get("campaign") == campaign_id and e.payload.get("score_id") is not None:
            out.setdefault(int(e.payload["score_id"]), e)
    return out


def full_scan_rubber_stamp(log, campaign_id: str, reviewer_key: str, policy, extra=None):
    times = [e.payload.get("at") for e in log.entries(action=rv.ACCEPTED)
             if e.payload.get("campaign") == campaign_id and e.payload.get("reviewer_key") == reviewer_key]
    parsed = [dt.datetime.fromisoformat(t) for t in times if t] + ([extra] if extra is not None else [])
    return rv.fast_accepts(parsed, policy)


# ---------------------------------------------------------------------------- two campaigns, reviewed in turns


def decide(pages: Pages, campaign: str, app_id: str, action: str, n: int = 0) -> None:
    """Accept or change the n-th score on a candidate page, as a recruiter does."""
    url = f"/pages/campaigns/{campaign}/review/{app_id}"
    page = pages.client.get(url).text
    kind = "accept-form" if action == "accept" else "override-form"
    form = re.findall(rf'<form method="post" class="{kind}".*?</form>', page, re.S)[n]
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    if action == "override":
        data.update(action="override", level="1", reason="No example of this value given")
    r = pages.client.post(url, data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]


@pytest.fixture
def two(pages: Pages) -> Pages:
    return add_other_campaign(pages)


def add_other_campaign(pages: Pages) -> Pages:
    """The pages' campaign and another one of the same tenant, each with accepts, overrides, a
    shortlist, a refused page, and entries in between the other's."""
    seed(pages.engine, OTHER, n=10, seed=3, propose=4, title="Band 3 HCA")
    pages.sign_in("recruiter")
    mine, other = pages.engine.store.application_ids(CAMPAIGN), pages.engine.store.application_ids(OTHER)
    for i in range(3):
        for campaign, apps in ((CAMPAIGN, mine), (OTHER, other)):
            pages.clock.advance(seconds=3)
            decide(pages, campaign, apps[i], "accept")
            decide(pages, campaign, apps[i], "override", n=1)
    pages.sign_in("equality_officer")
    for campaign in (CAMPAIGN, OTHER):  # an officer on the review page: refused, and logged
        assert pages.client.get(f"/pages/campaigns/{campaign}/review").status_code == 403
    pages.engine.propose_shortlist(OTHER, top=3, actor="ats:test")
    return pages


def entry_campaigns(engine) -> dict[int, str]:
    with engine.store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT seq, campaign_id FROM audit_log_campaigns")).all())


def test_pages_show_the_same_rows_as_the_full_scan(two):
    check_same_rows_as_the_full_scan(two)


def check_same_rows_as_the_full_scan(two: Pages) -> None:
    engine, log = two.engine, two.engine.store.log
    key = two.key("recruiter").split("_")[1]
    policy = rv.RubberStampPolicy(window=3, min_seconds=10)
    # entries indexed to the campaign that the dashboard does not show (not about its scores, its
    # shortlists or itself), newest: campaign_log has to read past them, a batch at a time
    for i in range(130):
        log.append("ats", "greenhouse.test_sent", f"application:{CAMPAIGN}-{i:05d}", payload={"campaign": CAMPAIGN})
    newest = log.append("x", "y", "z", payload={"campaign": OTHER})
    assert entry_campaigns(engine)[newest.seq] == OTHER
    for campaign in (CAMPAIGN, OTHER):
        ids = [s["id"] for s in engine.store.shortlists(campaign)]
        for shortlists in (ids, ids[:1], []):
            for limit in (200, 60, 7, 1, 0):
                assert campaign_log(engine, campaign, shortlists, limit) == \
                    full_scan_campaign_log(engine, campaign, shortlists, limit), (campaign, shortlists, limit)
        assert len(campaign_log(engine, campaign, ids)) > 10
        assert rv.accepted_rows(log, campaign) == full_scan_accepted_rows(log, campaign) != {}
        extra = two.clock.now
        assert rv.rubber_stamp(log, campaign, key, policy, extra=extra) == \
            full_scan_rubber_stamp(log, campaign, key, policy, extra=extra) is not None
        assert rv.rubber_stamp(log, campaign, "nobody", policy) is None


class Reads:
    """The statements run on the main database, and the log entries handed out by AuditLog.entries."""

    def __init__(self, engine, monkeypatch) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.entries: list = []
        self.engine = engine
        event.listen(engine.store.engine, "before_cursor_execute", self._statement)
        original = AuditLog.entries

        def entries(log, **kw):
            for e in original(log, **kw):
                self.entries.append(e)
                yield e

        monkeypatch.setattr(AuditLog, "entries", entries)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((statement, parameters))

    def close(self) -> None:
        event.remove(self.engine.store.engine, "before_cursor_execute", self._statement)

    def log_reads(self) -> list[tuple[str, Any]]:
        """SELECTs that read audit-log rows (not the head an append links to, nor the chain check)."""
        out = []
        for sql, params in self.statements:
            flat = " ".join(sql.split())
            if "audit_log" not in flat or not flat.startswith("SELECT"):
                continue
            if flat.startswith("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"):
                continue  # an append reads the head it links to
            chain = "SELECT seq, ts, actor, action, subject, reason, payload, prev_hash, hash FROM audit_log"
            if flat == f"{chain} ORDER BY seq":
                continue  # the dashboard's "log intact" check recomputes the whole chain (AuditLog.verify)
            if flat.startswith(f"{chain} WHERE seq >= ") and flat.endswith(" ORDER BY seq"):
                continue  # ... or, after its first load, the entries since the point it checked up to
            out.append((flat, params))
        return out


def test_a_campaigns_pages_do_not_read_another_campaigns_entries(two, monkeypatch):
    check_pages_read_only_their_campaigns_entries(two, monkeypatch)


def check_pages_read_only_their_campaigns_entries(two: Pages, monkeypatch) -> None:
    engine = two.engine
    campaigns = entry_campaigns(engine)
    assert sum(c == OTHER for c in campaigns.values()) > 10
    app_id = engine.store.application_ids(CAMPAIGN)[5]
    reads = Reads(engine, monkeypatch)
    try:
        two.sign_in("recruiter")
        reads.statements.clear()
        assert two.client.get(f"/pages/campaigns/{CAMPAIGN}/review").status_code == 200
        assert two.client.get(f"/pages/campaigns/{CAMPAIGN}/review/{app_id}").status_code == 200
        decide(two, CAMPAIGN, app_id, "accept")  # checks what was accepted and how fast, then writes
        two.sign_in("equality_officer")
        reads.statements.clear()
        page = two.client.get(f"/pages/campaigns/{CAMPAIGN}/equality")
        assert page.status_code == 200 and "Score accepted" in page.text and "Log intact" in page.text
    finally:
        reads.close()
    # through the query: every read of log rows goes through the campaign index, for this campaign
    log_reads = reads.log_reads()
    assert log_reads
    for sql, params in log_reads:
        values = list(params.values()) if isinstance(params, dict) else list(params)
        assert "FROM audit_log_campaigns c JOIN audit_log l ON l.seq = c.seq WHERE c.campaign_id = " in sql, sql
        assert CAMPAIGN in values and OTHER not in values, (sql, params)
    # and through the result: no entry of the other campaign was handed to the pages
    assert reads.entries
    campaigns = entry_campaigns(engine)  # with the accept just written
    assert {campaigns.get(e.seq) for e in reads.entries} == {CAMPAIGN}
