"""The relay: webhook events derived from the hash-chained audit log, so none is ever lost.

The event hooks run *after* the data they announce is committed. A process killed between that
commit and the hook would lose the event. But every change the events announce is written to the
audit log *in the same transaction* as the change itself (scores and their ``scores.added`` entry;
a gate decision and its ``shortlist.*`` entry). So the relay reads the log from where it stopped
and records the events of each new entry, and it is what the hooks and the delivery worker call:

* the hooks call it at once (low latency);
* the worker calls it at the start of every pass, so an event whose hook never ran (a crash, a
  process without the plugin) is recorded on the next pass anyway.

Each event's id is derived from the log entry (``msg_`` + hash of a per-database salt, the
entry's sequence number and the event type), so the same entry gives the same ``webhook-id``
however many times, and however many processes, relay it: recording is idempotent. The events of
a batch of entries and the cursor move in one transaction.

Log entries and their events:

====================================  =====================================================
``scores.added`` (campaign)           ``scores.ready``
``shortlist.pass``                    ``audit.completed``
``shortlist.review`` / ``.block``     ``audit.completed``, ``shortlist.held``
``shortlist.released`` (gate auto)    ``audit.completed``, ``shortlist.released``
``shortlist.released`` (a release)    ``shortlist.released`` (``override`` if it was held)
====================================  =====================================================

The relay starts at the log's head when the first endpoint is added (history is not replayed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any, Iterator

from sqlalchemy import Connection, text

from vbr.store.db import now

CURSOR = "audit_log"
BATCH = 500
_ACTIONS = ("scores.added", "shortlist.pass", "shortlist.review", "shortlist.block", "shortlist.released")


def ensure_cursor(conn: Connection) -> tuple[int, str]:
    """The relay's position and salt, created at the log's current head if absent."""
    row = conn.execute(text("SELECT last_seq, salt FROM webhook_relay WHERE name=:n"), {"n": CURSOR}).first()
    if row is not None:
        return int(row[0]), row[1]
    head = conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM audit_log")).scalar_one()
    salt = secrets.token_hex(16)
    conn.execute(text("INSERT INTO webhook_relay (name, last_seq, salt, updated_at) VALUES (:n, :s, :salt, :t)"),
                 {"n": CURSOR, "s": head, "salt": salt, "t": now()})
    return int(head), salt


def event_id(salt: str, seq: int, event_type: str) -> str:
    return "msg_" + hashlib.sha256(f"{salt}:{seq}:{event_type}".encode()).hexdigest()[:32]


def _events(conn: Connection, action: str, subject: str, payload: dict[str, Any]) -> Iterator[tuple[str, str, dict]]:
    """``(event type, campaign id, data)`` for one log entry."""
    kind, _, ident = subject.partition(":")
    if action == "scores.added":
        if kind == "campaign" and ident:
            yield "scores.ready", ident, {"scores": payload.get("n"), "scorer": payload.get("scorer"),
                                          "to_mark": payload.get("unscored", 0)}
        return
    if kind != "shortlist" or not ident.isdigit():
        return
    sid = int(ident)
    row = conn.execute(text("SELECT campaign_id, application_ids FROM shortlists WHERE id=:id"), {"id": sid}).first()
    if row is None:
        return
    campaign_id, ids = row[0], json.loads(row[1])
    decision = payload.get("decision")
    figures = payload.get("figures") or {}
    explicit_release = "decision_of" in figures  # vbr.fairness.gate.release(): not a new audit
    if not explicit_release:
        yield "audit.completed", campaign_id, {"shortlist_id": sid, "decision": decision,
                                               "regime": payload.get("regime")}
    if action in ("shortlist.review", "shortlist.block"):
        yield "shortlist.held", campaign_id, {"shortlist_id": sid, "decision": decision}
    elif action == "shortlist.released":
        yield "shortlist.released", campaign_id, {
            "shortlist_id": sid, "decision": decision,
            "override": bool(explicit_release and figures.get("override_of") is not None),
            "application_ids": ids}


def relay(outbox, *, limit: int = BATCH) -> int:
    """Record the events of log entries after the cursor, a batch at a time; returns how many."""
    from vbr.webhooks.outbox import event_body

    total = 0
    while True:
        with outbox.engine.begin() as conn:
            ensure_cursor(conn)
            # take the cursor's row lock first, so two relays take turns instead of racing
            conn.execute(text("UPDATE webhook_relay SET updated_at=:t WHERE name=:n"), {"t": now(), "n": CURSOR})
            last, salt = ensure_cursor(conn)
            rows = conn.execute(text(
                "SELECT seq, action, subject, payload FROM audit_log WHERE seq > :s ORDER BY seq LIMIT :k"),
                {"s": last, "k": limit}).all()
            if not rows:
                return total
            tenants: dict[str, str] = {}
            for seq, action, subject, payload in rows:
                if action not in _ACTIONS:
                    continue
                for event_type, campaign_id, data in _events(conn, action, subject, json.loads(payload)):
                    if campaign_id not in tenants:
                        t = conn.execute(text("SELECT tenant FROM campaigns WHERE id=:c"), {"c": campaign_id}).first()
                        tenants[campaign_id] = t[0] if t else "default"
                    ts = now()
                    outbox.enqueue_in(conn, event_id(salt, seq, event_type), event_type,
                                              event_body(event_type, ts, {"campaign_id": campaign_id, **data}),
                                              tenants[campaign_id], subject, ts, outbox.now_ms())
                    total += 1
            conn.execute(text("UPDATE webhook_relay SET last_seq=:s, updated_at=:t WHERE name=:n"),
                         {"s": rows[-1][0], "t": now(), "n": CURSOR})
        if len(rows) < limit:
            return total


__all__ = ["relay", "ensure_cursor", "event_id"]
