"""The append-only, hash-chained audit log.

Every release decision, override and score change is written here with who and why. Each row
carries the hash of the previous row, so editing or deleting any row breaks the chain and
``verify()`` names the first row that no longer matches. The database also refuses UPDATE and
DELETE on the table; the chain catches what is done behind its back (a file edited directly).

``verify(after_seq, after_hash)`` checks only the entries after a point an earlier check found
good, once it has confirmed that the row at that point is still there, with the same hash, and
still hashes to it: the equality dashboard uses it so that a page load costs the entries written
since the last load, not the whole log (see :mod:`vbr.pages.logcheck`).

Entries about a campaign are also indexed by it (``audit_log_campaigns``: seq -> campaign id,
written in the same transaction as the entry; see :func:`entry_campaign`), so that
``entries(campaign_id=...)`` reads that campaign's entries and no others. The index is not part
of the hash: the chain, and what ``verify()`` checks, are the same with or without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.errors import IntegrityError
from vbr.store.db import PG_LOCK_AUDIT_LOG, PG_LOCK_NAMESPACE, now

GENESIS = "0" * 64


def _digest(seq: int, ts: str, actor: str, action: str, subject: str, reason: str | None,
            payload: str, prev_hash: str) -> str:
    body = json.dumps([seq, ts, actor, action, subject, reason, payload, prev_hash],
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _shortlist_no(subject: str) -> int | None:
    """n of a ``shortlist:<n>`` subject, as vbr writes it (digits, no leading zero), else None."""
    rest = subject[len("shortlist:"):] if subject.startswith("shortlist:") else ""
    if rest.isascii() and rest.isdigit() and len(rest) <= 18 and str(int(rest)) == rest:
        return int(rest)
    return None


def _score_application(subject: str) -> str | None:
    """The application of a ``score:<app>/<question>/<value>`` subject (question and value ids have
    no '/'; an application id may), else None."""
    if not subject.startswith("score:"):
        return None
    parts = subject[len("score:"):].rsplit("/", 2)
    return parts[0] if len(parts) == 3 else None


_SHORTLIST_CAMPAIGN = text("SELECT campaign_id FROM shortlists WHERE id = :n")
_APPLICATION_CAMPAIGN = text("SELECT campaign_id FROM applications WHERE id = :a")
# The head of the log and the end of its campaign index, in one statement (one snapshot). Index
# rows are written with their entries and the database refuses to delete either, so an index
# reaching past the head is the trace of entries deleted off the end behind vbr's back, which the
# chain alone cannot show (what is left still links up). Read one after the other, an entry
# another writer commits in between would look like such a cut.
_HEAD = text("SELECT (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1),"
             " (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),"
             " (SELECT MAX(seq) FROM audit_log_campaigns)")
_INDEX = text("INSERT INTO audit_log_campaigns (seq, campaign_id) VALUES (:seq, :c)")


def entry_campaign(conn: Connection, subject: str, payload: dict[str, Any]) -> str | None:
    """The campaign an entry is about, or None: the same rule as the back-fill of existing entries
    (``vbr.store.migrations.ENTRY_CAMPAIGNS``). First match wins: subject ``campaign:<id>``;
    ``shortlist:<n>`` (its campaign); ``score:<app>/<question>/<value>`` (the application's
    campaign); the payload's ``campaign``."""
    if subject.startswith("campaign:") and len(subject) > len("campaign:"):
        return subject[len("campaign:"):]
    found = None
    n = _shortlist_no(subject)
    if n is not None:
        found = conn.execute(_SHORTLIST_CAMPAIGN, {"n": n}).scalar()
    app = _score_application(subject)
    if app is not None:
        found = conn.execute(_APPLICATION_CAMPAIGN, {"a": app}).scalar()
    if found is not None:
        return found
    c = payload.get("campaign")
    return c if isinstance(c, str) and c else None


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
    """What a check of the chain found.

    ``rows``: entries this check read, up to and including the first bad one (for an incremental
    check, entries after ``after_seq``; the anchor row it re-checks is not counted). ``after_seq``:
    0 for a full check from the first entry, else the anchor the check continued from.
    ``last_seq``/``last_hash``: the last entry this check found good (the anchor if there was
    nothing new; 0 and the genesis hash if none), where the next incremental check can continue."""

    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None
    after_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, actor: str, action: str, subject: str, *, reason: str | None = None,
               payload: dict[str, Any] | None = None, conn: Connection | None = None,
               campaign_id: str | None = None) -> LogEntry:
        """Append one entry; pass ``conn`` to write it in the caller's transaction.

        ``campaign_id``: the campaign the entry is about, when the caller knows it (it must be
        what :func:`entry_campaign` would find); otherwise it is found from the subject and payload."""
        if not actor or not actor.strip():
            raise ValueError("a log entry needs an actor (who did this)")
        body = json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), default=str)
        for _ in range(20):
            try:
                if conn is not None:
                    return self._append(conn, actor, action, subject, reason, body, campaign_id)
                with self.engine.begin() as own:
                    return self._append(own, actor, action, subject, reason, body, campaign_id)
            except SAIntegrityError:
                if conn is not None:
                    raise
                continue  # another writer took this seq; read the new head and retry
        raise RuntimeError("could not append to the audit log after 20 attempts")

    @staticmethod
    def _append(conn: Connection, actor: str, action: str, subject: str, reason: str | None,
                body: str, campaign_id: str | None = None) -> LogEntry:
        if conn.dialect.name == "postgresql":
            # Writers take turns: the lock is held until this transaction ends, so the head read
            # below is the committed head and no two writers compute the same seq. (SQLite has
            # one writer at a time anyway; a lost race there is the IntegrityError retried above.)
            conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"),
                         {"ns": PG_LOCK_NAMESPACE, "k": PG_LOCK_AUDIT_LOG})
        last, prev, indexed = conn.execute(_HEAD).one()
        if (indexed or 0) > (last or 0):
            raise IntegrityError(
                f"the audit log ends at entry {last or 0} but its campaign index goes on to entry {indexed}: "
                "entries were deleted from the end of the log behind vbr's back, so nothing more can be "
                "logged or done", hint="run `vbr log verify`, keep the database as it is and report "
                "this to your information governance lead; restore the log from a backup")
        seq, prev = (last + 1, prev) if last is not None else (1, GENESIS)
        ts = now()
        digest = _digest(seq, ts, actor, action, subject, reason, body, prev)
        conn.execute(
            text("INSERT INTO audit_log (seq, ts, actor, action, subject, reason, payload, prev_hash, hash) "
                 "VALUES (:seq, :ts, :actor, :action, :subject, :reason, :payload, :prev, :hash)"),
            {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject,
             "reason": reason, "payload": body, "prev": prev, "hash": digest},
        )
        stored = json.loads(body)
        campaign = campaign_id or entry_campaign(conn, subject, stored)
        if campaign is not None:
            conn.execute(_INDEX, {"seq": seq, "c": campaign})
        return LogEntry(seq, ts, actor, action, subject, reason, stored, prev, digest)

    def entries(self, *, subject: str | None = None, action: str | None = None,
                after: int = 0, limit: int | None = None, campaign_id: str | None = None,
                before: int | None = None, newest_first: bool = False) -> Iterator[LogEntry]:
        """Entries with seq in (``after``, ``before``), oldest first (or newest first), at most
        ``limit``; with ``campaign_id``, only that campaign's entries, read through its index."""
        cols = "l.seq, l.ts, l.actor, l.action, l.subject, l.reason, l.payload, l.prev_hash, l.hash"
        params: dict[str, Any] = {"after": after}
        if campaign_id is not None:
            # the campaign's index rows in seq order, each joined to its entry: no other entry is read
            sql = (f"SELECT {cols} FROM audit_log_campaigns c JOIN audit_log l ON l.seq = c.seq"
                   " WHERE c.campaign_id = :campaign AND c.seq > :after")
            params["campaign"] = campaign_id
            order = "c.seq"
        else:
            sql = f"SELECT {cols} FROM audit_log l WHERE l.seq > :after"
            order = "l.seq"
        if before is not None:
            sql += f" AND {order} < :before"
            params["before"] = before
        if subject is not None:
            sql += " AND l.subject = :subject"
            params["subject"] = subject
        if action is not None:
            sql += " AND l.action = :action"
            params["action"] = action
        sql += f" ORDER BY {order}" + (" DESC" if newest_first else "")
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        with self.engine.connect() as conn:
            for row in conn.execute(text(sql), params):
                yield LogEntry(*row[:6], json.loads(row[6]), row[7], row[8])

    _ROWS = "SELECT seq, ts, actor, action, subject, reason, payload, prev_hash, hash FROM audit_log"

    def verify(self, after_seq: int = 0, after_hash: str = GENESIS) -> Verification:
        """Recompute the chain; report the first row whose hash or link does not match.

        With ``after_seq``/``after_hash`` (a point an earlier check found good), check only the
        entries after it, and first that row ``after_seq`` still exists, still has ``after_hash``
        and still hashes to it (its digest covers its link to the row before): a row that was
        checked is never silently replaced, removed or cut off the end. The entries up to it are
        not re-read: a change to one of them is found only by a full check."""
        if after_seq < 0 or (after_seq == 0) != (after_hash == GENESIS):
            raise ValueError("verify(after_seq, after_hash): a point a check found good, or neither")
        prev, expected_seq, n = after_hash, after_seq + 1, 0
        last = (after_seq, after_hash)
        with self.engine.connect() as conn:
            if after_seq == 0:
                rows = conn.execute(text(self._ROWS + " ORDER BY seq"))
            else:
                rows = conn.execute(text(self._ROWS + " WHERE seq >= :after ORDER BY seq"), {"after": after_seq})
                anchor = rows.fetchone()
                if anchor is None or anchor[0] != after_seq:
                    return Verification(False, 0, after_seq, f"row {after_seq} is missing (deleted?)",
                                        after_seq=after_seq)
                seq, ts, actor, action, subject, reason, payload, prev_hash, digest = anchor
                bad = None
                if digest != after_hash:
                    bad = f"row {seq} was changed after it was checked (its hash is not the one it had)"
                elif _digest(seq, ts, actor, action, subject, reason, payload, prev_hash) != digest:
                    bad = f"row {seq} was changed after it was written"
                if bad is not None:
                    return Verification(False, 0, seq, bad, after_seq=after_seq)
            for seq, ts, actor, action, subject, reason, payload, prev_hash, digest in rows:
                n += 1
                bad = None
                if seq != expected_seq:
                    bad = f"row {expected_seq} is missing (deleted?)"
                elif prev_hash != prev:
                    bad = f"row {seq} does not link to row {seq - 1}"
                elif _digest(seq, ts, actor, action, subject, reason, payload, prev_hash) != digest:
                    bad = f"row {seq} was changed after it was written"
                if bad is not None:
                    return Verification(False, n, seq, bad, after_seq=after_seq, last_seq=last[0],
                                        last_hash=last[1])
                prev, expected_seq, last = digest, seq + 1, (seq, digest)
        return Verification(True, n, after_seq=after_seq, last_seq=last[0], last_hash=last[1])
