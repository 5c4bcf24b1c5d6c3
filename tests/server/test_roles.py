"""Every role against every endpoint, in its own tenant and in another: the answer is in the table.

Tenant ``t1`` owns the campaign, its applications and a shortlist the gate holds; tenant ``t2``
owns nothing of it. Another tenant's resources answer 404 (as if absent); a role the route does
not allow answers 403 whatever the tenant (the role is checked first, which reveals nothing about
the data); a missing, forged, expired or revoked key answers 401 everywhere.
"""

from __future__ import annotations

import itertools

import pytest

from tests.server.conftest import application_bodies, make_campaign

ROLES = ("ats", "recruiter", "equality_officer", "admin")
A, R, O, D = ROLES
OK, CREATED = 200, 201
_n = itertools.count()


def _new_app(ctx):
    body, _ = application_bodies("band5-2026", 1, seed=1000 + next(_n))
    return {**body[0], "id": f"extra-{next(_n)}"}


# (method, path, body factory, {role: answer in its own tenant}, tenant-scoped or {role: answer in another})
MATRIX = [
    ("GET", "/v1/me", None, {A: OK, R: OK, O: OK, D: OK}, False),
    ("GET", "/v1/assessments", None, {A: OK, R: OK, O: OK, D: OK}, False),
    ("GET", "/v1/assessments/nhs-constitution", None, {A: OK, R: OK, O: OK, D: OK}, False),
    ("POST", "/v1/campaigns", lambda ctx: {"id": f"c-{next(_n)}", "title": "t", "rubric_id": "6cs"},
     {A: CREATED, R: 403, O: 403, D: CREATED}, False),
    ("GET", "/v1/campaigns", None, {A: OK, R: OK, O: OK, D: OK}, False),
    ("GET", "/v1/campaigns/{cid}", None, {A: OK, R: OK, O: OK, D: OK}, True),
    ("POST", "/v1/campaigns/{cid}/applications", _new_app, {A: CREATED, R: 403, O: 403, D: CREATED}, True),
    ("GET", "/v1/campaigns/{cid}/applications", None, {A: OK, R: OK, O: OK, D: OK}, True),
    ("GET", "/v1/applications/{aid}", None, {A: OK, R: OK, O: 403, D: OK}, True),
    ("POST", "/v1/equality-records", lambda ctx: {"records": [{"application_id": ctx["aid"], "ethnic_code": "Z"}]},
     {A: CREATED, R: 403, O: CREATED, D: 403}, True),
    ("GET", "/v1/campaigns/{cid}/equality-summary", None, {A: 403, R: 403, O: OK, D: 403}, True),
    ("POST", "/v1/campaigns/{cid}/scores", lambda ctx: {}, {A: CREATED, R: CREATED, O: 403, D: CREATED}, True),
    ("GET", "/v1/campaigns/{cid}/scores", None, {A: OK, R: OK, O: OK, D: OK}, True),
    ("GET", "/v1/campaigns/{cid}/to-mark", None, {A: OK, R: OK, O: OK, D: OK}, True),
    ("POST", "/v1/applications/{aid}/overrides",
     lambda ctx: {"question_id": ctx["qid"], "value_id": ctx["vid"], "level": 3, "reason": "read the answer again"},
     {A: 403, R: CREATED, O: 403, D: CREATED}, True),
    ("POST", "/v1/campaigns/{cid}/shortlists", lambda ctx: {"top": 5}, {A: CREATED, R: CREATED, O: 403, D: CREATED},
     True),
    ("GET", "/v1/shortlists/{sid}", None, {A: OK, R: OK, O: OK, D: OK}, True),
    ("GET", "/v1/shortlists/{sid}/audit", None, {A: 403, R: 403, O: OK, D: 403}, True),
    ("POST", "/v1/shortlists/{sid}/release",
     lambda ctx: {"justification": "Reviewed the audit: groups are too small to conclude; released."},
     {A: 403, R: 403, O: OK, D: 403}, {A: 404, R: 404, O: 404, D: 404}),  # held: 403 comes from the gate
    ("GET", "/v1/log", None, {A: 403, R: 403, O: OK, D: OK}, False),
    ("GET", "/v1/log/verify", None, {A: 403, R: 403, O: OK, D: OK}, False),
]


