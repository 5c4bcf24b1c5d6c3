"""Bad input answers a clear 4xx problem naming what is wrong, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.server.conftest import application_bodies, make_campaign

PATH = "/v1/campaigns/band5-2026/applications"
JSON = {"Content-Type": "application/json"}


def snapshot(svc) -> dict:
    out = {}
    with svc.engine.store.engine.connect() as conn:
        for t in ("campaigns", "applications", "responses", "scores", "shortlists", "audit_log", "idempotency_keys"):
            out[t] = conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
    out["equality"] = svc.engine.equality.count()
    return out


@pytest.fixture
def ready(svc):
    make_campaign(svc, n=2)
    return application_bodies("band5-2026", 3)[0][2]


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in r.text and "File \"" not in r.text
    return body


def test_malformed_json(svc, ready):
    before = snapshot(svc)
    for raw in (b"{", b'{"id": "x",}', b"\xff\xfe", b"[1, 2"):
        body = problem(svc.client.post(PATH, headers=svc.h("ats", **JSON), content=raw), 400)
        assert "not valid JSON" in body["detail"]
    assert snapshot(svc) == before


@pytest.mark.parametrize("change, field", [
    ({"disability_confident": "perhaps"}, "disability_confident"),
    ({"answers": "lots"}, "answers"),
    ({"answers": [{"question_id": 7}]}, "answers.0.question_id"),
    ({"submitted_at": "last Tuesday"}, "submitted_at"),
    ({"id": ""}, "id"),
    ({"id": None}, "id"),
])
def test_wrong_types_name_the_field(svc, ready, change, field):
    before = snapshot(svc)
    body = problem(svc.client.post(PATH, headers=svc.h("ats"), json={**ready, **change}), 422)
    assert body["field"] == field and body["errors"][0]["loc"] == f"body: {field}"
    assert snapshot(svc) == before


@pytest.mark.parametrize("path, extra", [
    (PATH, {"ethnicity": "A"}),
    ("/v1/campaigns", {"tenant": "t2"}),
    ("/v1/equality-records", {"names": ["x"]}),
    ("/v1/campaigns/band5-2026/shortlists", {"by_group": True}),
])
def test_unknown_fields_are_refused_by_name(svc, ready, path, extra):
    before = snapshot(svc)
    base = {PATH: ready, "/v1/campaigns": {"id": "c9", "title": "t", "rubric_id": "6cs"},
            "/v1/equality-records": {"records": [{"application_id": "band5-2026-00001", "ethnic_code": "A"}]},
            "/v1/campaigns/band5-2026/shortlists": {"top": 1}}[path]
    body = problem(svc.client.post(path, headers=svc.h("ats"), json={**base, **extra}), 422)
    name = next(iter(extra))
    assert body["field"] == name and "Extra inputs are not permitted" in body["detail"]
    assert snapshot(svc) == before


def test_unknown_field_inside_an_equality_record_and_a_bad_code(svc, ready):
    before = snapshot(svc)
    body = problem(svc.client.post("/v1/equality-records", headers=svc.h("ats"), json={"records": [
        {"application_id": "band5-2026-00001", "ethnic_code": "A", "religion": "x"}]}), 422)
    assert body["field"] == "records.0.religion"
    body = problem(svc.client.post("/v1/equality-records", headers=svc.h("ats"), json={"records": [
        {"application_id": "band5-2026-00001", "ethnic_code": "White British"}]}), 422)
    assert body["field"] == "records.0.ethnic_code" and "not an ethnic category code" in body["detail"]
    # one record for an application that is not there: nothing of the batch is stored
    body = problem(svc.client.post("/v1/equality-records", headers=svc.h("ats"), json={"records": [
        {"application_id": "band5-2026-00001", "ethnic_code": "A"},
        {"application_id": "nobody", "ethnic_code": "A"}]}), 404)
    assert body["row"] == 1 and body["field"] == "application_id"
    assert snapshot(svc) == before


def test_engine_level_validation_is_422(svc, ready):
    before = snapshot(svc)
    bad = {**ready, "answers": [{"question_id": "not-a-question-here", "text": "hello"}]}
    body = problem(svc.client.post(PATH, headers=svc.h("ats"), json=bad), 422)
    assert body["field"] == "question_id" and "not part of campaign" in body["detail"]
    body = problem(svc.client.post("/v1/campaigns", headers=svc.h("ats"),
                                   json={"id": "c9", "title": "t", "rubric_id": "no-such-rubric"}), 404)
    assert "no rubric" in body["detail"]
    assert snapshot(svc) == before


def test_oversized_bodies_are_413(svc, ready):
    before = snapshot(svc)
    big = {**ready, "answers": [{"question_id": "nhs-compassion-1", "text": "x" * 49_000}] * 2}
    body = problem(svc.client.post(PATH, headers=svc.h("ats"), json=big), 413)
    assert "limit is 65536 bytes" in body["detail"]

    def chunks():  # no Content-Length: counted while streaming
        yield b'{"id": "z", "answers": [{"question_id": "nhs-compassion-1", "text": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}]}'

    problem(svc.client.post(PATH, headers=svc.h("ats", **JSON), content=chunks()), 413)
    problem(svc.client.post(PATH, headers=svc.h("ats", **JSON, **{"Content-Length": "many"}), content=b"{}"), 400)
    assert snapshot(svc) == before


def test_routes_methods_cursors_and_content_types(svc, ready):
    svc.key("admin")  # making a key is logged: make it before the snapshot
    before = snapshot(svc)
    problem(svc.client.get("/v1/nowhere", headers=svc.h("ats")), 404)
    problem(svc.client.delete("/v1/campaigns", headers=svc.h("ats")), 405)
    problem(svc.client.get("/v1/campaigns?cursor=bogus!", headers=svc.h("ats")), 400)
    from vbr.server.pagination import encode

    problem(svc.client.get(f"/v1/log?cursor={encode(10**30)}", headers=svc.h("admin")), 400)
    problem(svc.client.get("/v1/campaigns?limit=0", headers=svc.h("ats")), 422)
    problem(svc.client.get("/v1/shortlists/0", headers=svc.h("ats")), 422)
    problem(svc.client.get("/v1/shortlists/999", headers=svc.h("ats")), 404)
    body = problem(svc.client.post(PATH, headers={**svc.h("ats"), "Content-Type": "text/plain"}, content=b"hi"), 422)
    assert "JSON object" in body["detail"]
    problem(svc.client.post(PATH, headers=svc.h("ats"), json=[1, 2]), 422)
    assert snapshot(svc) == before


def test_unexpected_errors_are_500_without_internals(svc, ready, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("password=hunter2 in /srv/vbr/engine.py line 12")

    from vbr.server import queries

    monkeypatch.setattr(queries, "current_scores", boom)
    body = problem(svc.client.get("/v1/campaigns/band5-2026/scores", headers=svc.h("ats")), 500)
    assert "hunter2" not in str(body) and "engine.py" not in str(body) and len(body["error_id"]) == 12
