"""Fixtures for the HTTP service: an app on a fresh store, keys per role and tenant, a movable clock."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import pytest

pytest.importorskip("fastapi")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from vbr.demo import generate
from vbr.engine import Engine
from vbr.server.app import Settings, create_app

RUBRIC = "nhs-constitution"


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


@dataclass
class Service:
    client: TestClient
    engine: Engine
    clock: FakeClock
    app: object
    _keys: dict = field(default_factory=dict)

    def key(self, role: str, tenant: str = "t1", **kw) -> str:
        if (role, tenant) not in self._keys or kw:
            key, _ = self.app.state.keys.create(role, tenant=tenant, actor="test", **kw)
            if kw:
                return key
            self._keys[(role, tenant)] = key
        return self._keys[(role, tenant)]

    def h(self, role: str, tenant: str = "t1", **extra) -> dict:
        return {"Authorization": f"Bearer {self.key(role, tenant)}", **extra}


def application_bodies(campaign_id: str, n: int, seed: int = 7) -> tuple[list[dict], list[dict]]:
    """``n`` applications with answers (JSON bodies) and their equality records, from the demo generator."""
    from vbr.plugins import get_plugins

    demo = generate(get_plugins().registry("rubrics")[RUBRIC], campaign_id=campaign_id, n=n, seed=seed)
    answers: dict[str, list] = {}
    for r in demo.responses:
        answers.setdefault(r.application_id, []).append({"question_id": r.question_id, "text": r.text})
    bodies = [{"id": a.id, "reference": a.reference, "disability_confident": a.disability_confident,
               "answers": answers.get(a.id, []), "names": demo.names[a.id]} for a in demo.applications]
    return bodies, demo.equality


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(tmp_path, clock) -> Service:
    engine = Engine(tmp_path / "vbr.sqlite")
    app = create_app(engine, settings=Settings(clock=clock, max_body_bytes=64 * 1024))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, engine, clock, app)


def make_campaign(svc: Service, campaign_id: str = "band5-2026", tenant: str = "t1", n: int = 0) -> list[dict]:
    """Create a campaign (as the tenant's ATS) and submit ``n`` demo applications; return their bodies."""
    r = svc.client.post("/v1/campaigns", headers=svc.h("ats", tenant),
                        json={"id": campaign_id, "title": "Band 5 staff nurse", "rubric_id": RUBRIC})
    assert r.status_code == 201, r.text
    bodies, equality = application_bodies(campaign_id, n) if n else ([], [])
    for b in bodies:
        r = svc.client.post(f"/v1/campaigns/{campaign_id}/applications", headers=svc.h("ats", tenant), json=b)
        assert r.status_code == 201, r.text
    if equality:
        r = svc.client.post("/v1/equality-records", headers=svc.h("ats", tenant), json={"records": equality})
        assert r.status_code == 201, r.text
    return bodies
