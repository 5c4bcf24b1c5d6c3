"""Verify vbr's webhooks on the receiving side (for ATS developers).

::

    from vbr.webhooks.receiver import verify, SeenIds, WebhookRejected

    seen = SeenIds()                      # or any set-like store shared by your workers

    @app.post("/hooks/vbr")
    async def hook(request):
        body = await request.body()
        try:
            event = verify(request.headers, body, SECRET, seen_ids=seen)
        except WebhookRejected as exc:
            return Response(status_code=400, content=str(exc))
        ...                               # event["type"], event["data"]

The checks, in order: the three headers are present; the timestamp is a whole number of seconds
within ``tolerance`` of now (too old *or* too far in the future is refused, which bounds how long
a captured message could be replayed); a ``v1`` signature matches one of your secrets (pass a list
during a rotation); and the ``webhook-id`` has not been seen before. The id is remembered only
after the signature checks out, so forged messages cannot fill the store or block a real one.

vbr delivers *at least once*: a retry or a replay carries the same ``webhook-id``. A
:class:`Replayed` error therefore means "already handled": answer 2xx so vbr stops retrying.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping, MutableSet, Protocol

from vbr.webhooks.signing import matches

DEFAULT_TOLERANCE = 300


class WebhookRejected(Exception):
    """The message must not be acted on; ``reason`` is a short machine-readable word."""

    reason = "rejected"


class MissingHeaders(WebhookRejected):
    reason = "missing_headers"


class BadTimestamp(WebhookRejected):
    reason = "bad_timestamp"


class BadSignature(WebhookRejected):
    reason = "bad_signature"


class Replayed(WebhookRejected):
    """Seen before: a duplicate (retry/replay) or a captured message sent again. Acknowledge it."""

    reason = "replayed"


class IdStore(Protocol):
    def __contains__(self, item: object) -> bool: ...
    def add(self, item: str) -> None: ...


class SeenIds:
    """An in-memory, bounded set of recently seen ids (oldest forgotten first).

    Ids only need remembering for as long as a message would pass the timestamp check
    (``tolerance`` seconds each way), so a bounded store is enough for one process. Several
    processes need a shared store (a database table with a unique key, Redis ``SET NX``...).
    """

    def __init__(self, max_items: int = 100_000) -> None:
        self.max_items = max_items
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self.max_items:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if hasattr(headers, "get"):
        v = headers.get(name)
        if v is not None:
            return v
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def verify(headers: Mapping[str, str], body: bytes | str, secret: str | bytes | Iterable[str | bytes], *,
           tolerance: int = DEFAULT_TOLERANCE, seen_ids: IdStore | MutableSet[str] | None = None,
           now: Callable[[], float] = time.time, parse_json: bool = True) -> Any:
    """Check a webhook and return its parsed JSON body (or ``None`` if ``parse_json=False``).

    Raises a :class:`WebhookRejected` subclass saying why it was refused.
    """
    msg_id = _header(headers, "webhook-id")
    ts_raw = _header(headers, "webhook-timestamp")
    sig = _header(headers, "webhook-signature")
    if not msg_id or not ts_raw or not sig:
        raise MissingHeaders("webhook-id, webhook-timestamp and webhook-signature are all required")
    ts_raw = ts_raw.strip()
    if not ts_raw.isdigit() or len(ts_raw) > 12:
        raise BadTimestamp(f"webhook-timestamp {ts_raw[:20]!r} is not whole seconds since 1970")
    ts = int(ts_raw)
    current = now()
    if ts < current - tolerance:
        raise BadTimestamp(f"message timestamp is {int(current - ts)} s old (tolerance {tolerance} s)")
    if ts > current + tolerance:
        raise BadTimestamp(f"message timestamp is {int(ts - current)} s in the future (tolerance {tolerance} s)")
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    keys = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not keys:
        raise ValueError("verify() needs at least one secret")
    if not any(matches(k, msg_id, ts, data, sig) for k in keys):
        raise BadSignature("no signature matches (wrong secret, altered body or headers, or forged)")
    if seen_ids is not None:
        if msg_id in seen_ids:
            raise Replayed(f"webhook-id {msg_id} was already received")
        seen_ids.add(msg_id)
    return json.loads(data) if parse_json else None


__all__ = ["verify", "SeenIds", "WebhookRejected", "MissingHeaders", "BadTimestamp", "BadSignature", "Replayed",
           "DEFAULT_TOLERANCE"]