@pytest.fixture
def world(svc):
    bodies = make_campaign(svc, "band5-2026", "t1", n=12)
    c = svc.client
    assert c.post("/v1/campaigns/band5-2026/scores", headers=svc.h(A), json={}).status_code == 201
    score = c.get("/v1/campaigns/band5-2026/scores?limit=1", headers=svc.h(R)).json()["items"][0]
    gate = c.post("/v1/campaigns/band5-2026/shortlists", headers=svc.h(A), json={"top": 4}).json()
    assert gate["decision"] in ("REVIEW", "BLOCK") and not gate["released"], gate  # 12 applicants: too few
    assert svc.engine.status(gate["shortlist_id"])["figures"].get("reconciliation") == []
    make_campaign(svc, "other-campaign", "t2", n=0)
    return {"cid": "band5-2026", "aid": bodies[0]["id"], "sid": gate["shortlist_id"],
            "qid": score["question_id"], "vid": score["value_id"]}


def _call(svc, method, path, headers, body):
    if method == "GET":
        return svc.client.get(path, headers=headers)
    return svc.client.post(path, headers=headers, json=body)


def test_every_role_on_every_endpoint(svc, world):
    failures = []
    for method, template, make_body, own, scoped in MATRIX:
        path = template.format(**world)
        order = sorted(ROLES, key=lambda role: role == O)  # the officer last: a release is final
        for tenant in ("t2", "t1"):
            for role in order:
                want = own[role]
                if tenant == "t2" and isinstance(scoped, dict):
                    want = scoped[role]
                elif tenant == "t2" and scoped and want != 403:
                    want = 404
                r = _call(svc, method, path, svc.h(role, tenant), make_body(world) if make_body else None)
                if r.status_code != want:
                    failures.append(f"{role}@{tenant} {method} {path}: {r.status_code} (want {want}) {r.text[:160]}")
                elif want >= 400:
                    assert r.headers["content-type"] == "application/problem+json"
                    assert r.json()["status"] == want
    assert not failures, "\n".join(failures)


def test_missing_forged_expired_and_revoked_keys_are_401_everywhere(svc, world, clock):
    expiring = svc.key(A, "t1", expires_at=clock.now.replace(hour=10))
    revoked = svc.key(A, "t1", name="old")
    kid = revoked.split("_")[1]
    svc.app.state.keys.revoke(kid, actor="test")
    clock.advance(hours=2)
    good = svc.key(A, "t1")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    cases = {
        "none": ({}, "missing"),
        "basic": ({"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, "missing"),
        "garbage": ({"Authorization": "Bearer not-a-key"}, "not in the form"),
        "forged": ({"Authorization": f"Bearer {forged}"}, "not known"),
        "unknown id": ({"Authorization": "Bearer vbr_zzzzzzzzzzzz_" + "A" * 43}, "not known"),
        "expired": ({"Authorization": f"Bearer {expiring}"}, "expired"),
        "revoked": ({"Authorization": f"Bearer {revoked}"}, "revoked"),
    }
    for method, template, make_body, _, _ in MATRIX:
        path = template.format(**world)
        for name, (headers, says) in cases.items():
            r = _call(svc, method, path, headers, make_body(world) if make_body else None)
            assert r.status_code == 401, (name, method, path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert says in r.json()["detail"], (name, r.json())


def test_tenants_do_not_see_each_others_lists_or_log(svc, world):
    c = svc.client
    t2 = c.get("/v1/campaigns", headers=svc.h(A, "t2")).json()["items"]
    assert [x["id"] for x in t2] == ["other-campaign"]
    log = c.get("/v1/log?limit=500", headers=svc.h(O, "t2")).json()["items"]
    assert log and all("band5-2026" not in e["subject"] and "band5" not in str(e["payload"]) for e in log)
    t1 = c.get("/v1/log?limit=500", headers=svc.h(O, "t1")).json()["items"]
    assert any(e["subject"] == "campaign:band5-2026" for e in t1)


def test_recruiters_and_admins_never_read_equality_figures(svc, world):
    c = svc.client
    sid = world["sid"]
    for role in (A, R, D):
        st = c.get(f"/v1/shortlists/{sid}", headers=svc.h(role)).json()
        assert st["reasons"] is None and all(h["reasons"] is None for h in st["history"])
        assert "figures" not in st
    admin_log = c.get("/v1/log?limit=500", headers=svc.h(D)).json()["items"]
    held = [e for e in admin_log if e["subject"] == f"shortlist:{sid}" and "figures" in e["payload"]]
    assert held and all(isinstance(e["payload"]["figures"], str) for e in held)
    officer = c.get(f"/v1/shortlists/{sid}/audit", headers=svc.h(O)).json()
    assert "audit" in officer["figures"]
