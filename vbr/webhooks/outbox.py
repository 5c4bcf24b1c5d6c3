"""The webhook outbox: endpoints, their secrets, events and deliveries, in the main database.

An event is written once (:meth:`Outbox.enqueue`) together with one delivery row per active
endpoint of the event's tenant that subscribes to its type, in one transaction. A delivery worker
(:mod:`vbr.webhooks.delivery`) sends what is due; everything it needs after a restart is in these
rows. Endpoint changes (added, secret rotated, disabled, enabled) and manual replays also go to
the hash-chained audit log: who receives which data is itself something to be able to show.

Secrets are stored as given (HMAC needs the key itself), so the database must be protected like
any other credential store; they are shown once, when made, and never listed.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.errors import NotFound, ValidationFailed
from vbr.store.db import migrate, now
from vbr.webhooks.migrations import APPEND_ONLY, MIGRATIONS
from vbr.webhooks.signing import generate_secret, secret_bytes

EVENT_TYPES = ("scores.ready", "audit.completed", "shortlist.released", "shortlist.held")
DEFAULT_GRACE_SECONDS = 24 * 3600
_MIGRATED: set[int] = set()


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def new_event_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and 32 hex digits."""
    return "msg_" + uuid.uuid4().hex


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"{url!r} is not an http(s) URL", field="url",
                               hint="give the full URL the ATS receives webhooks at, e.g. https://ats.example/hooks/vbr")
    if parts.username or parts.password:
        raise ValidationFailed("an endpoint URL must not carry credentials", field="url",
                               hint="the signature authenticates vbr; remove user:password@ from the URL")
    return url.strip()


def check_event_types(types: Iterable[str]) -> list[str]:
    out = sorted({t.strip() for t in types if t.strip()})
    if not out:
        return ["*"]
    bad = [t for t in out if t != "*" and t not in EVENT_TYPES]
    if bad:
        raise ValidationFailed(f"unknown event type(s) {bad}", field="event_types",
                               hint=f"choose from {', '.join(EVENT_TYPES)} or '*'")
    return out


def event_body(event_type: str, ts: str, data: dict[str, Any]) -> str:
    """The JSON body every delivery of an event sends: ``{"type", "timestamp", "data"}``."""
    return json.dumps({"type": event_type, "timestamp": ts, "data": data}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)


