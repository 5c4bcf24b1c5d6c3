"""``kill -9`` on both sides of the outbox.

1. The producer dies after a gate decision commits but before any event hook ran: the worker's
   relay reads the decision from the audit log, and its events are delivered (second test).
2. A delivery worker is killed in the middle of a send and restarted: every event arrives at least
once, the one in flight possibly twice, always under the same ``webhook-id`` (so the receiver
deduplicates it), and nothing is lost.

Deterministic: the receiving server blocks inside the 75th request and tells the test, which
SIGKILLs the worker at that moment (mid-send, with later deliveries of its batch leased but
unsent). No sleeps: the test waits for conditions (the server's signal, the leases' expiry in
the database).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from werkzeug import Response

from vbr.webhooks.outbox import Outbox
from vbr.webhooks.receiver import Replayed, SeenIds, verify

EVENTS = 200
BLOCK_AT = 75

DRIVER = textwrap.dedent('''
    import sys
    from vbr.webhooks.delivery import DeliveryWorker
    from vbr.webhooks.outbox import Outbox

    worker = DeliveryWorker(Outbox.open(sys.argv[1]), timeout=30, lease_seconds=float(sys.argv[2]), batch=50)
    summary = worker.run_once()
    print("DONE", summary.delivered, flush=True)
''')


def run_worker(tmp_path, url, lease):
    script = tmp_path / "worker.py"
    script.write_text(DRIVER, encoding="utf-8")
    env = {**os.environ, "VBR_DATA_DIR": str(tmp_path / "data")}
    return subprocess.Popen([sys.executable, str(script), url, str(lease)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_kill_9_mid_send_then_restart_delivers_everything_at_least_once(tmp_path, httpserver):
    url = f"sqlite:///{tmp_path / 'vbr.sqlite'}"
    outbox = Outbox.open(url)
    ep = outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    event_ids = [outbox.enqueue("scores.ready", {"campaign_id": "c1", "n": i})[0] for i in range(EVENTS)]

    received: list[str] = []
    messages: list[tuple[dict, bytes]] = []
    hit, release = threading.Event(), threading.Event()
    lock = threading.Lock()

    def handler(request):
        body = request.get_data()
        verify(dict(request.headers), body, ep["secret"])  # signed correctly, fresh timestamp
        with lock:
            received.append(request.headers["webhook-id"])
            messages.append(({k.lower(): v for k, v in request.headers.items()}, body))
            n = len(received)
        if n == BLOCK_AT:
            hit.set()
            release.wait(60)
        return Response("", status=204)

    httpserver.expect_request("/hooks", method="POST").respond_with_handler(handler)

    proc = run_worker(tmp_path, url, lease=2.0)
    try:
        assert hit.wait(120), proc.stderr.read() if proc.poll() is not None else "worker never reached the block"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()

    counts = outbox.counts()
    assert counts == {"delivered": BLOCK_AT - 1, "pending": EVENTS - BLOCK_AT + 1}
    rows = outbox.deliveries(limit=1000)
    leased = [r for r in rows if r["lease_until_ms"] is not None]
    assert len(leased) == 50 - (BLOCK_AT - 1) % 50  # the killed worker's batch: in flight + not yet sent
    attempts = sum(len(outbox.delivery(r["id"])["attempt_log"]) for r in rows[:BLOCK_AT])
    assert attempts == BLOCK_AT - 1  # the attempt in flight was never recorded: it will be made again

    deadline = time.time() + 30  # wait for the condition (the dead worker's leases expire), not a fixed time
    while time.time() * 1000 <= max(r["lease_until_ms"] for r in leased) and time.time() < deadline:
        time.sleep(0.05)

    proc = run_worker(tmp_path, url, lease=30.0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == f"DONE {EVENTS - BLOCK_AT + 1}"
    assert outbox.counts() == {"delivered": EVENTS}

    # every event arrived at least once; only the one in flight arrived twice, under the same id
    assert set(received) == set(event_ids)
    dupes = {i for i in received if received.count(i) > 1}
    assert dupes == {event_ids[BLOCK_AT - 1]} and received.count(event_ids[BLOCK_AT - 1]) == 2
    # ... and vbr's receiving helper, deduplicating on webhook-id, acts on each event exactly once
    seen, acted, replayed = SeenIds(), [], 0
    for headers, body in messages:
        try:
            verify(headers, body, ep["secret"], seen_ids=seen)
        except Replayed:
            replayed += 1
            continue
        acted.append(headers["webhook-id"])
    assert sorted(acted) == sorted(event_ids) and replayed == 1


PRODUCER = textwrap.dedent('''
    import sys, time
    from vbr.fairness.equality import EqualityStore
    from vbr.fairness.gate import ShortlistGate
    from vbr.hookspecs import hookimpl
    from vbr.plugins import build
    from vbr.store import Store
    from vbr.webhooks.plugin import WebhookEvents

    class DieInHook:
        @hookimpl(tryfirst=True)
        def vbr_audit_complete(self, campaign_id, audit):
            print("IN-HOOK", flush=True)
            time.sleep(120)  # the test kills us here: the decision is committed, no hook has recorded it

    url, eq_url, ids = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    store = Store(url)
    plugins = build(load_entrypoints=False, extra_plugins=(WebhookEvents(url), DieInHook()))
    ShortlistGate(store, EqualityStore(eq_url), plugins=plugins).propose("c1", ids, actor="recruiter")
    print("NOT KILLED", flush=True)
''')


def test_kill_9_after_a_decision_commits_but_before_its_hook_loses_no_event(tmp_path, httpserver, clock):
    """The process dies after the gate's decision is committed and before any event hook records
    it; the worker's relay reads the decision from the audit log and delivers its events."""
    from tests.webhooks.test_outbox_events import make_campaign
    from vbr.fairness.equality import EqualityStore
    from vbr.store import Store
    from vbr.webhooks.delivery import DeliveryWorker

    url, eq_url = f"sqlite:///{tmp_path / 'vbr.sqlite'}", f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}"
    store = Store(url)
    outbox = Outbox(store.engine, clock=clock)
    got: list[dict] = []
    httpserver.expect_request("/hooks").respond_with_handler(
        lambda r: got.append(json.loads(r.get_data())) or Response("", status=200))
    outbox.add_endpoint(httpserver.url_for("/hooks"), actor="admin")
    ids = make_campaign(store, EqualityStore(eq_url), "c1", {"A": (50, 20), "N": (50, 20)})

    script = tmp_path / "producer.py"
    script.write_text(PRODUCER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), url, eq_url, ",".join(ids)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "VBR_DATA_DIR": str(tmp_path / "data")})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "IN-HOOK", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()

    assert len(store.decisions(1)) == 1 and outbox.deliveries() == []  # decided, not yet announced
    summary = DeliveryWorker(outbox, clock=clock).run_once()  # a worker (re)starts
    assert (summary.relayed, summary.delivered) == (2, 2)
    assert [m["type"] for m in got] == ["audit.completed", "shortlist.released"]
    assert got[1]["data"]["application_ids"] == ids
