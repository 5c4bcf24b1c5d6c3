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


def test_score_pages_match_the_store_and_overrides_show(svc):
    bodies = make_campaign(svc, n=6)
    c = svc.client
    assert c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats")).status_code == 201
    want = svc.engine.store.current_scores("band5-2026")
    got, cursor = [], None
    while True:
        url = "/v1/campaigns/band5-2026/scores?limit=7" + (f"&cursor={cursor}" if cursor else "")
        body = c.get(url, headers=svc.h("recruiter")).json()
        got += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [(g["application_id"], g["question_id"], g["value_id"], g["level"]) for g in got] == \
        [(w["application_id"], w["question_id"], w["value_id"], w["level"]) for w in want]
    first = got[0]
    r = c.post(f"/v1/applications/{first['application_id']}/overrides", headers=svc.h("recruiter"),
               json={"question_id": first["question_id"], "value_id": first["value_id"], "level": 4,
                     "reason": "Evidence of escalation was missed by the scorer."})
    assert r.status_code == 201, r.text
    mine = c.get(f"/v1/campaigns/band5-2026/scores?application_id={first['application_id']}",
                 headers=svc.h("ats")).json()["items"]
    top = next(s for s in mine if (s["question_id"], s["value_id"]) == (first["question_id"], first["value_id"]))
    assert (top["level"], top["source"], top["reason"]) == (4, "override", "Evidence of escalation was missed by the scorer.")
    assert top["evidence"] == first["evidence"]
    # answers are served redacted: the names sent for redaction are not in them
    for b in bodies:
        detail = c.get(f"/v1/applications/{b['id']}", headers=svc.h("recruiter")).json()
        assert len(detail["answers"]) == len(b["answers"])
        for a in detail["answers"]:
            assert all(n not in (a["text"] or "") for n in b["names"]), a


def test_a_held_shortlist_needs_a_justification_and_is_released_once(svc):
    make_campaign(svc, n=12)
    c = svc.client
    c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats"))
    gate = c.post("/v1/campaigns/band5-2026/shortlists", headers=svc.h("ats"), json={"top": 4}).json()
    assert gate["decision"] != "PASS" and not gate["released"]
    sid = gate["shortlist_id"]
    officer = svc.h("equality_officer")
    r = c.post(f"/v1/shortlists/{sid}/release", headers=officer, json={"justification": "ok"})
    assert r.status_code == 409 and r.json()["field"] == "justification"
    assert c.get(f"/v1/shortlists/{sid}", headers=officer).json()["released"] is False
    why = {"justification": "Group sizes are under ten: no conclusion possible; reviewed and released."}
    first = c.post(f"/v1/shortlists/{sid}/release", headers=officer, json=why)
    again = c.post(f"/v1/shortlists/{sid}/release", headers=officer, json=why)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    released = [r for r in svc.engine.status(sid)["history"] if r["released"]]
    assert len(released) == 1 and released[0]["released_by"].startswith("equality_officer:")
    # once released, the ATS may fetch the same list (no second release row)
    assert c.post(f"/v1/shortlists/{sid}/release", headers=svc.h("ats")).json() == first.json()


def test_a_new_application_is_answered_with_exactly_what_was_stored(svc):
    """The 201 answer is built from what was written, not read back: it must match the stored row
    (and a replay, and a later read) field for field, whatever the submitted_at offset."""
    make_campaign(svc)
    h = svc.h("ats")
    for i, submitted in enumerate(("2026-03-01T10:15:30.123456+01:00", "2026-03-01T09:00:00Z", None)):
        body = {"id": f"exact-{i}", "reference": None if i else "NHSJ-1", "disability_confident": bool(i % 2),
                "submitted_at": submitted, "answers": [{"question_id": "nhs-compassion-1", "text": "I listened."}]}
        first = svc.client.post("/v1/campaigns/band5-2026/applications", headers={**h, "Idempotency-Key": f"x{i}"},
                                json=body)
        assert first.status_code == 201, first.text
        stored = svc.client.get(f"/v1/applications/exact-{i}", headers=h).json()
        stored.pop("answers")
        assert first.json() == {"created": True, "application": stored}
        replay = svc.client.post("/v1/campaigns/band5-2026/applications", headers={**h, "Idempotency-Key": f"x{i}"},
                                 json=body)
        assert replay.headers["idempotent-replayed"] == "true" and replay.json() == first.json()
        again = svc.client.post("/v1/campaigns/band5-2026/applications", headers=h, json=body)
        assert again.status_code == 200 and again.json() == {"created": False, "application": stored}


