"""API keys: created once, stored only as a hash, scoped to a role and a tenant.

A key looks like ``vbr_<id>_<secret>``: the id finds the row, and the SHA-256 of the whole key
is compared in constant time with the stored hash (the secret has 256 bits of entropy, so a
plain hash is enough; nothing reversible is stored). Keys may expire and may be revoked.
Creating and revoking a key is written to the audit log. This module does not need FastAPI, so
``vbr keys`` works without the server extra.

A server remembers a key it has verified for ``cache_seconds`` (1 s in ``vbr serve``), so a busy
service does not read the key's row for every request. Expiry is still checked on every use. A
revocation made in the same process (any :class:`KeyStore` on the same database) forgets the
key at once; one made by another process (``vbr keys revoke`` beside a running server) is
refused by the server within ``cache_seconds``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, text

from vbr.errors import NotFound, ValidationFailed
from vbr.models import ID_PATTERN
from vbr.store.db import migrate, one_statement
from vbr.store.log import AuditLog
from vbr.server.migrations import SERVER

ROLES = ("ats", "recruiter", "equality_officer", "admin")
PREFIX = "vbr_"
_KEY = re.compile(r"^vbr_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
Clock = Callable[[], dt.datetime]
_KEY_ROW = text("SELECT key_hash, role, tenant, name, expires_at, revoked_at FROM api_keys WHERE id=:id")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and tenant."""

    key_id: str
    role: str
    tenant: str
    name: str | None = None

    @property
    def actor(self) -> str:
        """How this caller is named in the audit log."""
        return f"{self.role}:{self.name or self.key_id} (key {self.key_id}, tenant {self.tenant})"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    role: str
    tenant: str
    name: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    def status(self, now: dt.datetime) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and dt.datetime.fromisoformat(self.expires_at) <= now:
            return "expired"
        return "active"


