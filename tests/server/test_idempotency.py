"""Idempotency-Key: stored and replayed, a different body is 422, in flight is 409, keys expire
after 24 h (an injected clock, no sleeping); natural keys dedupe without any header."""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.server.conftest import application_bodies, make_campaign

PATH = "/v1/campaigns/band5-2026/applications"


def rows(svc, table: str, where: str = "1=1", **params) -> int:
    with svc.engine.store.engine.connect() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), params).scalar_one()


def test_same_key_same_body_is_replayed_once_stored(svc):
    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    h = svc.h("ats", **{"Idempotency-Key": "k-1"})
    first = svc.client.post(PATH, headers=h, json=body)
    # the same JSON with other key order and spacing is the same request
    again = svc.client.post(PATH, headers={**h, "Content-Type": "application/json"},
                            content=json.dumps(dict(reversed(list(body.items()))), indent=3))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true" and again.headers["idempotency-key"] == "k-1"
    assert rows(svc, "applications") == 1
    assert rows(svc, "responses") == len(body["answers"])


def test_same_key_different_body_is_422_and_changes_nothing(svc):
    make_campaign(svc)
    a, b = application_bodies("band5-2026", 2)[0]
    h = svc.h("ats", **{"Idempotency-Key": "k-2"})
    assert svc.client.post(PATH, headers=h, json=a).status_code == 201
    r = svc.client.post(PATH, headers=h, json=b)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "Idempotency-Key" and "different request" in r.json()["detail"]
    assert rows(svc, "applications") == 1
    # the same key on another path is a different request too
    r = svc.client.post("/v1/campaigns", headers=h, json={"id": "x", "title": "x", "rubric_id": "6cs"})
    assert r.status_code == 422


def test_a_request_in_flight_gets_409(svc):
    from vbr.server.idempotency import request_digest

    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    key = svc.key("ats")
    raw = json.dumps(body).encode()
    svc.app.state.idempotency.claim(key.split("_")[1], "k-3", "POST", PATH, request_digest("POST", PATH, raw))
    r = svc.client.post(PATH, headers=svc.h("ats", **{"Idempotency-Key": "k-3", "Content-Type": "application/json"}),
                        content=raw)
    assert r.status_code == 409 and r.headers["retry-after"] == "1"
    assert "still being processed" in r.json()["detail"]
    assert rows(svc, "applications") == 0
    # a claim abandoned by a crashed process is given up after 5 minutes
    svc.clock.advance(minutes=6)
    r = svc.client.post(PATH, headers=svc.h("ats", **{"Idempotency-Key": "k-3", "Content-Type": "application/json"}),
                        content=raw)
    assert r.status_code == 201 and rows(svc, "applications") == 1


def test_keys_expire_after_24_hours(svc, clock):
    make_campaign(svc)
    a, b = application_bodies("band5-2026", 2)[0]
    h = svc.h("ats", **{"Idempotency-Key": "k-4"})
    assert svc.client.post(PATH, headers=h, json=a).status_code == 201
    clock.advance(hours=23, minutes=59)
    assert svc.client.post(PATH, headers=h, json=b).status_code == 422  # still remembered
    clock.advance(minutes=2)
    r = svc.client.post(PATH, headers=h, json=b)  # forgotten: a new request
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert rows(svc, "applications") == 2
    clock.advance(hours=25)
    assert svc.app.state.idempotency.purge() >= 1
    assert rows(svc, "idempotency_keys") == 0


def test_keys_are_scoped_to_the_api_key(svc):
    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    one = svc.client.post(PATH, headers=svc.h("ats", **{"Idempotency-Key": "same"}), json=body)
    other = svc.client.post(PATH, headers=svc.h("admin", **{"Idempotency-Key": "same"}), json=body)
    assert one.status_code == 201
    assert other.status_code == 200 and other.json()["created"] is False  # natural key, not a replay
    assert "idempotent-replayed" not in other.headers


def test_natural_keys_dedupe_without_a_header(svc):
    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    first = svc.client.post(PATH, headers=svc.h("ats"), json=body)
    changed = {**body, "answers": body["answers"][:1]}
    second = svc.client.post(PATH, headers=svc.h("ats"), json=changed)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "created": False}
    assert rows(svc, "applications") == 1 and rows(svc, "responses") == len(body["answers"])
    # the same campaign again is not a second campaign; a different definition under its id is 409
    c = {"id": "band5-2026", "title": "Band 5 staff nurse", "rubric_id": "nhs-constitution"}
    r = svc.client.post("/v1/campaigns", headers=svc.h("ats"), json=c)
    assert r.status_code == 200 and r.json()["created"] is False
    r = svc.client.post("/v1/campaigns", headers=svc.h("ats"), json={**c, "title": "Band 6"})
    assert r.status_code == 409 and r.json()["field"] == "id"
    # the same application id in another campaign is refused, not overwritten
    make_campaign(svc, "band6-2026")
    r = svc.client.post("/v1/campaigns/band6-2026/applications", headers=svc.h("ats"), json=body)
    assert r.status_code == 409
    assert rows(svc, "applications") == 1


def test_refusals_are_stored_and_replayed_too(svc):
    h = svc.h("ats", **{"Idempotency-Key": "k-5"})
    body = application_bodies("band5-2026", 1)[0][0]
    first = svc.client.post(PATH, headers=h, json=body)
    assert first.status_code == 404
    make_campaign(svc)
    again = svc.client.post(PATH, headers=h, json=body)
    assert again.status_code == 404 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/problem+json"


def test_a_server_error_releases_the_key(svc, monkeypatch):
    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    h = svc.h("ats", **{"Idempotency-Key": "k-6"})

    def boom(*a, **k):
        raise RuntimeError("disk on fire at /srv/secret")

    monkeypatch.setattr(svc.engine, "submit", boom)
    r = svc.client.post(PATH, headers=h, json=body)
    assert r.status_code == 500 and "secret" not in r.text and r.json()["error_id"]
    monkeypatch.undo()
    assert svc.client.post(PATH, headers=h, json=body).status_code == 201


def test_bad_idempotency_keys_are_400(svc):
    make_campaign(svc)
    body = application_bodies("band5-2026", 1)[0][0]
    for bad in (" ", "x" * 300):
        r = svc.client.post(PATH, headers=svc.h("ats", **{"Idempotency-Key": bad}), json=body)
        assert r.status_code in (400, 422), r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert rows(svc, "applications") == 0
