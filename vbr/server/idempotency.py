"""``Idempotency-Key`` on every POST: the first response is stored and replayed.

* The first request with a key claims it (a row in ``in_flight`` state), runs, and stores its
  status and body. A repeat with the same key and the same request gets the stored answer back,
  with ``Idempotent-Replayed: true``.
* The same key with a different method, path or body is a 422 problem; a repeat that arrives
  while the first is still running is a 409 problem (retry later).
* Keys are scoped to the API key that used them and expire after ``ttl`` (24 h by default),
  measured with an injectable clock. A claim left ``in_flight`` by a crashed process is
  abandoned after ``in_flight_timeout`` (5 minutes), so the request can be retried.
* Answers below 500 are stored (a refusal is an answer too); a 5xx releases the key so the
  request can be retried.

The body is compared as canonical JSON (key order and white space do not matter).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from vbr.errors import VbrError
from vbr.store.db import one_statement
from vbr.server.keys import Clock, Principal
from vbr.server.problems import PROBLEM_JSON, Problem, from_vbr_error

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255

_CLAIM = text("INSERT INTO idempotency_keys (scope, idem_key, method, path, request_hash, state, created_at,"
              " expires_at) VALUES (:s, :k, :m, :p, :h, 'in_flight', :now, :exp)"
              " ON CONFLICT (scope, idem_key) DO NOTHING")
_FINISH = text("UPDATE idempotency_keys SET state='done', status=:st, response=:b WHERE scope=:s AND idem_key=:k")
_RELEASE = text("DELETE FROM idempotency_keys WHERE scope=:s AND idem_key=:k AND state='in_flight'")


class IdempotencyStore:
    def __init__(self, engine: Engine, *, ttl: dt.timedelta, clock: Clock,
                 lock: Callable[[], ContextManager[Any]] | None = None,
                 in_flight_timeout: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.engine = engine
        self.ttl = ttl
        self.in_flight_timeout = in_flight_timeout
        self.clock = clock
        self.lock = lock or contextlib.nullcontext

    def _now(self) -> dt.datetime:
        return self.clock().astimezone(dt.timezone.utc)

    def claim(self, scope: str, key: str, method: str, path: str, digest: str) -> tuple[int, Any] | None:
        """Claim ``key``: ``None`` when this request is first, else the stored ``(status, body)``.

        Insert the claim unless the key is there; if it is, in one transaction, forget it when it
        expired (or its claim was abandoned by a crash more than ``in_flight_timeout`` ago) and
        claim it again, else read what is stored.
        """
        now = self._now()
        params = {"s": scope, "k": key, "m": method, "p": path, "h": digest, "now": now.isoformat(),
                  "exp": (now + self.ttl).isoformat(), "stale": (now - self.in_flight_timeout).isoformat()}
        insert = _CLAIM
        with self.lock():
            # the usual case, a new key, is one statement (atomic on its own: one round trip on PostgreSQL)
            with one_statement(self.engine) as conn:
                if conn.execute(insert, params).rowcount == 1:
                    return None
            with self.engine.begin() as conn:
                gone = conn.execute(text("DELETE FROM idempotency_keys WHERE scope=:s AND idem_key=:k AND (expires_at <= :now"
                                         " OR (state='in_flight' AND created_at <= :stale))"), params).rowcount
                if gone and conn.execute(insert, params).rowcount == 1:
                    return None
                row = conn.execute(text("SELECT method, path, request_hash, state, status, response FROM idempotency_keys"
                                        " WHERE scope=:s AND idem_key=:k"), params).first()
        if row is None:  # pragma: no cover - only if the row vanished inside our transaction
            raise Problem(409, "Request in flight", f"{HEADER} '{key}' could not be claimed",
                          kind="idempotency-in-flight", headers={"Retry-After": "1"})
        if (row[0], row[1], row[2]) != (method, path, digest):
            raise Problem(422, "Idempotency key reused", f"the {HEADER} '{key}' was used for a different "
                          "request; a key may only repeat the same request", kind="idempotency-key-reused",
                          field=HEADER, hint="use a new key for a new request")
        if row[3] != "done":
            raise Problem(409, "Request in flight", f"a request with {HEADER} '{key}' is still being "
                          "processed", kind="idempotency-in-flight", headers={"Retry-After": "1"},
                          hint="retry shortly with the same key to get its answer")
        return int(row[4]), json.loads(row[5])

    def finish(self, scope: str, key: str, status: int, body: Any) -> None:
        with self.lock(), one_statement(self.engine) as conn:
            conn.execute(_FINISH,
                         {"st": status, "b": json.dumps(body, default=str), "s": scope, "k": key})

    def release(self, scope: str, key: str) -> None:
        with self.lock(), one_statement(self.engine) as conn:
            conn.execute(_RELEASE,
                         {"s": scope, "k": key})

    def purge(self) -> int:
        """Forget expired keys; returns how many."""
        with self.lock(), self.engine.begin() as conn:
            return conn.execute(text("DELETE FROM idempotency_keys WHERE expires_at <= :now"),
                                {"now": self._now().isoformat()}).rowcount


def canonical(body: bytes) -> bytes:
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        return body


@dataclass
class Idempotent:
    """Handed to a POST handler: ``idem.run(principal, fn)`` runs ``fn`` at most once per key."""

    store: IdempotencyStore
    key: str | None
    method: str
    path: str
    digest: str

    def run(self, who: Principal, fn: Callable[[], tuple[int, Any]]) -> JSONResponse:
        if self.key is None:
            status, body = fn()
            return JSONResponse(body, status_code=status)
        scope = who.key_id
        stored = self.store.claim(scope, self.key, self.method, self.path, self.digest)
        if stored is not None:
            status, body = stored
            return _response(status, body, {HEADER: self.key, REPLAYED: "true"})
        try:
            status, body = fn()
        except (VbrError, Problem) as exc:  # a 4xx answer is an answer: stored and replayed like any other
            problem = exc if isinstance(exc, Problem) else from_vbr_error(exc)
            if problem.status >= 500:
                self.store.release(scope, self.key)
                raise
            body = problem.body(self.path)
            self.store.finish(scope, self.key, problem.status, body)
            return _response(problem.status, body, {HEADER: self.key, **problem.headers})
        except BaseException:
            self.store.release(scope, self.key)
            raise
        self.store.finish(scope, self.key, status, body)
        return _response(status, body, {HEADER: self.key})


def _response(status: int, body: Any, headers: dict[str, str]) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, headers=headers, media_type=media)


async def idempotent(request: Request, idempotency_key: str | None = Header(
        None, alias=HEADER, max_length=MAX_KEY,
        description="Any unique string (a UUID is good): a retry with the same key and body is answered "
                    "with the first answer; keys expire after 24 h")) -> Idempotent:
    if idempotency_key is not None and (not idempotency_key.strip() or not idempotency_key.isprintable()
                                        or not idempotency_key.isascii()):
        raise Problem(400, "Bad idempotency key", f"{HEADER} must be 1-{MAX_KEY} printable ASCII characters",
                      kind="bad-idempotency-key", field=HEADER)
    digest = request_digest(request.method, request.url.path, await request.body())
    return Idempotent(request.app.state.idempotency, idempotency_key, request.method, request.url.path, digest)


def request_digest(method: str, path: str, body: bytes) -> str:
    """What identifies "the same request" for a key: method, path and the canonical JSON body."""
    return hashlib.sha256(method.encode() + b"\n" + path.encode() + b"\n" + canonical(body)).hexdigest()


class WriteLock:
    """One writer at a time on SQLite (which allows only one anyway), so a read-then-write
    transaction never fails with 'database is locked'; a no-op on server databases."""

    def __init__(self, dialect: str) -> None:
        self._lock = threading.RLock() if dialect == "sqlite" else None

    def __call__(self) -> ContextManager[Any]:
        return self._lock if self._lock is not None else contextlib.nullcontext()
