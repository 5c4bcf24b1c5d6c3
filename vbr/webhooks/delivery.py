"""The delivery worker: send due outbox rows, retry with backoff and jitter, stop on 410.

State lives only in the database, so a worker can be killed at any moment and another (or the
same one restarted) carries on:

0. **Relay** audit-log entries written since the last pass into events (:mod:`vbr.webhooks.relay`),
   so an event whose hook never ran is still recorded.
1. **Claim** a due delivery by setting its lease (``lease_until_ms``) in a conditional UPDATE;
   only one worker wins a row. A worker that dies mid-send leaves a lease that runs out, and the
   delivery is sent again: at least once, never lost, always under the same ``webhook-id``.
2. **Send** the event's stored body, signed with every live secret of the endpoint.
3. **Record** the attempt (append-only) and the outcome in one transaction:

   * 2xx: ``delivered``;
   * 410 Gone: the endpoint is disabled (the receiver said it does not want these any more),
     this delivery is ``failed`` and its other deliveries wait until someone enables it again;
   * anything else (other status, timeout, connection refused): retried after
     ``base * factor**(attempt-1)`` seconds capped at ``max_delay``, with "equal jitter" (a random
     point in the upper half of that delay, so retries from many workers do not line up), until
     ``max_attempts``, then ``failed``. A failed delivery can be replayed by hand.

The clock, the random source and the HTTP client are injectable, so tests run without sleeping.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx
from sqlalchemy import text

from vbr.store.db import now
from vbr.webhooks.outbox import Outbox
from vbr.webhooks.signing import sign_headers

log = logging.getLogger("vbr.webhooks")
USER_AGENT = "vbr-webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    factor: float = 2.0
    max_delay_seconds: float = 6 * 3600.0
    max_attempts: int = 12
    jitter: float = 0.5  # fraction of the delay that is random (0: none; 0.5: equal jitter)

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        d = min(self.max_delay_seconds, self.base_seconds * self.factor ** max(0, attempt - 1))
        return d * (1.0 - self.jitter) + d * self.jitter * rand()


@dataclass
class RunSummary:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    gone: int = 0
    relayed: int = 0
    ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("relayed", "claimed", "delivered", "retrying", "failed", "gone")}


class DeliveryWorker:
    """Sends what the outbox has due. Use :meth:`run_once` (one pass) or :meth:`run` (a loop)."""

    def __init__(self, outbox: Outbox, *, client: httpx.Client | None = None, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] | None = None, rand: Callable[[], float] = random.random,
                 timeout: float = 10.0, lease_seconds: float | None = None, batch: int = 50,
                 on_sent: Callable[[dict[str, Any]], None] | None = None, relay: bool = True) -> None:
        self.outbox = outbox
        self.clock = clock or outbox.clock
        self.rand = rand
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.lease_ms = int((lease_seconds if lease_seconds is not None else timeout + 30.0) * 1000)
        self.batch = batch
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False,
                                             headers={"user-agent": USER_AGENT})
        self.on_sent = on_sent  # called after each attempt is recorded (progress output, tests)
        self.relay = relay  # record events of new audit-log entries first (see vbr.webhooks.relay)

    def _now_ms(self) -> int:
        return int(round(self.clock() * 1000))

    # ------------------------------------------------------------------ claim
    def claim(self) -> list[dict[str, Any]]:
        """Lease up to ``batch`` due deliveries of active endpoints; returns what this worker won."""
        n = self._now_ms()
        engine = self.outbox.engine
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints p ON p.id = d.endpoint_id"
                " WHERE d.status='pending' AND d.next_attempt_ms <= :n AND p.status='active'"
                " AND (d.lease_until_ms IS NULL OR d.lease_until_ms < :n) ORDER BY d.next_attempt_ms, d.id LIMIT :k"),
                {"n": n, "k": self.batch}).all()
        won: list[dict[str, Any]] = []
        for (did,) in rows:
            with engine.begin() as conn:
                got = conn.execute(text(
                    "UPDATE webhook_deliveries SET lease_until_ms=:until WHERE id=:id AND status='pending'"
                    " AND (lease_until_ms IS NULL OR lease_until_ms < :n)"),
                    {"until": n + self.lease_ms, "id": did, "n": n}).rowcount
                if got != 1:
                    continue  # another worker took it
                row = conn.execute(text(
                    "SELECT d.id, d.event_id, d.endpoint_id, d.attempts, p.url, e.payload FROM webhook_deliveries d"
                    " JOIN webhook_endpoints p ON p.id = d.endpoint_id JOIN webhook_events e ON e.id = d.event_id"
                    " WHERE d.id=:id"), {"id": did}).mappings().one()
                won.append(dict(row))
        return won

    # ------------------------------------------------------------------ send one
    def send(self, job: dict[str, Any]) -> str:
        """Send one claimed delivery and record the outcome; returns the new status word."""
        body: bytes = job["payload"].encode("utf-8")
        attempt = job["attempts"] + 1
        started, t0 = now(), time.monotonic()
        status_code: int | None = None
        error: str | None = None
        excerpt: str | None = None
        secrets = self.outbox.live_secrets(job["endpoint_id"])
        try:
            headers = sign_headers(secrets, job["event_id"], int(self.clock()), body)
            headers["content-type"] = "application/json"
            resp = self.client.post(job["url"], content=body, headers=headers, timeout=self.timeout)
            status_code = resp.status_code
            excerpt = resp.text[:500] if resp.content else None
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # noqa: BLE001 - a bad URL or secret must not stop the worker
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = int((time.monotonic() - t0) * 1000)
        return self._record(job, attempt, started, duration, status_code, error, excerpt)

    def _record(self, job: dict[str, Any], attempt: int, started: str, duration: int, status_code: int | None,
                error: str | None, excerpt: str | None) -> str:
        n = self._now_ms()
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
        elif status_code == 410:
            outcome = "gone"
        elif attempt >= self.policy.max_attempts:
            outcome = "failed"
        else:
            outcome = "retrying"
        if error is None and status_code is not None and outcome != "delivered":
            error = f"HTTP {status_code}"
        with self.outbox.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error,"
                " response_excerpt, kind) VALUES (:d, :a, :s, :ms, :sc, :e, :x, 'send')"),
                {"d": job["id"], "a": attempt, "s": started, "ms": duration, "sc": status_code, "e": error,
                 "x": excerpt})
            status = {"delivered": "delivered", "gone": "failed", "failed": "failed", "retrying": "pending"}[outcome]
            due = n + int(self.policy.delay(attempt, self.rand) * 1000) if outcome == "retrying" else n
            conn.execute(text(
                "UPDATE webhook_deliveries SET status=:st, attempts=:a, next_attempt_ms=:due, lease_until_ms=NULL,"
                " last_status=:sc, last_error=:e, updated_at=:ts, delivered_at=:dat WHERE id=:id"),
                {"st": status, "a": attempt, "due": due, "sc": status_code, "e": error, "ts": now(),
                 "dat": now() if outcome == "delivered" else None, "id": job["id"]})
            if outcome == "gone":
                self.outbox.set_endpoint_status(job["endpoint_id"], "disabled", actor="vbr.webhooks",
                                                reason=f"{job['url']} answered 410 Gone", conn=conn)
        log.info("webhook delivery %s attempt %s: %s", job["id"], attempt, outcome)
        if self.on_sent is not None:
            self.on_sent({"id": job["id"], "event_id": job["event_id"], "attempt": attempt, "outcome": outcome,
                          "status_code": status_code, "error": error})
        return outcome

    def _unlease(self, delivery_id: int) -> None:
        with self.outbox.engine.begin() as conn:
            conn.execute(text("UPDATE webhook_deliveries SET lease_until_ms=NULL WHERE id=:id"), {"id": delivery_id})

    # ------------------------------------------------------------------ loops
    def run_once(self) -> RunSummary:
        """One pass: relay new log entries into events, claim what is due now and send it."""
        summary = RunSummary()
        if self.relay:
            from vbr.webhooks.relay import relay

            summary.relayed = relay(self.outbox)
        while True:
            jobs = self.claim()
            if not jobs:
                return summary
            gone: set[str] = set()
            for job in jobs:
                if job["endpoint_id"] in gone:  # it said 410 earlier in this batch: do not send more
                    self._unlease(job["id"])
                    continue
                summary.claimed += 1
                summary.ids.append(job["id"])
                outcome = self.send(job)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                if outcome == "gone":
                    gone.add(job["endpoint_id"])
            if len(jobs) < self.batch:
                return summary

    def run(self, *, stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
            idle_seconds: float = 1.0) -> None:
        """Loop until ``stop()`` is true, sleeping ``idle_seconds`` when nothing is due."""
        while not stop():
            summary = self.run_once()
            if summary.claimed == 0:
                sleep(idle_seconds)

    def close(self) -> None:
        self.client.close()


__all__ = ["DeliveryWorker", "RetryPolicy", "RunSummary", "USER_AGENT"]