def test_campaign_list_pages_the_tenants_campaigns_in_the_database(svc):
    """Oldest first, every campaign of the caller's tenant once, none of another's; the last page
    says there is no next one, also when the campaigns fill the pages exactly."""
    c = svc.client
    for i in range(6):
        for tenant in ("t1", "t2"):
            r = c.post("/v1/campaigns", headers=svc.h("ats", tenant),
                       json={"id": f"{tenant}-c{i}", "title": f"C{i}", "rubric_id": "nhs-constitution"})
            assert r.status_code == 201, r.text
        svc.clock.advance(seconds=1)
    for limit, pages in ((4, 2), (3, 2), (6, 1), (500, 1)):
        got, cursor, n = [], None, 0
        while True:
            url = f"/v1/campaigns?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            body = c.get(url, headers=svc.h("recruiter")).json()
            got += [item["id"] for item in body["items"]]
            n += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert got == [f"t1-c{i}" for i in range(6)] and n == pages, (limit, got, n)


def test_application_list_pages_in_the_database(svc):
    """By id, every application of the campaign once; the last page says there is no next one,
    also when the applications fill the pages exactly."""
    bodies = make_campaign(svc, n=7)
    want = sorted(b["id"] for b in bodies)
    c = svc.client
    for limit, pages in ((3, 3), (7, 1), (1, 7), (500, 1)):
        got, cursor, n = [], None, 0
        while True:
            url = f"/v1/campaigns/band5-2026/applications?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            body = c.get(url, headers=svc.h("recruiter")).json()
            got += [item["id"] for item in body["items"]]
            assert all(item["campaign_id"] == "band5-2026" for item in body["items"])
            n += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert got == want and n == pages, (limit, got, n)


def test_a_recruiter_marks_over_http_a_value_the_scorer_could_not_score(svc):
    make_campaign(svc)
    c = svc.client
    r = c.post("/v1/campaigns/band5-2026/applications", headers=svc.h("ats"), json={
        "id": "blank-1", "answers": [{"question_id": "nhs-compassion-1", "text": "  "}]})
    assert r.status_code == 201, r.text
    assert c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats")).status_code == 201
    mine = c.get("/v1/campaigns/band5-2026/scores?application_id=blank-1", headers=svc.h("recruiter")).json()
    assert mine["items"] == []
    [todo] = c.get("/v1/campaigns/band5-2026/to-mark", headers=svc.h("ats")).json()["items"]
    assert (todo["application_id"], todo["question_id"], todo["values"]) == ("blank-1", "nhs-compassion-1",
                                                                            ["compassion"])
    assert [f["code"] for f in todo["flags"]] == ["empty"] and todo["scorer_id"] == "evidence"
    body = {"question_id": "nhs-compassion-1", "value_id": "compassion", "level": 0,
            "reason": "No answer was written."}
    r = c.post("/v1/applications/blank-1/overrides", headers=svc.h("recruiter"), json=body)
    assert r.status_code == 201, r.text
    [row] = c.get("/v1/campaigns/band5-2026/scores?application_id=blank-1", headers=svc.h("recruiter")).json()["items"]
    assert (row["level"], row["source"], row["reason"], row["evidence"]) == (0, "override", "No answer was written.", [])
    assert c.get("/v1/campaigns/band5-2026/to-mark", headers=svc.h("ats")).json()["items"] == []
    for wrong in ({"value_id": "courage"}, {"question_id": "nhs-courage-1"}):
        r = c.post("/v1/applications/blank-1/overrides", headers=svc.h("recruiter"), json={**body, **wrong})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), r.text
    r = c.post("/v1/applications/blank-1/overrides", headers=svc.h("recruiter", "t2"), json=body)
    assert r.status_code == 404  # another tenant's recruiter


def test_scoring_again_over_http_scores_new_answers_only_and_keeps_overrides(svc):
    make_campaign(svc, n=4)
    c = svc.client
    first = c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats")).json()["scores"]
    assert first > 0
    s = c.get("/v1/campaigns/band5-2026/scores?limit=1", headers=svc.h("recruiter")).json()["items"][0]
    r = c.post(f"/v1/applications/{s['application_id']}/overrides", headers=svc.h("recruiter"),
               json={"question_id": s["question_id"], "value_id": s["value_id"], "level": 4, "reason": "Re-read it."})
    assert r.status_code == 201, r.text
    assert c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats")).json()["scores"] == 0
    again = c.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats"), json={"rescore": True}).json()
    assert again["scores"] == first - 1  # every value again but the one a person scored
    mine = c.get(f"/v1/campaigns/band5-2026/scores?application_id={s['application_id']}",
                 headers=svc.h("recruiter")).json()["items"]
    top = next(x for x in mine if (x["question_id"], x["value_id"]) == (s["question_id"], s["value_id"]))
    assert (top["level"], top["source"]) == (4, "override")
