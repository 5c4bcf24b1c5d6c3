"""The event hooks write one outbox row per subscribed endpoint, in the main database."""

from __future__ import annotations

import json

import pytest

from vbr.errors import NotFound, ValidationFailed
from vbr.fairness.equality import EqualityRecord, EqualityStore
from vbr.fairness.gate import ShortlistGate
from vbr.models import Application, Campaign
from vbr.plugins import build
from vbr.webhooks.outbox import Outbox
from vbr.webhooks.plugin import WebhookEvents

JUSTIFICATION = "Reviewed the audit with the panel: the gap reflects two withdrawals, see minutes 12/3."


def make_campaign(store, equality, cid, groups, tenant="default"):
    store.add_campaign(Campaign(id=cid, title="Staff nurse", rubric_id="nhs-constitution"),
                       "nhs-constitution@1.0", actor="recruiter", tenant=tenant)
    apps, recs, chosen = [], [], []
    for code, (n, k) in groups.items():
        ids = [f"{cid}-{code}-{i:03d}" for i in range(n)]
        apps += [Application(id=i, campaign_id=cid) for i in ids]
        recs += [EqualityRecord(application_id=i, ethnic_code=code) for i in ids]
        chosen += ids[:k]
    store.add_applications(apps)
    equality.import_records(recs, actor="officer", source="test")
    return chosen


@pytest.fixture
def gate(store, tmp_path, db_url):
    equality = EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")
    plugins = build(load_entrypoints=False, extra_plugins=(WebhookEvents(db_url),))
    return ShortlistGate(store, equality, plugins=plugins), equality


def events(outbox):
    with outbox.engine.connect() as conn:
        from sqlalchemy import text

        return [(r[0], json.loads(r[1])) for r in conn.execute(text("SELECT type, payload FROM webhook_events ORDER BY created_ms, created_at"))]


def test_pass_writes_audit_completed_and_released_for_each_subscribed_endpoint(store, outbox, gate):
    g, equality = gate
    all_ep = outbox.add_endpoint("https://ats.example/hooks", actor="admin")
    only_rel = outbox.add_endpoint("https://ats2.example/hooks", actor="admin", event_types=["shortlist.released"])
    other_tenant = outbox.add_endpoint("https://other.example/hooks", actor="admin", tenant="trust-b")
    ids = make_campaign(store, equality, "c-pass", {"A": (50, 20), "N": (50, 20)})
    result = g.propose("c-pass", ids, actor="recruiter")
    assert result.released
    evs = events(outbox)
    assert [t for t, _ in evs] == ["audit.completed", "shortlist.released"]
    audit = evs[0][1]["data"]
    assert audit == {"campaign_id": "c-pass", "shortlist_id": result.shortlist_id, "decision": "PASS",
                     "regime": "ugesp"}
    released = evs[1][1]["data"]
    assert released["application_ids"] == ids and released["shortlist_id"] == result.shortlist_id
    assert released["override"] is False
    by_ep = {}
    for d in outbox.deliveries():
        by_ep.setdefault(d["endpoint_id"], []).append(d["event_type"])
    assert by_ep == {all_ep["id"]: ["audit.completed", "shortlist.released"],
                     only_rel["id"]: ["shortlist.released"]}
    assert other_tenant["id"] not in by_ep
    # no equality figures travel in a webhook
    for _, body in evs:
        text_ = json.dumps(body)
        assert "ethnic" not in text_ and "groups" not in text_ and "impact" not in text_


def test_held_then_override_release(store, outbox, gate):
    g, equality = gate
    outbox.add_endpoint("https://ats.example/hooks", actor="admin")
    ids = make_campaign(store, equality, "c-blk", {"A": (80, 48), "N": (40, 12)})
    result = g.propose("c-blk", ids, actor="recruiter")
    assert not result.released
    g.release(result.shortlist_id, actor="officer", role="equality_officer", justification=JUSTIFICATION)
    evs = events(outbox)
    assert [t for t, _ in evs] == ["audit.completed", "shortlist.held", "shortlist.released"]
    held = evs[1][1]["data"]
    assert held["decision"] in ("REVIEW", "BLOCK") and held["shortlist_id"] == result.shortlist_id
    assert "application_ids" not in held
    rel = evs[2][1]["data"]
    assert rel["override"] is True and rel["shortlist_id"] == result.shortlist_id


