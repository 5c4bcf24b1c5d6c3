"""Fixtures for the pages: a service with the pages plugin, a scored campaign, keys per role, a movable clock."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

import vbr.pages.plugin
from vbr.demo import generate
from vbr.engine import Engine
from vbr.plugins import DEFAULT_PLUGINS, build
from vbr.server.app import Settings, create_app

RUBRIC = "nhs-constitution"
CAMPAIGN = "band5-2026"


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


def pages_plugins():
    """The plugin system with the pages plugin (once it is a default plugin, as it is)."""
    if "vbr.pages.plugin" in DEFAULT_PLUGINS:
        return build(load_entrypoints=False)
    return build(load_entrypoints=False, extra_plugins=(vbr.pages.plugin,))


def seed(engine: Engine, campaign_id: str = CAMPAIGN, *, n: int = 40, tenant: str = "t1", seed: int = 7,
         title: str = "Band 5 staff nurse, surgical wards", propose: int | None = 10) -> None:
    rubric = engine.rubric(RUBRIC)
    demo = generate(rubric, campaign_id=campaign_id, n=n, seed=seed)
    engine.create_campaign(campaign_id, title, RUBRIC, question_ids=demo.question_ids, actor="ats:test",
                           tenant=tenant)
    engine.submit(campaign_id, demo.applications, demo.responses, names=demo.names)
    engine.add_equality_records(demo.equality, actor="ats:test")
    engine.score(campaign_id)
    if propose:
        engine.propose_shortlist(campaign_id, top=propose, actor="ats:test")


@dataclass
class Pages:
    client: TestClient
    engine: Engine
    clock: FakeClock
    app: object
    keys: dict = field(default_factory=dict)

    def key(self, role: str, tenant: str = "t1") -> str:
        if (role, tenant) not in self.keys:
            self.keys[(role, tenant)], _ = self.app.state.keys.create(role, tenant=tenant, actor="test",
                                                                       name=f"{role.replace('_', ' ')} one")
        return self.keys[(role, tenant)]

    def csrf(self, path: str = "/pages/sign-in") -> str:
        r = self.client.get(path)
        m = re.search(r'name="csrf" value="([^"]+)"', r.text)
        assert m, r.text[:500]
        return m.group(1)

    def sign_in(self, role: str, tenant: str = "t1"):
        self.client.cookies.clear()
        r = self.client.post("/pages/sign-in", data={"csrf": self.csrf(), "api_key": self.key(role, tenant),
                                                     "next": "/pages/campaigns"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return r


_TEMPLATES: dict[tuple, Path] = {}


def make_pages(tmp_path, clock, **seed_kw):
    """An app on a copy of a seeded database (seeded once per set of arguments, then copied)."""
    key = tuple(sorted(seed_kw.items()))
    if key not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="vbr-pages-seed-"))
        engine = Engine(folder / "vbr.sqlite", plugins=pages_plugins())
        seed(engine, **seed_kw)
        for e in (engine.store.engine, engine.equality.engine):
            with e.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            e.dispose()
        _TEMPLATES[key] = folder
    folder = tmp_path / "db"
    shutil.copytree(_TEMPLATES[key], folder)
    engine = Engine(folder / "vbr.sqlite", plugins=pages_plugins())
    app = create_app(engine, settings=Settings(clock=clock))
    return app, engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pages(tmp_path, clock) -> Pages:
    app, engine = make_pages(tmp_path, clock)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Pages(client, engine, clock, app)
