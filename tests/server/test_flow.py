"""The whole path over HTTP: campaign, applications, equality, scores, shortlist, gate, release."""

from __future__ import annotations

from tests.server.conftest import make_campaign


def test_campaign_to_released_shortlist(svc):
    make_campaign(svc, n=40)
    c = svc.client
    r = c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats"), json={})
    assert r.status_code == 201, r.text
    assert r.json()["scores"] > 0
    page = c.get("/v1/campaigns/band5-2026/scores?limit=5", headers=svc.h("recruiter")).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    s = page["items"][0]
    assert {"evidence", "level", "anchor", "scorer_id", "source"} <= set(s)
    r = c.post("/v1/campaigns/band5-2026/shortlists", headers=svc.h("ats"), json={"top": 10})
    assert r.status_code == 201, r.text
    gate = r.json()
    assert gate["decision"] in ("PASS", "REVIEW", "BLOCK")
    assert gate["reasons"] is None  # the ATS does not read audit findings
    sid = gate["shortlist_id"]
    st = c.get(f"/v1/shortlists/{sid}", headers=svc.h("recruiter")).json()
    assert st["decision"] == gate["decision"]
    audit = c.get(f"/v1/shortlists/{sid}/audit", headers=svc.h("equality_officer"))
    assert audit.status_code == 200 and "audit" in audit.json()["figures"] or "reconciliation" in audit.json()["figures"]
    if gate["released"]:
        r = c.post(f"/v1/shortlists/{sid}/release", headers=svc.h("ats"))
        assert r.status_code == 200
    else:
        r = c.post(f"/v1/shortlists/{sid}/release", headers=svc.h("ats"))
        assert r.status_code == 403, r.text
        r = c.post(f"/v1/shortlists/{sid}/release", headers=svc.h("equality_officer"),
                   json={"justification": "Reviewed the group table: the shortfall is within the small-number noise."})
        assert r.status_code == 200, r.text
    assert r.json()["application_ids"] == gate["application_ids"]
    assert c.get(f"/v1/shortlists/{sid}", headers=svc.h("ats")).json()["released"] is True
    v = c.get("/v1/log/verify", headers=svc.h("admin")).json()
    assert v["ok"] is True
