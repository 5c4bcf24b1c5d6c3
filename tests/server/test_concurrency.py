"""1,000 concurrent submissions over real HTTP, duplicates mixed in: exactly one row each.

Requests for the same application arrive at the same time with the same Idempotency-Key, with
a different key, or with none. Whatever the interleaving: one application row and one set of
answers per application, every answer 200/201 (or 409 for a duplicate still in flight), one
``created: true`` per application, and replays equal to the first answer.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import httpx
from sqlalchemy import text

from tests.server.conftest import make_campaign
from tests.server.live import live_server

N_APPS = 250
N_REQUESTS = 1000


def _plan(seed: int = 11) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    plan = [(f"cc-{i:04d}", f"idem-{i:04d}") for i in range(N_APPS)]  # every application at least once
    while len(plan) < N_REQUESTS:
        i = rng.randrange(N_APPS)
        kind = rng.random()
        key = f"idem-{i:04d}" if kind < 0.6 else (None if kind < 0.8 else f"other-{len(plan)}")
        plan.append((f"cc-{i:04d}", key))
    rng.shuffle(plan)
    return plan


def _body(app_id: str) -> dict:
    return {"id": app_id, "reference": app_id.upper(), "answers": [
        {"question_id": "nhs-compassion-1", "text": f"I sat with the patient ({app_id}) and listened to them."},
        {"question_id": "nhs-working-together-1", "text": "I asked the ward team for help and we agreed a plan."}]}


async def _fire(base: str, key: str, plan) -> list[tuple[str, str | None, httpx.Response]]:
    limits = httpx.Limits(max_connections=N_REQUESTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one(app_id, idem):
            headers = {"Authorization": f"Bearer {key}"}
            if idem:
                headers["Idempotency-Key"] = idem
            return app_id, idem, await client.post("/v1/campaigns/band5-2026/applications", json=_body(app_id),
                                                   headers=headers)
        return await asyncio.gather(*(one(a, k) for a, k in plan))


def test_a_thousand_concurrent_submissions_make_one_row_each(svc):
    from vbr.server.app import sqlite_synchronous

    sqlite_synchronous(svc.engine.store.engine, "NORMAL")  # correctness does not depend on it; CI time does
    make_campaign(svc)
    key = svc.key("ats")
    plan = _plan()
    with live_server(svc.app) as base:
        results = asyncio.run(_fire(base, key, plan))

    statuses = Counter(r.status_code for _, _, r in results)
    assert set(statuses) <= {200, 201, 409}, statuses
    created = Counter()
    by_key = defaultdict(list)
    for app_id, idem, r in results:
        if r.status_code == 409:
            assert r.headers["content-type"] == "application/problem+json" and idem is not None
            continue
        body = r.json()
        assert body["application"]["id"] == app_id
        if r.headers.get("idempotent-replayed") != "true" and body["created"]:
            created[app_id] += 1
        if idem:
            by_key[idem].append(body)
    assert all(created[f"cc-{i:04d}"] == 1 for i in range(N_APPS)), [a for a, n in created.items() if n != 1]
    for idem, bodies in by_key.items():
        assert all(b == bodies[0] for b in bodies), idem

    with svc.engine.store.engine.connect() as conn:
        per_app = dict(conn.execute(text("SELECT id, COUNT(*) FROM applications GROUP BY id")).all())
        answers = dict(conn.execute(text(
            "SELECT application_id, COUNT(*) FROM responses GROUP BY application_id")).all())
    assert len(per_app) == N_APPS and set(per_app.values()) == {1}
    assert set(answers.values()) == {2} and len(answers) == N_APPS
    assert svc.client.get("/v1/log/verify", headers=svc.h("admin")).json()["ok"] is True
    print(f"\n1,000 concurrent POSTs: {dict(statuses)}")