class Outbox:
    """Endpoints and deliveries in the database of ``engine`` (the main store's)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        if id(engine) not in _MIGRATED:
            migrate(engine, MIGRATIONS, APPEND_ONLY)
            _MIGRATED.add(id(engine))
        from vbr.store.log import AuditLog

        self.log = AuditLog(engine)

    @classmethod
    def open(cls, url: str | None = None, **kw: Any) -> "Outbox":
        """The outbox of the main store at ``url`` (default: the configured store), migrated."""
        from vbr.store import open_store

        return cls(open_store(url).engine, **kw)

    def now_ms(self) -> int:
        return _ms(self.clock())

    # ------------------------------------------------------------------ endpoints
    def add_endpoint(self, url: str, *, actor: str, event_types: Sequence[str] = ("*",), tenant: str = "default",
                     secret: str | None = None, description: str | None = None) -> dict[str, Any]:
        """Subscribe ``url``; returns the endpoint with its ``secret`` (shown this once)."""
        url = check_url(url)
        types = check_event_types(event_types)
        secret = secret or generate_secret()
        secret_bytes(secret)  # refuse a malformed secret before storing anything
        eid = "ep_" + uuid.uuid4().hex[:24]
        ts = now()
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO webhook_endpoints (id, tenant, url, event_types, description, status, created_by,"
                " created_at, updated_at) VALUES (:id, :t, :u, :e, :d, 'active', :by, :ts, :ts)"),
                {"id": eid, "t": tenant, "u": url, "e": json.dumps(types), "d": description, "by": actor, "ts": ts})
            conn.execute(text("INSERT INTO webhook_secrets (endpoint_id, secret, created_at, expires_at_ms)"
                              " VALUES (:e, :s, :ts, NULL)"), {"e": eid, "s": secret, "ts": ts})
            from vbr.webhooks.relay import ensure_cursor

            ensure_cursor(conn)  # the relay starts here, not at the beginning of history
            self.log.append(actor, "webhook.endpoint_added", f"webhook_endpoint:{eid}",
                            payload={"url": url, "event_types": types, "tenant": tenant}, conn=conn)
        return {**self.endpoint(eid), "secret": secret}

    def endpoint(self, endpoint_id: str, *, tenant: str | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM webhook_endpoints WHERE id=:id"),
                               {"id": endpoint_id}).mappings().first()
            if row is None or (tenant is not None and row["tenant"] != tenant):
                raise NotFound(f"no webhook endpoint '{endpoint_id}'", hint="list them with `vbr webhooks endpoints`")
            out = dict(row)
            out["event_types"] = json.loads(out["event_types"])
            out["live_secrets"] = len(self._live_secrets(conn, endpoint_id))
        return out

    def endpoints(self, *, tenant: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id FROM webhook_endpoints" + (" WHERE tenant=:t" if tenant is not None else "") + " ORDER BY created_at, id"
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text(sql), {"t": tenant})]
        return [self.endpoint(i) for i in ids]

    def rotate_secret(self, endpoint_id: str, *, actor: str, grace_seconds: float = DEFAULT_GRACE_SECONDS,
                      new_secret: str | None = None) -> str:
        """Add a new secret; the current ones keep signing for ``grace_seconds`` more (0: stop now).

        Returns the new secret (shown this once). While both sign, each message carries two
        signatures, so the receiver can switch secrets at any moment in the grace period.
        """
        self.endpoint(endpoint_id)
        if grace_seconds < 0:
            raise ValidationFailed("the grace period cannot be negative", field="grace")
        new_secret = new_secret or generate_secret()
        secret_bytes(new_secret)
        expires = self.now_ms() + _ms(grace_seconds)
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE webhook_secrets SET expires_at_ms=:x WHERE endpoint_id=:e AND"
                              " (expires_at_ms IS NULL OR expires_at_ms > :x)"), {"x": expires, "e": endpoint_id})
            conn.execute(text("INSERT INTO webhook_secrets (endpoint_id, secret, created_at, expires_at_ms)"
                              " VALUES (:e, :s, :ts, NULL)"), {"e": endpoint_id, "s": new_secret, "ts": now()})
            conn.execute(text("UPDATE webhook_endpoints SET updated_at=:ts WHERE id=:e"), {"ts": now(), "e": endpoint_id})
            self.log.append(actor, "webhook.secret_rotated", f"webhook_endpoint:{endpoint_id}",
                            payload={"grace_seconds": grace_seconds}, conn=conn)
        return new_secret

    def live_secrets(self, endpoint_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return self._live_secrets(conn, endpoint_id)

    def _live_secrets(self, conn: Connection, endpoint_id: str) -> list[str]:
        """Secrets that sign now, newest first."""
        rows = conn.execute(text("SELECT secret FROM webhook_secrets WHERE endpoint_id=:e AND"
                                 " (expires_at_ms IS NULL OR expires_at_ms > :n) ORDER BY id DESC"),
                            {"e": endpoint_id, "n": self.now_ms()})
        return [r[0] for r in rows]

    def set_endpoint_status(self, endpoint_id: str, status: str, *, actor: str, reason: str | None = None,
                            conn: Connection | None = None) -> None:
        """``active`` or ``disabled``. Deliveries of a disabled endpoint wait; enabling resumes them."""
        if status not in ("active", "disabled"):
            raise ValidationFailed(f"unknown endpoint status {status!r}", field="status", hint="active or disabled")
        if conn is None:
            self.endpoint(endpoint_id)
            with self.engine.begin() as own:
                return self.set_endpoint_status(endpoint_id, status, actor=actor, reason=reason, conn=own)
        conn.execute(text("UPDATE webhook_endpoints SET status=:s, disabled_reason=:r, updated_at=:ts WHERE id=:e"),
                     {"s": status, "r": reason if status == "disabled" else None, "ts": now(), "e": endpoint_id})
        self.log.append(actor, f"webhook.endpoint_{'enabled' if status == 'active' else 'disabled'}",
                        f"webhook_endpoint:{endpoint_id}", reason=reason, payload={}, conn=conn)

    # ------------------------------------------------------------------ events
    def enqueue(self, event_type: str, data: dict[str, Any], *, tenant: str = "default",
                subject: str | None = None, event_id: str | None = None) -> tuple[str, int]:
        """Record one event and a delivery per subscribed active endpoint, in one transaction.

        Returns ``(event_id, deliveries)``. The body is fixed here, so every retry and replay sends
        the same bytes under the same ``webhook-id``. An ``event_id`` already recorded is not
        recorded again (``(event_id, 0)``): the relay and the event hooks may both offer an event.
        """
        if event_type not in EVENT_TYPES:
            raise ValidationFailed(f"unknown event type {event_type!r}", field="type")
        event_id = event_id or new_event_id()
        ts, now_ms = now(), self.now_ms()
        body = event_body(event_type, ts, data)
        try:
            return self._enqueue(event_id, event_type, body, tenant, subject, ts, now_ms)
        except SAIntegrityError:
            if self._event_exists(event_id):
                return event_id, 0  # another process recorded it first
            raise

    def _event_exists(self, event_id: str, conn: Connection | None = None) -> bool:
        q = text("SELECT 1 FROM webhook_events WHERE id=:id")
        if conn is not None:
            return conn.execute(q, {"id": event_id}).first() is not None
        with self.engine.connect() as own:
            return own.execute(q, {"id": event_id}).first() is not None

    def _enqueue(self, event_id: str, event_type: str, body: str, tenant: str, subject: str | None, ts: str,
                 now_ms: int) -> tuple[str, int]:
        with self.engine.begin() as conn:
            return self.enqueue_in(conn, event_id, event_type, body, tenant, subject, ts, now_ms)

    def enqueue_in(self, conn: Connection, event_id: str, event_type: str, body: str, tenant: str,
                   subject: str | None, ts: str, now_ms: int) -> tuple[str, int]:
        """:meth:`enqueue` inside the caller's transaction (``body`` is the final JSON text)."""
        if self._event_exists(event_id, conn):
            return event_id, 0
        conn.execute(text("INSERT INTO webhook_events (id, type, tenant, subject, payload, created_at, created_ms)"
                          " VALUES (:id, :t, :tenant, :s, :p, :ts, :ms)"),
                     {"id": event_id, "t": event_type, "tenant": tenant, "s": subject, "p": body, "ts": ts,
                      "ms": now_ms})
        n = 0
        for eid, types in conn.execute(text(
                "SELECT id, event_types FROM webhook_endpoints WHERE tenant=:t AND status='active' ORDER BY id"),
                {"t": tenant}).all():
            wanted = json.loads(types)
            if "*" in wanted or event_type in wanted:
                conn.execute(text(
                    "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_ms,"
                    " created_at, updated_at) VALUES (:ev, :ep, 'pending', 0, :due, :ts, :ts)"),
                    {"ev": event_id, "ep": eid, "due": now_ms, "ts": ts})
                n += 1
        return event_id, n

    def event(self, event_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM webhook_events WHERE id=:id"), {"id": event_id}).mappings().first()
        if row is None:
            raise NotFound(f"no webhook event '{event_id}'")
        return dict(row)

    # ------------------------------------------------------------------ deliveries
    def deliveries(self, *, status: str | None = None, endpoint_id: str | None = None, event_id: str | None = None,
                   tenant: str | None = None, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries oldest first (page with ``after_id``), joined with their event and endpoint."""
        sql = ("SELECT d.*, e.type AS event_type, e.subject, e.created_at AS event_created_at, p.url, p.tenant,"
               " p.status AS endpoint_status FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
               " JOIN webhook_endpoints p ON p.id = d.endpoint_id WHERE d.id > :after")
        params: dict[str, Any] = {"after": after_id, "limit": max(1, min(int(limit), 1000))}
        for col, val in (("d.status", status), ("d.endpoint_id", endpoint_id), ("d.event_id", event_id),
                         ("p.tenant", tenant)):
            if val is not None:
                key = col.replace(".", "_")
                sql += f" AND {col} = :{key}"
                params[key] = val
        sql += " ORDER BY d.id LIMIT :limit"
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    def delivery(self, delivery_id: int, *, tenant: str | None = None) -> dict[str, Any]:
        """One delivery with its event body and every attempt."""
        rows = self.deliveries(tenant=tenant, after_id=int(delivery_id) - 1, limit=1)
        if not rows or rows[0]["id"] != int(delivery_id):
            raise NotFound(f"no webhook delivery {delivery_id}", hint="list them with `vbr webhooks list`")
        out = rows[0]
        with self.engine.connect() as conn:
            out["attempt_log"] = [dict(r) for r in conn.execute(text(
                "SELECT attempt, started_at, duration_ms, status_code, error, kind FROM webhook_attempts"
                " WHERE delivery_id=:d ORDER BY id"), {"d": int(delivery_id)}).mappings()]
            out["payload"] = json.loads(conn.execute(text("SELECT payload FROM webhook_events WHERE id=:e"),
                                                     {"e": out["event_id"]}).scalar_one())
        return out

    def replay(self, delivery_id: int, *, actor: str, tenant: str | None = None) -> dict[str, Any]:
        """Send a delivery again as soon as a worker runs: same event, same ``webhook-id``.

        Works for delivered and failed deliveries alike (the receiver deduplicates on the id if it
        already has it). The attempt counter restarts so retries apply again; the earlier attempts
        stay recorded.
        """
        current = self.delivery(delivery_id, tenant=tenant)
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE webhook_deliveries SET status='pending', attempts=0, next_attempt_ms=:due,"
                " lease_until_ms=NULL, updated_at=:ts WHERE id=:id"),
                {"due": self.now_ms(), "ts": now(), "id": int(delivery_id)})
            self.log.append(actor, "webhook.replayed", f"webhook_delivery:{delivery_id}",
                            payload={"event_id": current["event_id"], "endpoint_id": current["endpoint_id"],
                                     "previous_status": current["status"]}, conn=conn)
        return self.delivery(delivery_id)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(text(
                "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status"))}


__all__ = ["Outbox", "EVENT_TYPES", "new_event_id", "check_url", "check_event_types"]
