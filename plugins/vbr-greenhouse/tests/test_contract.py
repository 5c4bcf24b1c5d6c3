"""Contract tests: Greenhouse's documented request shapes in, documented response shapes out.

The fake Greenhouse that receives the completion PATCH is a real HTTP server (pytest-httpserver).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.pg import fresh_schema
from vbr.fairness.equality import EqualityRecord
from vbr.models import Application

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "ghk_test-key-for-greenhouse-0123456789"
OTHER_KEY = "ghk_other-tenant-key-0123456789"
CALLBACK_KEY = "greenhouse-side-key"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def basic(key: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A vbr engine with this plugin, on SQLite and (when ``VBR_TEST_PG_URL`` is set) PostgreSQL, in a
    fresh schema of the test server's database and its ``_equality`` sibling (vbr's ``tests.pg``)."""
    import vbr_greenhouse
    from vbr import Engine
    from vbr.plugins import build

    plugins = build(load_entrypoints=False, extra_plugins=(vbr_greenhouse,))
    if request.param == "sqlite":
        yield Engine(tmp_path / "vbr.sqlite", plugins=plugins)
        return
    with fresh_schema("gh_") as schema:
        yield Engine(schema.main_url, plugins=plugins, equality_db=schema.equality_url)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settings():
    from vbr_greenhouse import Settings

    return Settings(
        public_url="https://vbr.trust.example",
        key_hashes={hashlib.sha256(KEY.encode()).hexdigest(): "default",
                    hashlib.sha256(OTHER_KEY.encode()).hexdigest(): "other-trust"},
        callback_key=CALLBACK_KEY, background_delivery=False, callback_timeout=5)


