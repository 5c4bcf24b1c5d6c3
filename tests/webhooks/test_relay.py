"""The relay records events from the audit log: nothing is lost when a hook never ran, nothing is
recorded twice, and history before the first endpoint is not replayed."""

from __future__ import annotations

import json

import pytest

from tests.webhooks.test_outbox_events import JUSTIFICATION, make_campaign
from vbr.fairness.equality import EqualityStore
from vbr.fairness.gate import ShortlistGate
from vbr.plugins import build
from vbr.webhooks.plugin import WebhookEvents
from vbr.webhooks.relay import relay


@pytest.fixture
def bare_gate(store, tmp_path):
    """A gate whose plugin system has no webhook plugin: the hooks never record anything."""
    equality = EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")
    plugins = build(load_entrypoints=False)
    plugins.pm.unregister(name="vbr.webhooks.plugin")  # a default plugin: take it out for this gate
    return ShortlistGate(store, equality, plugins=plugins), equality


def kinds(outbox):
    return [(d["event_type"], json.loads(outbox.event(d["event_id"])["payload"])["data"]) for d in outbox.deliveries()]


def test_events_whose_hooks_never_ran_are_recorded_from_the_log(store, outbox, bare_gate):
    gate, equality = bare_gate
    outbox.add_endpoint("https://ats.example/h", actor="admin")
    passing = make_campaign(store, equality, "c-pass", {"A": (50, 20), "N": (50, 20)})
    held = make_campaign(store, equality, "c-blk", {"A": (80, 48), "N": (40, 12)})
    p = gate.propose("c-pass", passing, actor="recruiter")
    h = gate.propose("c-blk", held, actor="recruiter")
    gate.release(h.shortlist_id, actor="officer", role="equality_officer", justification=JUSTIFICATION)
    assert outbox.deliveries() == []
    assert relay(outbox) == 5
    got = kinds(outbox)
    assert [k for k, _ in got] == ["audit.completed", "shortlist.released", "audit.completed", "shortlist.held",
                                   "shortlist.released"]
    assert got[1][1] == {"campaign_id": "c-pass", "shortlist_id": p.shortlist_id, "decision": "PASS",
                         "override": False, "application_ids": passing}
    assert got[3][1]["decision"] == h.decision.value and got[4][1]["override"] is True
    assert got[4][1]["application_ids"] == held
    assert relay(outbox) == 0 and len(outbox.deliveries()) == 5  # nothing twice


def test_hook_and_relay_record_each_event_once(store, outbox, tmp_path, db_url):
    equality = EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")
    gate = ShortlistGate(store, equality, plugins=build(load_entrypoints=False, extra_plugins=(WebhookEvents(db_url),)))
    outbox.add_endpoint("https://ats.example/h", actor="admin")
    ids = make_campaign(store, equality, "c1", {"A": (50, 20), "N": (50, 20)})
    gate.propose("c1", ids, actor="recruiter")
    first = [d["event_id"] for d in outbox.deliveries()]
    assert len(first) == 2
    from sqlalchemy import text

    with outbox.engine.begin() as conn:  # even a relay that starts over derives the same ids
        conn.execute(text("UPDATE webhook_relay SET last_seq = 0"))
    relay(outbox)
    assert [d["event_id"] for d in outbox.deliveries()] == first


def test_history_before_the_first_endpoint_is_not_replayed(store, outbox, bare_gate):
    gate, equality = bare_gate
    ids = make_campaign(store, equality, "c-old", {"A": (50, 20), "N": (50, 20)})
    gate.propose("c-old", ids, actor="recruiter")
    outbox.add_endpoint("https://ats.example/h", actor="admin")
    assert relay(outbox) == 0 and outbox.deliveries() == []
    ids = make_campaign(store, equality, "c-new", {"A": (50, 20), "N": (50, 20)})
    gate.propose("c-new", ids, actor="recruiter")
    assert relay(outbox) == 2


def test_the_worker_relays_before_sending(store, outbox, bare_gate, clock, httpserver):
    from werkzeug import Response

    from vbr.webhooks.delivery import DeliveryWorker

    gate, equality = bare_gate
    httpserver.expect_request("/h").respond_with_response(Response("", status=200))
    outbox.add_endpoint(httpserver.url_for("/h"), actor="admin")
    ids = make_campaign(store, equality, "c1", {"A": (50, 20), "N": (50, 20)})
    gate.propose("c1", ids, actor="recruiter")
    summary = DeliveryWorker(outbox, clock=clock).run_once()
    assert (summary.relayed, summary.delivered) == (2, 2)