def test_tenant_of_the_campaign_decides_which_endpoints_get_it(store, outbox, gate):
    g, equality = gate
    a = outbox.add_endpoint("https://a.example/h", actor="admin", tenant="trust-a")
    b = outbox.add_endpoint("https://b.example/h", actor="admin", tenant="trust-b")
    ids = make_campaign(store, equality, "c-b", {"A": (50, 20), "N": (50, 20)}, tenant="trust-b")
    g.propose("c-b", ids, actor="recruiter")
    eps = {d["endpoint_id"] for d in outbox.deliveries()}
    assert eps == {b["id"]} and a["id"] not in eps
    assert outbox.deliveries(tenant="trust-a") == []


def test_scores_ready_from_the_engine_carries_no_levels(tmp_path):
    from vbr.engine import Engine

    url = f"sqlite:///{tmp_path / 'engine.sqlite'}"
    eng = Engine(url, plugins=build(load_entrypoints=False, extra_plugins=(WebhookEvents(url),)))
    ob = Outbox(eng.store.engine)
    ob.add_endpoint("https://ats.example/h", actor="admin", event_types=["scores.ready"])
    eng.create_campaign("c1", "Nurse", "6cs", question_ids=["6cs-care-1"], actor="recruiter")
    eng.submit("c1", [{"id": "a1", "campaign_id": "c1"}, {"id": "a2", "campaign_id": "c1"}],
               [{"application_id": "a1", "question_id": "6cs-care-1",
                 "text": "I sat with the patient, listened to her worries and involved her family in the plan."},
                {"application_id": "a2", "question_id": "6cs-care-1", "text": " "}])
    eng.score("c1")
    [d] = ob.deliveries()
    body = ob.delivery(d["id"])["payload"]
    assert body["type"] == "scores.ready"
    assert body["data"]["campaign_id"] == "c1" and body["data"]["scores"] >= 1
    assert body["data"]["to_mark"] == 1  # the blank answer, for a person
    assert body["data"]["scorer"].startswith("evidence@")
    assert "level" not in json.dumps(body)


def test_no_endpoint_no_delivery_but_the_event_is_kept(store, outbox):
    event_id, n = outbox.enqueue("scores.ready", {"campaign_id": "c"}, tenant="default")
    assert n == 0 and outbox.event(event_id)["type"] == "scores.ready"


def test_bad_endpoint_input(outbox):
    for url in ("ftp://x.example/h", "not a url", "https://user:pw@x.example/h"):
        with pytest.raises(ValidationFailed):
            outbox.add_endpoint(url, actor="admin")
    with pytest.raises(ValidationFailed):
        outbox.add_endpoint("https://x.example/h", actor="admin", event_types=["shortlist.leaked"])
    with pytest.raises(ValidationFailed):
        outbox.add_endpoint("https://x.example/h", actor="admin", secret="whsec_!!")
    assert outbox.endpoints() == []
    with pytest.raises(NotFound):
        outbox.rotate_secret("ep_nope", actor="admin")


def test_rotation_keeps_the_old_secret_for_the_grace_period(outbox, clock):
    ep = outbox.add_endpoint("https://x.example/h", actor="admin")
    new = outbox.rotate_secret(ep["id"], actor="admin", grace_seconds=3600)
    assert outbox.live_secrets(ep["id"]) == [new, ep["secret"]]
    clock.advance(3599)
    assert len(outbox.live_secrets(ep["id"])) == 2
    clock.advance(2)
    assert outbox.live_secrets(ep["id"]) == [new]
    newer = outbox.rotate_secret(ep["id"], actor="admin", grace_seconds=0)
    assert outbox.live_secrets(ep["id"]) == [newer]
    actions = [e.action for e in outbox.log.entries(subject=f"webhook_endpoint:{ep['id']}")]
    assert actions == ["webhook.endpoint_added", "webhook.secret_rotated", "webhook.secret_rotated"]
    assert ep["secret"] not in json.dumps(outbox.endpoints())