@pytest.fixture
def gh(engine, settings, clock):
    """``(client, adapter)``: the endpoints on a plain FastAPI app (no vbr key store)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import vbr_greenhouse

    app = FastAPI()
    adapter = vbr_greenhouse.register(app, engine, settings=settings)
    adapter.clock = clock
    with TestClient(app) as client:
        yield client, adapter


@pytest.fixture
def campaign(engine):
    engine.create_campaign("nurse-2026", "Staff nurse, ward 7", "nhs-constitution", actor="recruiter")
    return "nurse-2026"


JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null",
              list: "array", dict: "object"}
JUSTIFICATION = "Reviewed with the panel: the gap reflects two withdrawals after interview, minutes 12/3."
ANSWER = ("When a patient on my ward was frightened before surgery I sat with her, listened to her worries, "
          "explained what would happen and asked the team to involve her daughter. I treated her with dignity "
          "and respect and checked on her again after the operation to make sure she felt cared for.")


def jtype(v) -> str:
    return JSON_TYPES[type(v)]


NOWHERE = "http://127.0.0.1:9/take_home_tests/1"  # the discard port: nothing answers, nothing leaves the host


def send_body(campaign_id: str, *, application_id: str = "5699620", url: str = NOWHERE) -> dict:
    """The documented send_test request, for our campaign, calling back to ``url`` (never the
    real Greenhouse from a test)."""
    body = copy.deepcopy(fixture("send_test_request.json"))
    body["partner_test_id"] = campaign_id
    body["candidate"]["greenhouse_profile_url"] = f"https://app.greenhouse.io/people/5345178?application_id={application_id}"
    body["url"] = url
    return body


def send(client, campaign_id: str, **kw) -> str:
    r = client.post("/greenhouse/send_test", json=send_body(campaign_id, **kw), headers=basic(KEY))
    assert r.status_code == 200, r.text
    return r.json()["partner_interview_id"]


def status(client, interview_id: str, key: str = KEY):
    return client.get("/greenhouse/test_status", params={"partner_interview_id": interview_id}, headers=basic(key))


def answer_all(client, adapter, interview_id: str, text_: str = ANSWER):
    row = adapter.interview(None, interview_id)
    form = {f"q_{q.id}": text_ for q in adapter.questions(row)}
    return client.post(f"/greenhouse/take/{row['take_token']}", data=form)


def assert_problem(r, status_code: int, *words: str) -> dict:
    assert r.status_code == status_code, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status_code
    for w in words:
        assert w in json.dumps(body), (w, body)
    return body


def assert_status_shape(body: dict) -> None:
    """Keys and types as documented: partner_status string, partner_profile_url string,
    partner_score number (or null here while the gate holds it), metadata a flat object of primitives."""
    documented = fixture("test_status_response.json")
    assert set(body) == set(documented)
    assert jtype(body["partner_status"]) == "string"
    assert jtype(body["partner_profile_url"]) == "string" and body["partner_profile_url"].startswith("https://")
    assert jtype(body["partner_score"]) in ("number", "null")
    assert jtype(body["metadata"]) == "object"
    assert all(jtype(v) in ("string", "number", "boolean", "null") for v in body["metadata"].values())


# ---------------------------------------------------------------------------------- auth
def test_basic_auth_with_the_key_as_user_name(gh, campaign):
    client, _ = gh
    r = client.get("/greenhouse/list_tests")
    body = assert_problem(r, 401, "Basic")
    assert r.headers["www-authenticate"].startswith("Basic")
    assert "user name" in body["hint"]
    assert_problem(client.get("/greenhouse/list_tests", headers=basic("not-a-key")), 401, "not known")
    assert_problem(client.get("/greenhouse/list_tests", headers={"Authorization": "Basic %%%"}), 401, "base64")
    assert_problem(client.get("/greenhouse/list_tests", headers={"Authorization": f"Bearer {KEY}"}), 401)
    assert_problem(client.get("/greenhouse/list_tests", headers=basic("k" * 171)), 401, "too long")
    assert client.get("/greenhouse/list_tests", headers=basic(KEY)).status_code == 200
    # Greenhouse sends an empty password; a password, if any, is ignored
    assert client.get("/greenhouse/list_tests", headers=basic(KEY, "x")).status_code == 200


# ---------------------------------------------------------------------------------- list_tests
def test_list_tests_one_test_per_campaign_of_the_tenant(gh, engine, campaign):
    client, _ = gh
    engine.create_campaign("hca-2026", "Healthcare assistant", "6cs", actor="recruiter")
    engine.create_campaign("elsewhere", "Another trust's campaign", "6cs", actor="recruiter", tenant="other-trust")
    r = client.get("/greenhouse/list_tests", headers=basic(KEY))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    documented = fixture("list_tests_response.json")
    assert jtype(body) == jtype(documented) == "array"
    for item in body:
        assert set(item) == set(documented[0])
        assert all(jtype(item[k]) == jtype(documented[0][k]) == "string" for k in item)
    assert [t["partner_test_id"] for t in body] == ["nurse-2026", "hca-2026"]
    assert body[0]["partner_test_name"].startswith("Staff nurse, ward 7 (nhs-constitution@")
    other = client.get("/greenhouse/list_tests", headers=basic(OTHER_KEY)).json()
    assert [t["partner_test_id"] for t in other] == ["elsewhere"]


# ---------------------------------------------------------------------------------- send_test
def test_send_test_creates_the_application_once(gh, engine, campaign):
    client, adapter = gh
    r = client.post("/greenhouse/send_test", json=send_body(campaign), headers=basic(KEY))
    assert r.status_code == 200
    body = r.json()
    documented = fixture("send_test_response.json")
    assert set(body) == set(documented) and jtype(body["partner_interview_id"]) == "string"
    app = engine.store.application("gh-nurse-2026-5699620")
    assert app["campaign_id"] == campaign and app["reference"] == "greenhouse:5699620"
    # Greenhouse retries: the same candidate and test get the same interview, nothing new is stored
    again = client.post("/greenhouse/send_test", json=send_body(campaign), headers=basic(KEY))
    assert again.json() == body
    assert engine.store.application_ids(campaign) == ["gh-nurse-2026-5699620"]
    # e-mail, phone and resume are never stored
    dump = _dump(engine)
    for secret in ("kate_austen@example.com", "123-456-7890"):
        assert secret not in dump
    assert [e.action for e in engine.store.log.entries(action="greenhouse.test_sent")] == ["greenhouse.test_sent"]


@pytest.mark.parametrize("edit, status_code, words", [
    (lambda b: b.update(partner_test_id="no-such-test"), 404, ["no test 'no-such-test'", "list_tests"]),
    (lambda b: b["candidate"].pop("email"), 422, ["candidate.email"]),
    (lambda b: b.pop("candidate"), 422, ["candidate"]),
    (lambda b: b["candidate"].update(first_name=""), 422, ["candidate.first_name"]),
])
def test_send_test_bad_bodies(gh, campaign, edit, status_code, words):
    client, _ = gh
    body = send_body(campaign)
    edit(body)
    assert_problem(client.post("/greenhouse/send_test", json=body, headers=basic(KEY)), status_code, *words)


def test_send_test_malformed_json_and_other_tenants_test(gh, engine, campaign):
    client, _ = gh
    r = client.post("/greenhouse/send_test", content=b"{not json", headers={**basic(KEY), "Content-Type": "application/json"})
    assert_problem(r, 400, "not JSON")
    engine.create_campaign("elsewhere", "Other", "6cs", actor="recruiter", tenant="other-trust")
    assert_problem(client.post("/greenhouse/send_test", json=send_body("elsewhere"), headers=basic(KEY)), 404)
    assert engine.store.application_ids("elsewhere") == []


def test_unknown_fields_from_greenhouse_are_ignored(gh, campaign):
    client, _ = gh
    body = send_body(campaign)
    body["something_new"] = {"x": 1}
    body["candidate"]["pronouns"] = "she/her"
    assert client.post("/greenhouse/send_test", json=body, headers=basic(KEY)).status_code == 200


# ---------------------------------------------------------------------------------- test_status
def test_status_before_completion_has_profile_link_and_no_score(gh, campaign):
    client, _ = gh
    iid = send(client, campaign)
    r = status(client, iid)
    assert r.status_code == 200
    body = r.json()
    assert_status_shape(body)
    assert body["partner_status"] == "incomplete" and body["partner_score"] is None
    assert body["partner_profile_url"] == "https://vbr.trust.example/v1/applications/gh-nurse-2026-5699620"
    assert body["metadata"]["Candidate Link"].startswith("https://vbr.trust.example/greenhouse/take/")
    assert body["metadata"]["Score"] == "not scored yet"


def test_status_errors(gh, campaign):
    client, _ = gh
    iid = send(client, campaign)
    assert_problem(status(client, "ghi_nope"), 404, "partner_interview_id")
    assert_problem(client.get("/greenhouse/test_status", headers=basic(KEY)), 422, "partner_interview_id")
    assert_problem(status(client, iid, key=OTHER_KEY), 404)  # another tenant cannot see it


# ---------------------------------------------------------------------------------- the whole journey
def test_completion_patches_greenhouse_and_score_waits_for_the_gate(gh, engine, campaign, httpserver):
    client, adapter = gh
    httpserver.expect_oneshot_request("/integrations/testing_partners/take_home_tests/12345",
                                      method="PATCH").respond_with_data("", status=204)
    iid = send(client, campaign, url=httpserver.url_for("/integrations/testing_partners/take_home_tests/12345"))
    row = adapter.interview(None, iid)

    page = client.get(f"/greenhouse/take/{row['take_token']}")
    assert page.status_code == 200 and "<textarea" in page.text
    r = answer_all(client, adapter, iid, ANSWER + " Kate Austen")
    assert r.status_code == 200 and "Thank you" in r.text

    # the documented PATCH, with the key as the Basic-auth user name and no body
    httpserver.check_assertions()
    (request, _), = httpserver.log
    assert request.method == "PATCH" and request.get_data() == b""
    assert request.headers["Authorization"] == basic(CALLBACK_KEY)["Authorization"]
    assert adapter.interview(None, iid)["callback_state"] == "delivered"

    body = status(client, iid).json()
    assert_status_shape(body)
    assert body["partner_status"] == "complete"
    assert body["partner_score"] is None  # no shortlist has passed the gate yet
    assert "held until" in body["metadata"]["Score"] and "Candidate Link" not in body["metadata"]
    assert body["partner_profile_url"].endswith("/v1/applications/gh-nurse-2026-5699620")

    # the name was used to redact the answers and then forgotten
    answers = engine.store.responses(campaign)
    assert answers and all("Austen" not in a["redacted_text"] for a in answers)
    with engine.store.engine.connect() as conn:
        assert conn.execute(text("SELECT names FROM greenhouse_interviews")).scalar_one() is None

    # a held shortlist keeps the score back; the equality officer's release lets it out
    chosen = populate(engine, campaign, {"A": (80, 48), "N": (40, 12)})  # fairness.md: ratio 0.5, BLOCK
    held = engine.propose_shortlist(campaign, application_ids=chosen, actor="recruiter")
    assert held.decision.value == "BLOCK" and not held.released
    assert status(client, iid).json()["partner_score"] is None
    engine.release(held.shortlist_id, actor="officer", role="equality_officer", justification=JUSTIFICATION)
    released = status(client, iid).json()
    assert_status_shape(released)
    levels = [s["level"] for s in engine.store.current_scores(campaign)]
    assert released["partner_score"] == round(sum(levels) / len(levels), 2)
    assert released["metadata"]["Shortlist Gate"].startswith("released")

    # the link works once
    again = answer_all(client, adapter, iid)
    assert again.status_code == 422 and "already been submitted" in again.text


def test_score_shown_once_a_shortlist_passes(gh, engine, campaign):
    client, adapter = gh
    iid = send(client, campaign)
    answer_all(client, adapter, iid)
    assert status(client, iid).json()["partner_score"] is None
    chosen = populate(engine, campaign, {"A": (50, 20), "N": (50, 20), "H": (40, 16)})  # a clear PASS
    result = engine.propose_shortlist(campaign, application_ids=chosen, actor="recruiter")
    assert result.decision.value == "PASS"
    body = status(client, iid).json()
    assert jtype(body["partner_score"]) == "number" and body["metadata"]["Shortlist Gate"] in ("PASS", "released (PASS)")


def test_scores_from_vbr_itself_complete_the_interview(gh, engine, campaign, httpserver):
    """Answers that arrive through vbr (API, file import) and are scored there: the
    ``vbr_scores_ready`` event completes the interview and Greenhouse is told."""
    client, adapter = gh
    httpserver.expect_oneshot_request("/done", method="PATCH").respond_with_data("", status=200)
    iid = send(client, campaign, url=httpserver.url_for("/done"))
    qids = engine.store.campaign(campaign)["question_ids"]
    engine.store.add_applications([], [("gh-nurse-2026-5699620", q, ANSWER, ANSWER, None) for q in qids[:3]])
    engine.score(campaign, actor="recruiter")
    httpserver.check_assertions()
    assert adapter.interview(None, iid)["callback_state"] == "delivered"
    assert status(client, iid).json()["partner_status"] == "complete"


# ---------------------------------------------------------------------------------- callback failures
def test_callback_retries_with_backoff_then_delivers(gh, campaign, clock, httpserver):
    client, adapter = gh
    httpserver.expect_ordered_request("/cb", method="PATCH").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/cb", method="PATCH").respond_with_data("", status=200)
    iid = send(client, campaign, url=httpserver.url_for("/cb"))
    answer_all(client, adapter, iid)
    row = adapter.interview(None, iid)
    assert (row["callback_state"], row["callback_attempts"], row["callback_error"]) == ("pending", 1, "HTTP 503")
    assert adapter.deliver_pending() == {}  # not due yet
    clock.advance(seconds=31)
    assert adapter.deliver_pending() == {iid: "delivered"}
    httpserver.check_assertions()
    assert adapter.deliver_pending() == {}


def test_callback_stops_on_gone_and_on_unreachable_after_max_attempts(gh, campaign, clock, httpserver):
    client, adapter = gh
    httpserver.expect_request("/gone", method="PATCH").respond_with_data("", status=410)
    gone = send(client, campaign, url=httpserver.url_for("/gone"))
    answer_all(client, adapter, gone)
    assert adapter.interview(None, gone)["callback_state"] == "failed"

    adapter.settings.max_attempts = 2
    dead = send(client, campaign, application_id="777", url="http://127.0.0.1:9/nothing-listens-here")
    answer_all(client, adapter, dead)
    assert adapter.interview(None, dead)["callback_state"] == "pending"
    clock.advance(hours=2)
    assert adapter.deliver_pending() == {dead: "failed"}
    assert "ConnectError" in adapter.interview(None, dead)["callback_error"]
    assert len(httpserver.log) == 1  # the 410 was not retried


def test_no_callback_url_means_no_delivery(gh, campaign):
    client, adapter = gh
    body = send_body(campaign)
    body.pop("url")
    iid = client.post("/greenhouse/send_test", json=body, headers=basic(KEY)).json()["partner_interview_id"]
    answer_all(client, adapter, iid)
    assert adapter.interview(None, iid)["callback_state"] == "none"
    assert status(client, iid).json()["partner_status"] == "complete"


# ---------------------------------------------------------------------------------- response_error
def test_response_error_is_kept_and_logged(gh, engine):
    client, adapter = gh
    r = client.post("/greenhouse/response_error", json=fixture("response_error_request.json"), headers=basic(KEY))
    assert r.status_code == 200
    (err,) = adapter.errors()
    assert err["api_call"] == "test_status" and err["partner_interview_id"] == "98765"
    assert err["errors"] == fixture("response_error_request.json")["errors"]
    (entry,) = engine.store.log.entries(action="greenhouse.response_error")
    assert "kate_austen" not in json.dumps(entry.payload)  # the candidate's e-mail is not kept
    assert_problem(client.post("/greenhouse/response_error", json={"errors": []}, headers=basic(KEY)), 422,
                   "api_call")
    assert_problem(client.post("/greenhouse/response_error", json=fixture("response_error_request.json")), 401)


def test_take_page_errors(gh, campaign):
    client, adapter = gh
    assert client.get("/greenhouse/take/nope").status_code == 404
    iid = send(client, campaign)
    token = adapter.interview(None, iid)["take_token"]
    r = client.post(f"/greenhouse/take/{token}", data={"q_nothing": "x"})
    assert r.status_code == 422 and "please answer every question" in r.text
    assert adapter.interview(None, iid)["answered_at"] is None


def populate(engine, campaign: str, groups: dict[str, tuple[int, int]],
             mine: str = "gh-nurse-2026-5699620") -> list[str]:
    """Fill the campaign with applicants per ethnic code ``{code: (applied, selected)}``; our
    Greenhouse candidate is one of the first group's, and selected. Returns the selection."""
    apps, records, chosen = [], [EqualityRecord(application_id=mine, ethnic_code=next(iter(groups)))], [mine]
    for n_group, (code, (n, k)) in enumerate(groups.items()):
        skip = 1 if n_group == 0 else 0
        ids = [f"{code}-{i:03d}" for i in range(n - skip)]
        apps += [Application(id=i, campaign_id=campaign) for i in ids]
        records += [EqualityRecord(application_id=i, ethnic_code=code) for i in ids]
        chosen += ids[: k - skip]
    engine.store.add_applications(apps)
    engine.add_equality_records(records, actor="officer")
    return chosen


def _dump(engine) -> str:
    out = []
    with engine.store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        else:
            tables = [r[0] for r in conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))]
        for t in tables:
            out += [json.dumps([str(v) for v in row]) for row in conn.execute(text(f"SELECT * FROM {t}"))]
    return "\n".join(out)
