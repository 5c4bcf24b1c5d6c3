"""The append-only, hash-chained audit log.

Every release decision, override and score change is written here with who and why. Each row
carries the hash of the previous row, so editing or deleting any row breaks the chain and
``verify()`` names the first row that no longer matches. The database also refuses UPDATE and
DELETE on the table; the chain catches what is done behind its back (a file edited directly).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.store.db import PG_LOCK_AUDIT_LOG, PG_LOCK_NAMESPACE, now

GENESIS = "0" * 64


def _digest(seq: int, ts: str, actor: str, action: str, subject: str, reason: str | None,
            payload: str, prev_hash: str) -> str:
    body = json.dumps([seq, ts, actor, action, subject, reason, payload, prev_hash],
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LogEntry:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    reason: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, actor: str, action: str, subject: str, *, reason: str | None = None,
               payload: dict[str, Any] | None = None, conn: Connection | None = None) -> LogEntry:
        """Append one entry; pass ``conn`` to write it in the caller's transaction."""
        if not actor or not actor.strip():
            raise ValueError("a log entry needs an actor (who did this)")
        body = json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), default=str)
        for _ in range(20):
            try:
                if conn is not None:
                    return self._append(conn, actor, action, subject, reason, body)
                with self.engine.begin() as own:
                    return self._append(own, actor, action, subject, reason, body)
            except SAIntegrityError:
                if conn is not None:
                    raise
                continue  # another writer took this seq; read the new head and retry
        raise RuntimeError("could not append to the audit log after 20 attempts")

    @staticmethod
    def _append(conn: Connection, actor: str, action: str, subject: str, reason: str | None,
                body: str) -> LogEntry:
        if conn.dialect.name == "postgresql":
            # Writers take turns: the lock is held until this transaction ends, so the head read
            # below is the committed head and no two writers compute the same seq. (SQLite has
            # one writer at a time anyway; a lost race there is the IntegrityError retried above.)
            conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"),
                         {"ns": PG_LOCK_NAMESPACE, "k": PG_LOCK_AUDIT_LOG})
        head = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        ts = now()
        digest = _digest(seq, ts, actor, action, subject, reason, body, prev)
        conn.execute(
            text("INSERT INTO audit_log (seq, ts, actor, action, subject, reason, payload, prev_hash, hash) "
                 "VALUES (:seq, :ts, :actor, :action, :subject, :reason, :payload, :prev, :hash)"),
            {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject,
             "reason": reason, "payload": body, "prev": prev, "hash": digest},
        )
        return LogEntry(seq, ts, actor, action, subject, reason, json.loads(body), prev, digest)

    def entries(self, *, subject: str | None = None, action: str | None = None,
                after: int = 0, limit: int | None = None) -> Iterator[LogEntry]:
        sql = "SELECT seq, ts, actor, action, subject, reason, payload, prev_hash, hash FROM audit_log WHERE seq > :after"
        params: dict[str, Any] = {"after": after}
        if subject is not None:
            sql += " AND subject = :subject"
            params["subject"] = subject
        if action is not None:
            sql += " AND action = :action"
            params["action"] = action
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        with self.engine.connect() as conn:
            for row in conn.execute(text(sql), params):
                yield LogEntry(*row[:6], json.loads(row[6]), row[7], row[8])

    def verify(self) -> Verification:
        """Recompute the chain; report the first row whose hash or link does not match."""
        prev, expected_seq, n = GENESIS, 1, 0
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT seq, ts, actor, action, subject, reason, payload, prev_hash, hash FROM audit_log ORDER BY seq"
            ))
            for seq, ts, actor, action, subject, reason, payload, prev_hash, digest in rows:
                n += 1
                if seq != expected_seq:
                    return Verification(False, n, seq, f"row {expected_seq} is missing (deleted?)")
                if prev_hash != prev:
                    return Verification(False, n, seq, f"row {seq} does not link to row {seq - 1}")
                if _digest(seq, ts, actor, action, subject, reason, payload, prev_hash) != digest:
                    return Verification(False, n, seq, f"row {seq} was changed after it was written")
                prev, expected_seq = digest, seq + 1
        return Verification(True, n)
