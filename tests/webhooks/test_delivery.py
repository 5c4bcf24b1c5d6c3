"""The delivery worker against a real HTTP server on 127.0.0.1 (pytest-httpserver).

The worker's clock and random source are injected, so retries are checked without sleeping.
"""

from __future__ import annotations

import json

import httpx
import pytest
import standardwebhooks
from werkzeug import Response

from vbr.webhooks.delivery import DeliveryWorker, RetryPolicy
from vbr.webhooks.outbox import Outbox


@pytest.fixture
def received():
    return []


def recorder(received, status=200):
    def handler(request):
        received.append({"headers": {k.lower(): v for k, v in request.headers.items()}, "body": request.get_data()})
        return Response("ok", status=status)
    return handler


def worker(outbox, clock, **kw):
    kw.setdefault("rand", lambda: 0.5)
    return DeliveryWorker(outbox, clock=clock, timeout=2.0, **kw)


def test_delivered_and_signed_for_standardwebhooks(httpserver, outbox, clock, received):
    import time

    clock.t = time.time()  # standardwebhooks checks the timestamp against the real clock
    httpserver.expect_request("/hooks", method="POST").respond_with_handler(recorder(received))
    ep = outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    event_id, n = outbox.enqueue("shortlist.released", {"campaign_id": "c1", "application_ids": ["a1", "a2"]})
    assert n == 1
    summary = worker(outbox, clock).run_once()
    assert summary.delivered == 1 and summary.claimed == 1
    [msg] = received
    assert msg["headers"]["webhook-id"] == event_id
    assert msg["headers"]["content-type"] == "application/json"
    payload = standardwebhooks.Webhook(ep["secret"]).verify(msg["body"], msg["headers"])
    assert payload["type"] == "shortlist.released" and payload["data"]["application_ids"] == ["a1", "a2"]
    [d] = outbox.deliveries()
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["last_status"] == 200
    assert [a["status_code"] for a in outbox.delivery(d["id"])["attempt_log"]] == [200]
    assert worker(outbox, clock).run_once().claimed == 0  # nothing more to do


def test_retries_with_exponential_backoff_and_jitter_then_delivers(httpserver, outbox, clock, received):
    state = {"n": 0}

    def flaky(request):
        state["n"] += 1
        received.append(request.headers.get("webhook-id"))
        return Response("busy", status=503 if state["n"] <= 3 else 200)

    httpserver.expect_request("/hooks").respond_with_handler(flaky)
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    rands = iter([0.0, 1.0, 0.25])
    policy = RetryPolicy(base_seconds=10, factor=2, jitter=0.5, max_attempts=5)
    w = worker(outbox, clock, policy=policy, rand=lambda: next(rands))
    start = clock.t
    due_times = []
    for _ in range(3):
        assert w.run_once().retrying == 1
        [d] = outbox.deliveries()
        due_times.append((d["next_attempt_ms"] / 1000) - clock.t)
        assert w.run_once().claimed == 0  # not due yet: nothing is sent early
        clock.advance(due_times[-1])
    # delay(a) = base*2**(a-1) * (0.5 + 0.5*rand): 10*(0.5+0) , 20*(0.5+0.5), 40*(0.5+0.125)
    assert due_times == pytest.approx([5.0, 20.0, 25.0])
    assert w.run_once().delivered == 1
    assert clock.t - start == pytest.approx(50.0)
    assert len(set(received)) == 1 and len(received) == 4  # same webhook-id every time
    [d] = outbox.deliveries()
    log = outbox.delivery(d["id"])["attempt_log"]
    assert [a["status_code"] for a in log] == [503, 503, 503, 200] and [a["attempt"] for a in log] == [1, 2, 3, 4]


def test_backoff_is_capped_and_jitter_stays_in_range():
    p = RetryPolicy(base_seconds=5, factor=2, max_delay_seconds=60, jitter=0.5)
    assert p.delay(1, lambda: 0.0) == 2.5 and p.delay(1, lambda: 1.0) == 5.0
    assert p.delay(10, lambda: 1.0) == 60.0 and p.delay(10, lambda: 0.0) == 30.0


def test_gives_up_after_max_attempts_then_replay_sends_again(httpserver, outbox, clock, received):
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received, status=500))
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    event_id, _ = outbox.enqueue("shortlist.held", {"campaign_id": "c1"})
    w = worker(outbox, clock, policy=RetryPolicy(base_seconds=1, max_attempts=3))
    for _ in range(3):
        w.run_once()
        clock.advance(3600)
    [d] = outbox.deliveries()
    assert d["status"] == "failed" and d["attempts"] == 3 and d["last_error"] == "HTTP 500"
    assert w.run_once().claimed == 0
    httpserver.clear()
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received, status=204))
    replayed = outbox.replay(d["id"], actor="admin")
    assert replayed["status"] == "pending"
    assert w.run_once().delivered == 1
    assert {m["headers"]["webhook-id"] for m in received} == {event_id}
    assert len(outbox.delivery(d["id"])["attempt_log"]) == 4  # earlier attempts are kept
    assert [e.action for e in outbox.log.entries(subject=f"webhook_delivery:{d['id']}")] == ["webhook.replayed"]


