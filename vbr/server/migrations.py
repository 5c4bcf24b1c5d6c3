"""Tables of the HTTP service, in the main store: API keys and idempotency records.

Same format as :data:`vbr.store.migrations.MAIN`; this component owns versions 100-199.
Never edit a released migration: add a new one.
"""

from __future__ import annotations

SERVER: list[tuple[int, str, list[str]]] = [
    (100, "api keys and idempotency records", [
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, role TEXT NOT NULL,
            tenant TEXT NOT NULL, name TEXT, created_by TEXT NOT NULL, created_at {ts} NOT NULL,
            expires_at {ts}, revoked_at {ts}, revoked_by TEXT)""",
        "CREATE INDEX api_keys_tenant ON api_keys(tenant)",
        """CREATE TABLE idempotency_keys (
            scope TEXT NOT NULL, idem_key TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
            request_hash TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, response {json},
            created_at {ts} NOT NULL, expires_at {ts} NOT NULL,
            PRIMARY KEY (scope, idem_key))""",
        "CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at)",
    ]),
]

assert all(100 <= v <= 199 for v, _, _ in SERVER), "the HTTP service owns migrations 100-199"
