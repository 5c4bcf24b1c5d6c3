"""Webhook outbox tables, in the main database (numbered 200-299, applied with
:func:`vbr.store.db.migrate`). Never edit a released migration: add a new one.

* ``webhook_endpoints``: a subscriber: URL, event types (JSON list, ``["*"]`` for all), tenant,
  ``active`` or ``disabled`` (410 Gone or by hand) and why.
* ``webhook_secrets``: every secret an endpoint has had. A secret signs while ``expires_at`` is
  empty or in the future, so during a rotation the old and the new secret both sign.
* ``webhook_events``: one row per event; its id is the ``webhook-id`` every delivery of it
  carries (receivers deduplicate on it).
* ``webhook_deliveries``: the outbox: one row per (event, endpoint), written in the same database
  as the data; its state is all a worker needs after a restart. ``lease_until`` stops two workers
  sending the same delivery at once; a worker killed mid-send leaves a lease that expires, and the
  delivery is sent again (at least once).
* ``webhook_attempts``: every attempt, append-only: when, status code or error, how long.

* ``webhook_relay``: how far the relay (:mod:`vbr.webhooks.relay`) has read the audit log, and
  the per-database salt of the event ids it derives from log entries.

Times the worker compares are integer epoch milliseconds (``*_ms``); times people read are
ISO-8601 text.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (200, "webhook endpoints, secrets, events, deliveries (outbox), attempts", [
        """CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL DEFAULT 'default', url TEXT NOT NULL,
            event_types {json} NOT NULL, description TEXT, status TEXT NOT NULL DEFAULT 'active',
            disabled_reason TEXT, created_by TEXT NOT NULL, created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL)""",
        "CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant, status)",
        """CREATE TABLE webhook_secrets (
            id {pk}, endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
            secret TEXT NOT NULL, created_at {ts} NOT NULL, expires_at_ms BIGINT)""",
        "CREATE INDEX webhook_secrets_endpoint ON webhook_secrets(endpoint_id)",
        """CREATE TABLE webhook_events (
            id TEXT PRIMARY KEY, type TEXT NOT NULL, tenant TEXT NOT NULL, subject TEXT,
            payload {json} NOT NULL, created_at {ts} NOT NULL, created_ms BIGINT NOT NULL)""",
        """CREATE TABLE webhook_deliveries (
            id {pk}, event_id TEXT NOT NULL REFERENCES webhook_events(id),
            endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
            status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms BIGINT NOT NULL, lease_until_ms BIGINT, last_status INTEGER,
            last_error TEXT, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, delivered_at {ts},
            UNIQUE (event_id, endpoint_id))""",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_ms)",
        """CREATE TABLE webhook_attempts (
            id {pk}, delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
            attempt INTEGER NOT NULL, started_at {ts} NOT NULL, duration_ms INTEGER NOT NULL,
            status_code INTEGER, error TEXT, response_excerpt TEXT, kind TEXT NOT NULL DEFAULT 'send')""",
        "CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id)",
    ]),
    (201, "webhook relay cursor over the audit log", [
        """CREATE TABLE webhook_relay (
            name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, salt TEXT NOT NULL, updated_at {ts} NOT NULL)""",
    ]),
]

APPEND_ONLY = ("webhook_attempts",)
