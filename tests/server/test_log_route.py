"""``GET /v1/log``: the tenant's entries, filtered and paged in the database.

Walking the pages with a small limit gives exactly the entries of one big page, in order; the
tenant sees its campaign's entries (campaign, scores, shortlist) and its keys' entries and
nothing of another tenant's; the action filter pages the same way.
"""

from __future__ import annotations

from tests.server.conftest import make_campaign

O = "equality_officer"


def _walk(svc, tenant: str, limit: int, action: str | None = None) -> list[dict]:
    items, cursor = [], None
    for _ in range(1000):
        params = {"limit": limit, **({"cursor": cursor} if cursor else {}), **({"action": action} if action else {})}
        r = svc.client.get("/v1/log", params=params, headers=svc.h(O, tenant))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def test_pages_walk_the_tenants_entries_in_order_and_never_another_tenants(svc):
    make_campaign(svc, "mine", tenant="t1", n=6)
    make_campaign(svc, "theirs", tenant="t2", n=4)
    for tenant, cid in (("t1", "mine"), ("t2", "theirs")):
        assert svc.client.post(f"/v1/campaigns/{cid}/scores", json={}, headers=svc.h("ats", tenant)).status_code == 201
    assert svc.client.post("/v1/campaigns/mine/shortlists", json={"top": 3},
                           headers=svc.h("recruiter", "t1")).status_code == 201

    everything = list(svc.engine.store.log.entries())
    whole = svc.client.get("/v1/log", params={"limit": 500}, headers=svc.h(O, "t1")).json()
    assert whole["next_cursor"] is None
    mine = whole["items"]
    seqs = [e["seq"] for e in mine]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    subjects = {e["subject"] for e in mine}
    assert "campaign:mine" in subjects and any(s.startswith("shortlist:") for s in subjects)
    assert any(s.startswith("key:") for s in subjects)  # the tenant's own keys
    assert not any("theirs" in e["subject"] or "theirs" in str(e["payload"]) for e in mine)
    t2_keys = {e.subject for e in everything if e.action == "key.created" and e.payload.get("tenant") == "t2"}
    assert not (t2_keys & subjects)

    for limit in (1, 2, 5):
        assert [e["seq"] for e in _walk(svc, "t1", limit)] == seqs
    shortlists = _walk(svc, "t1", 1, action="shortlist.proposed")
    assert shortlists and {e["action"] for e in shortlists} == {"shortlist.proposed"}
    assert [e["seq"] for e in shortlists] == [e["seq"] for e in mine if e["action"] == "shortlist.proposed"]
