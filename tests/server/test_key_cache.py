"""A server remembers a verified API key for ``cache_seconds``: revocation in this process is seen
at once, revocation by another process within ``cache_seconds``, expiry and forged secrets on
every use. Time is injected (no test waits)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from vbr.server.keys import KeyRejected, KeyStore
from vbr.store import open_store


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def stores(tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    ticks = Ticks()
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
    clock = {"now": now}
    engine = open_store(url).engine
    server = KeyStore(engine, clock=lambda: clock["now"], cache_seconds=1.0, monotonic=ticks)
    return server, engine, ticks, clock


def _revoke_behind_its_back(engine, key_id: str) -> None:
    """What `vbr keys revoke` in another process looks like to this one: only the row changes."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET revoked_at='2026-03-02T09:00:00+00:00', revoked_by='other' "
                          "WHERE id=:id"), {"id": key_id})


def test_a_verified_key_is_remembered_for_cache_seconds_then_read_again(stores):
    server, engine, ticks, _ = stores
    key, info = server.create("ats", tenant="t1", actor="test")
    assert server.authenticate_cached(key) is None  # never verified yet: the database must be asked
    assert server.authenticate(key).key_id == info.id
    assert server.authenticate_cached(key).key_id == info.id
    _revoke_behind_its_back(engine, info.id)
    ticks.t += 0.5
    assert server.authenticate(key).key_id == info.id  # another process's revocation: not seen yet
    ticks.t += 0.5
    assert server.authenticate_cached(key) is None
    with pytest.raises(KeyRejected, match="revoked"):
        server.authenticate(key)
    with pytest.raises(KeyRejected, match="revoked"):  # and a revoked key is not remembered
        server.authenticate(key)


def test_a_revocation_in_this_process_is_seen_at_once_by_every_keystore_on_the_database(stores, tmp_path):
    server, engine, _, _ = stores
    key, info = server.create("recruiter", tenant="t1", actor="test")
    assert server.authenticate(key).role == "recruiter"
    assert server.authenticate_cached(key) is not None
    KeyStore(open_store(f"sqlite:///{tmp_path / 'keys.sqlite'}").engine).revoke(info.id, actor="cli")
    assert server.authenticate_cached(key) is None
    with pytest.raises(KeyRejected, match="revoked"):
        server.authenticate(key)


def test_expiry_is_checked_on_every_use_even_when_remembered(stores):
    server, _, _, clock = stores
    key, _ = server.create("ats", tenant="t1", actor="test", expires_at=clock["now"] + dt.timedelta(minutes=5))
    server.authenticate(key)
    clock["now"] += dt.timedelta(minutes=5)
    with pytest.raises(KeyRejected, match="expired"):
        server.authenticate_cached(key)
    with pytest.raises(KeyRejected, match="expired"):
        server.authenticate(key)


def test_a_forged_secret_for_a_remembered_key_id_is_not_known(stores):
    server, _, _, _ = stores
    key, _ = server.create("ats", tenant="t1", actor="test")
    server.authenticate(key)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert server.authenticate_cached(forged) is None
    with pytest.raises(KeyRejected, match="not known"):
        server.authenticate(forged)
    with pytest.raises(KeyRejected, match="not in the form"):
        server.authenticate_cached("vbr_nonsense")


def test_a_lookup_that_raced_a_revocation_is_not_remembered(stores):
    server, _, ticks, _ = stores
    key, info = server.create("ats", tenant="t1", actor="test")
    cache = server._verified
    generation = cache.generation  # a lookup starts and reads the row (still active) ...
    row = ("h", "ats", "t1", None, None, None)
    server.revoke(info.id, actor="test")  # ... a revocation commits meanwhile ...
    cache.put("digest", info.id, row, ticks(), generation)  # ... and the lookup's result is dropped
    assert cache.get("digest", ticks(), 1.0) is None


def test_cache_seconds_zero_reads_the_key_for_every_request(stores):
    _, engine, ticks, clock = stores
    plain = KeyStore(engine, clock=lambda: clock["now"], monotonic=ticks)
    key, info = plain.create("ats", tenant="t1", actor="test")
    assert plain.authenticate(key).key_id == info.id and plain.authenticate_cached(key) is None
    _revoke_behind_its_back(engine, info.id)
    with pytest.raises(KeyRejected, match="revoked"):
        plain.authenticate(key)


def test_the_service_refuses_a_key_revoked_in_process_at_once_on_the_next_request(svc):
    key = svc.key("ats", "t9", name="temp")
    h = {"Authorization": f"Bearer {key}"}
    for _ in range(3):  # verified, then served from memory
        assert svc.client.get("/v1/me", headers=h).status_code == 200
    assert svc.app.state.keys.authenticate_cached(key) is not None
    svc.app.state.keys.revoke(key.split("_")[1], actor="test")
    r = svc.client.get("/v1/me", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