class KeyRejected(Exception):
    """The presented key is not usable; ``reason`` says why (for the 401 detail)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class _VerifiedKeys:
    """Rows of keys verified recently, by the SHA-256 of the whole key, for one database; shared
    by every :class:`KeyStore` of this process on that database so a revocation forgets at once.

    ``generation`` moves on every revocation: a lookup that started before a revocation was
    committed does not put what it read into the cache afterwards.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[str, tuple[float, str, tuple]] = {}  # key hash -> (monotonic time, key id, row)
        self.generation = 0

    def get(self, digest: str, now: float, ttl: float) -> tuple | None:
        hit = self.rows.get(digest)
        if hit is None or now - hit[0] >= ttl or now < hit[0]:
            return None
        return hit[2]

    def put(self, digest: str, key_id: str, row: tuple, now: float, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return
            if len(self.rows) >= self.MAX_ENTRIES:
                self.rows.clear()
            self.rows[digest] = (now, key_id, row)

    def forget(self, key_id: str) -> None:
        with self.lock:
            self.generation += 1
            for digest in [d for d, (_, kid, _) in self.rows.items() if kid == key_id]:
                del self.rows[digest]


_VERIFIED: dict[str, _VerifiedKeys] = {}
_VERIFIED_LOCK = threading.Lock()


def _verified_keys(engine: Engine) -> _VerifiedKeys:
    url = engine.url.render_as_string(hide_password=False)
    with _VERIFIED_LOCK:
        return _VERIFIED.setdefault(url, _VerifiedKeys())


class KeyStore:
    def __init__(self, engine: Engine, *, clock: Clock = utcnow, cache_seconds: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """``cache_seconds``: how long a verified key is used without reading its row again (0:
        read it for every request); ``monotonic`` measures that (injectable for tests)."""
        self.engine = engine
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._verified = _verified_keys(engine)
        migrate(engine, SERVER)
        self.log = AuditLog(engine)

    def create(self, role: str, *, tenant: str = "default", name: str | None = None,
               expires_at: dt.datetime | None = None, actor: str) -> tuple[str, KeyInfo]:
        """Make a key; return the key itself (shown once, never stored) and its stored info."""
        if role not in ROLES:
            raise ValidationFailed(f"unknown role '{role}'", field="role", hint=f"one of: {', '.join(ROLES)}")
        if not re.match(ID_PATTERN, tenant) or len(tenant) > 80:
            raise ValidationFailed(f"'{tenant}' is not a tenant name", field="tenant",
                                   hint="lower-case letters, digits, '.', '_' and '-', starting with a letter or digit")
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.timezone.utc)
        key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        now = self.clock().isoformat()
        info = KeyInfo(key_id, role, tenant, name, now, expires_at.isoformat() if expires_at else None, None)
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO api_keys (id, key_hash, role, tenant, name, created_by, created_at, expires_at)"
                " VALUES (:id, :h, :r, :t, :n, :by, :ts, :exp)"),
                {"id": key_id, "h": key_hash(key), "r": role, "t": tenant, "n": name, "by": actor, "ts": now,
                 "exp": info.expires_at})
            self.log.append(actor, "key.created", f"key:{key_id}",
                            payload={"role": role, "tenant": tenant, "name": name, "expires_at": info.expires_at},
                            conn=conn)
        return key, info

    def list(self, *, tenant: str | None = None) -> list[KeyInfo]:
        sql = "SELECT id, role, tenant, name, created_at, expires_at, revoked_at FROM api_keys"
        params = {}
        if tenant is not None:
            sql += " WHERE tenant = :t"
            params["t"] = tenant
        with self.engine.connect() as conn:
            return [KeyInfo(*row) for row in conn.execute(text(sql + " ORDER BY created_at, id"), params)]

    def revoke(self, key_id: str, *, actor: str) -> KeyInfo:
        with self.engine.begin() as conn:
            row = conn.execute(text("SELECT revoked_at FROM api_keys WHERE id=:id"), {"id": key_id}).first()
            if row is None:
                raise NotFound(f"no key '{key_id}'", hint="see `vbr keys list`")
            if row[0] is None:
                conn.execute(text("UPDATE api_keys SET revoked_at=:ts, revoked_by=:by WHERE id=:id"),
                             {"ts": self.clock().isoformat(), "by": actor, "id": key_id})
                self.log.append(actor, "key.revoked", f"key:{key_id}", conn=conn)
        self._verified.forget(key_id)  # after the commit: a lookup from now on reads the revocation
        return next(k for k in self.list() if k.id == key_id)

    def authenticate(self, key: str) -> Principal:
        """The principal for ``key``, or :class:`KeyRejected` saying why not."""
        who = self.authenticate_cached(key)
        if who is not None:
            return who
        key_id, digest = self._parse(key)
        generation = self._verified.generation
        with one_statement(self.engine) as conn:
            row = conn.execute(_KEY_ROW, {"id": key_id}).first()
        if row is None or not hmac.compare_digest(row[0], digest):
            raise KeyRejected("the API key is not known")
        row = tuple(row)
        if self.cache_seconds > 0 and not row[5]:
            self._verified.put(digest, key_id, row, self.monotonic(), generation)
        return self._principal(key_id, row)

    def authenticate_cached(self, key: str) -> Principal | None:
        """Like :meth:`authenticate` when the key was verified within ``cache_seconds`` (no database
        read, so it can run on the event loop); ``None`` when the database must be asked."""
        if self.cache_seconds <= 0:
            return None
        key_id, digest = self._parse(key)
        row = self._verified.get(digest, self.monotonic(), self.cache_seconds)
        return None if row is None else self._principal(key_id, row)

    @staticmethod
    def _parse(key: str) -> tuple[str, str]:
        m = _KEY.match(key or "")
        if not m:
            raise KeyRejected("the API key is not in the form vbr_<id>_<secret>")
        return m.group(1), key_hash(key)

    def _principal(self, key_id: str, row: tuple) -> Principal:
        stored_hash, role, tenant, name, expires_at, revoked_at = row
        if revoked_at:
            raise KeyRejected("the API key was revoked")
        if expires_at and dt.datetime.fromisoformat(expires_at) <= self.clock():
            raise KeyRejected(f"the API key expired at {expires_at}")
        return Principal(key_id, role, tenant, name)
