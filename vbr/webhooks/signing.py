"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A message is signed by HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with the
endpoint's secret; the ``webhook-signature`` header carries ``v1,<base64 signature>``. During a
secret rotation every live secret signs, and the signatures are space-separated, so a receiver
holding either the old or the new secret accepts the message.

Secrets are ``whsec_`` followed by base64 of 24 to 64 random bytes (we make 32).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from typing import Iterable

from vbr.errors import ValidationFailed

PREFIX = "whsec_"


def generate_secret(nbytes: int = 32) -> str:
    """A new ``whsec_`` secret from the operating system's random source."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode("ascii")


def secret_bytes(secret: str | bytes) -> bytes:
    """The key bytes of a ``whsec_`` secret (raw bytes are passed through)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        body = secret.strip().removeprefix(PREFIX)
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationFailed("a webhook secret must be 'whsec_' followed by base64",
                                   field="secret", hint="make one with vbr.webhooks.generate_secret()") from exc
    if len(key) < 16:
        raise ValidationFailed("a webhook secret must hold at least 16 bytes", field="secret",
                               hint="make one with vbr.webhooks.generate_secret()")
    return key


def signature(secret: str | bytes, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{msg_id}.{timestamp}.{body}"``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    to_sign = f"{msg_id}.{int(timestamp)}.".encode("utf-8") + data
    digest = hmac.new(secret_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_headers(secrets: Iterable[str | bytes], msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per live secret (space-separated)."""
    sigs = [signature(s, msg_id, timestamp, body) for s in secrets]
    if not sigs:
        raise ValidationFailed("an endpoint has no live secret to sign with", field="secret",
                               hint="rotate its secret: `vbr webhooks rotate-secret ENDPOINT`")
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)), "webhook-signature": " ".join(sigs)}


def matches(secret: str | bytes, msg_id: str, timestamp: int, body: bytes | str, header: str) -> bool:
    """Whether any ``v1`` signature in ``header`` is the one ``secret`` makes (constant-time compare)."""
    want = signature(secret, msg_id, timestamp, body).split(",", 1)[1].encode("ascii")
    ok = False
    for part in header.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(want, sig.encode("ascii", "replace")):
            ok = True
    return ok
