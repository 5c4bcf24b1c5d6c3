"""Through ``vbr serve``'s app: the plugin is found by the ``vbr_register_routes`` hook, and the
Greenhouse key is a vbr key with the ``ats`` role (only its hash is stored, in vbr's key store)."""

from __future__ import annotations

import base64

import pytest

pytest.importorskip("vbr.server.app")


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def served(tmp_path):
    from fastapi.testclient import TestClient

    import vbr_greenhouse
    from vbr import Engine
    from vbr.plugins import build
    from vbr.server.app import create_app

    engine = Engine(tmp_path / "vbr.sqlite", plugins=build(load_entrypoints=False, extra_plugins=(vbr_greenhouse,)))
    app = create_app(engine)
    keys = app.state.keys
    ats, _ = keys.create("ats", tenant="trust-a", actor="admin")
    other, _ = keys.create("ats", tenant="trust-b", actor="admin")
    recruiter, _ = keys.create("recruiter", tenant="trust-a", actor="admin")
    revoked, info = keys.create("ats", tenant="trust-a", actor="admin")
    keys.revoke(info.id, actor="admin")
    engine.create_campaign("nurse-a", "Staff nurse", "nhs-constitution", actor="recruiter", tenant="trust-a")
    engine.create_campaign("nurse-b", "Staff nurse", "nhs-constitution", actor="recruiter", tenant="trust-b")
    with TestClient(app) as client:
        yield client, {"ats": ats, "other": other, "recruiter": recruiter, "revoked": revoked}, engine


def test_registered_by_the_hook_with_vbr_keys(served):
    client, keys, engine = served
    r = client.get("/greenhouse/list_tests", headers=basic(keys["ats"]))
    assert r.status_code == 200 and [t["partner_test_id"] for t in r.json()] == ["nurse-a"]
    assert [t["partner_test_id"] for t in client.get("/greenhouse/list_tests", headers=basic(keys["other"])).json()] \
        == ["nurse-b"]
    r = client.get("/greenhouse/list_tests", headers=basic(keys["recruiter"]))
    assert r.status_code == 403 and "--role ats" in r.json()["hint"]
    r = client.get("/greenhouse/list_tests", headers=basic(keys["revoked"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # the vbr API itself still wants its Bearer scheme; the Greenhouse endpoints want Basic
    assert client.get("/greenhouse/list_tests", headers={"Authorization": f"Bearer {keys['ats']}"}).status_code == 401
    assert "/greenhouse/send_test" in client.get("/v1/openapi.json").json()["paths"]


def test_send_and_status_are_tenant_scoped(served):
    client, keys, engine = served
    body = {"partner_test_id": "nurse-a", "url": "http://127.0.0.1:9/x",
            "candidate": {"first_name": "Kate", "last_name": "Austen", "email": "k@example.com",
                          "greenhouse_profile_url": "https://app.greenhouse.io/people/1?application_id=42"}}
    assert client.post("/greenhouse/send_test", json={**body, "partner_test_id": "nurse-b"},
                       headers=basic(keys["ats"])).status_code == 404
    r = client.post("/greenhouse/send_test", json=body, headers=basic(keys["ats"]))
    assert r.status_code == 200
    iid = r.json()["partner_interview_id"]
    ok = client.get("/greenhouse/test_status", params={"partner_interview_id": iid}, headers=basic(keys["ats"]))
    assert ok.status_code == 200 and ok.json()["partner_status"] == "incomplete"
    assert ok.json()["partner_profile_url"] == "http://testserver/v1/applications/gh-nurse-a-42"
    assert client.get("/greenhouse/test_status", params={"partner_interview_id": iid},
                      headers=basic(keys["other"])).status_code == 404
    (entry,) = engine.store.log.entries(action="greenhouse.test_sent")
    assert "trust-a" in entry.actor
