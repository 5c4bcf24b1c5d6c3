"""Signed session cookies and CSRF tokens for the pages (no third-party dependency).

The session cookie holds ``{key_id, role, tenant, name, csrf, iat}`` as base64 JSON followed by
an HMAC-SHA256 of it under the server secret. It never holds the API key itself: the key is
checked once at sign-in, and on every request the key's row is looked up again so that a
revoked or expired key ends the session at once.

The cookie is ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` when served over HTTPS or when
``VBR_PAGES_SECURE_COOKIES=1``). Every form carries the session's CSRF token, compared in
constant time. Anonymous visitors get a session with a CSRF token only, so the sign-in form is
protected too, and signing in issues a fresh token (no session fixation).

The secret comes from ``VBR_PAGES_SECRET``; without it a random secret is made per process,
which signs everyone out on restart and does not work with several worker processes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

COOKIE = "vbr_session"
SECRET_ENV = "VBR_PAGES_SECRET"
SECURE_ENV = "VBR_PAGES_SECURE_COOKIES"
MAX_AGE = dt.timedelta(hours=8)


def server_secret(app: Any) -> bytes:
    """The app's signing secret: ``VBR_PAGES_SECRET`` or a random one made once per app."""
    secret = getattr(app.state, "pages_secret", None)
    if secret is None:
        env = os.environ.get(SECRET_ENV)
        secret = env.encode("utf-8") if env else secrets.token_bytes(32)
        app.state.pages_secret = secret
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, data: dict[str, Any]) -> str:
    body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: bytes, token: str | None) -> dict[str, Any] | None:
    """The data of a token signed with ``secret``, or None if it is missing or tampered with."""
    if not token or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    expected = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        data = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Session:
    csrf: str
    iat: str
    key_id: str | None = None
    role: str | None = None
    tenant: str | None = None
    name: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def new_session(now: dt.datetime, **who: Any) -> Session:
    return Session(csrf=secrets.token_urlsafe(24), iat=now.isoformat(), **who)


def read_session(secret: bytes, cookie: str | None, now: dt.datetime) -> Session | None:
    data = unsign(secret, cookie)
    if not data or "csrf" not in data or "iat" not in data:
        return None
    try:
        issued = dt.datetime.fromisoformat(data["iat"])
    except (TypeError, ValueError):
        return None
    if not (issued - dt.timedelta(minutes=5) <= now <= issued + MAX_AGE):
        return None
    fields = {k: data.get(k) for k in ("csrf", "iat", "key_id", "role", "tenant", "name")}
    return Session(**fields)


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return bool(session and token) and hmac.compare_digest(session.csrf.encode(), (token or "").encode())


def cookie_options(https: bool) -> dict[str, Any]:
    secure = https or os.environ.get(SECURE_ENV) == "1"
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/pages",
            "max_age": int(MAX_AGE.total_seconds())}
