"""The module ``vbr.webhooks.plugin`` as a default plugin: which database its events go to."""

from __future__ import annotations

import uuid

import vbr.webhooks.plugin as webhook_plugin
from vbr.plugins import build
from vbr.webhooks.outbox import Outbox

TEXT = "I sat with the patient, listened to her worries and involved her family in the plan."


def engine_with_campaign(tmp_path, name: str, cid: str):
    from vbr.engine import Engine

    eng = Engine(tmp_path / name, plugins=build(load_entrypoints=False))  # the webhook plugin is a default plugin
    eng.create_campaign(cid, "Nurse", "6cs", question_ids=["6cs-care-1"], actor="recruiter")
    eng.submit(cid, [{"id": f"{cid}-a1", "campaign_id": cid}],
               [{"application_id": f"{cid}-a1", "question_id": "6cs-care-1", "text": TEXT}])
    return eng


def test_events_go_to_the_open_store_holding_the_campaign(tmp_path):
    cid = "c-" + uuid.uuid4().hex[:8]
    eng = engine_with_campaign(tmp_path, "main.sqlite", cid)
    ob = Outbox(eng.store.engine)
    ob.add_endpoint("https://ats.example/h", actor="admin")
    eng.score(cid)
    [d] = ob.deliveries()
    assert d["event_type"] == "scores.ready" and ob.event(d["event_id"])["tenant"] == "default"


def test_bind_names_the_database_explicitly(tmp_path):
    cid = "c-" + uuid.uuid4().hex[:8]
    eng = engine_with_campaign(tmp_path, "a.sqlite", cid)
    other = engine_with_campaign(tmp_path, "b.sqlite", cid)  # same campaign id in two databases
    ob_a, ob_b = Outbox(eng.store.engine), Outbox(other.store.engine)
    ob_a.add_endpoint("https://a.example/h", actor="admin")
    ob_b.add_endpoint("https://b.example/h", actor="admin")
    eng.score(cid)  # ambiguous without a binding: nothing is filed under the wrong database
    assert ob_a.deliveries() == [] and ob_b.deliveries() == []
    with webhook_plugin.bind(eng.store.url):
        eng.score(cid)
    # the relay records both scoring runs from the log: the one whose hook found no database too
    assert [d["event_type"] for d in ob_a.deliveries()] == ["scores.ready", "scores.ready"]
    assert ob_b.deliveries() == []


def test_no_database_no_event_and_none_created(tmp_path, monkeypatch):
    monkeypatch.setenv("VBR_DB", str(tmp_path / "absent.sqlite"))
    plugins = build(load_entrypoints=False)  # the webhook plugin is a default plugin
    plugins.hook.vbr_scores_ready(campaign_id="c-nowhere-" + uuid.uuid4().hex, scores=[])
    assert not (tmp_path / "absent.sqlite").exists()