def test_410_disables_the_endpoint_and_stops(httpserver, outbox, clock, received):
    httpserver.expect_request("/gone").respond_with_handler(recorder(received, status=410))
    httpserver.expect_request("/fine").respond_with_handler(recorder(received, status=200))
    gone = outbox.add_endpoint(httpserver.url_for("/gone"), actor="admin")
    fine = outbox.add_endpoint(httpserver.url_for("/fine"), actor="admin")
    for _ in range(3):
        outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    w = worker(outbox, clock)  # all six claimed in one batch: after the 410, no more go to that endpoint
    s = w.run_once()
    assert s.gone == 1 and s.delivered == 3
    ep = outbox.endpoint(gone["id"])
    assert ep["status"] == "disabled" and "410" in ep["disabled_reason"]
    gone_rows = outbox.deliveries(endpoint_id=gone["id"])
    assert [r["status"] for r in gone_rows] == ["failed", "pending", "pending"]
    clock.advance(10 ** 6)
    assert w.run_once().claimed == 0  # nothing more goes to a 410 endpoint
    assert all(r["lease_until_ms"] is None for r in outbox.deliveries(endpoint_id=gone["id"]))
    assert outbox.endpoint(fine["id"])["status"] == "active"
    # enabling it again resumes the waiting deliveries
    httpserver.clear()
    httpserver.expect_request("/gone").respond_with_handler(recorder(received, status=200))
    outbox.set_endpoint_status(gone["id"], "active", actor="admin")
    assert w.run_once().delivered == 2


def test_connection_refused_and_timeout_are_retried(outbox, clock):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    outbox.add_endpoint(f"http://127.0.0.1:{port}/hooks", actor="admin")
    outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    w = worker(outbox, clock)
    assert w.run_once().retrying == 1
    [d] = outbox.deliveries()
    assert d["status"] == "pending" and "ConnectError" in d["last_error"]

    def timeout(request):
        raise httpx.ReadTimeout("timed out", request=request)

    ob2 = outbox
    clock.advance(3600)
    w2 = DeliveryWorker(ob2, clock=clock, client=httpx.Client(transport=httpx.MockTransport(timeout)))
    assert w2.run_once().retrying == 1
    assert "ReadTimeout" in ob2.deliveries()[0]["last_error"]


def test_redirects_are_not_followed(httpserver, outbox, clock, received):
    httpserver.expect_request("/moved").respond_with_response(Response("", status=302, headers={"location": "/x"}))
    httpserver.expect_request("/x").respond_with_handler(recorder(received))
    outbox.add_endpoint(httpserver.url_for("/moved"), actor="admin")
    outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    assert worker(outbox, clock).run_once().retrying == 1
    assert received == []


def test_two_workers_never_send_the_same_delivery_at_once(httpserver, outbox, clock, received):
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received))
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    for _ in range(5):
        outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    a, b = worker(outbox, clock), worker(outbox, clock)
    claimed_a = a.claim()
    assert len(claimed_a) == 5 and b.claim() == []  # leased by a
    for job in claimed_a:
        a.send(job)
    assert len(received) == 5 and b.run_once().claimed == 0


def test_an_expired_lease_is_sent_again_with_the_same_id(httpserver, outbox, clock, received):
    """A worker that died after claiming (or mid-send) leaves a lease; after it runs out the
    delivery goes out again: at least once, deduplicable by webhook-id."""
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received))
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    event_id, _ = outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    dead = worker(outbox, clock, lease_seconds=60)
    assert len(dead.claim()) == 1  # ... and never reports back
    fresh = worker(outbox, clock)
    assert fresh.run_once().claimed == 0
    clock.advance(61)
    assert fresh.run_once().delivered == 1
    assert [m["headers"]["webhook-id"] for m in received] == [event_id]


def test_rotated_secrets_both_sign_deliveries(httpserver, outbox, clock, received):
    import time

    clock.t = time.time()
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received))
    ep = outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    new = outbox.rotate_secret(ep["id"], actor="admin", grace_seconds=60)
    outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    worker(outbox, clock).run_once()
    [msg] = received
    assert len(msg["headers"]["webhook-signature"].split()) == 2
    for s in (ep["secret"], new):
        standardwebhooks.Webhook(s).verify(msg["body"], msg["headers"])
    assert json.loads(msg["body"])["type"] == "scores.ready"


def test_run_loop_sleeps_only_when_idle_and_stops(httpserver, outbox, clock, received):
    httpserver.expect_request("/hooks").respond_with_handler(recorder(received))
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    outbox.enqueue("scores.ready", {"campaign_id": "c1"})
    sleeps = []
    w = worker(outbox, clock)
    w.run(stop=lambda: len(sleeps) >= 2, sleep=sleeps.append, idle_seconds=0.25)
    assert sleeps == [0.25, 0.25] and len(received) == 1
