"""The append-only, hash-chained audit log: read (your tenant's entries) and verify (the chain).

Entries are filtered to the caller's tenant: its campaigns, their shortlists and scores, and its
keys. Entries carry the gate's figures, so only equality officers read them in full; admins see
them with the figures withheld. ``/v1/log/verify`` recomputes the whole chain.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from vbr.engine import Engine
from vbr.server.auth import ADMIN, OFFICER, allow
from vbr.server.keys import Principal
from vbr.server.pagination import Page, PageParams, encode, page_params
from vbr.server.routes.common import AUTH_ERRORS, engine
from vbr.server.schemas import LogEntryOut, VerifyOut

router = APIRouter(tags=["audit log"])
WITHHELD = "withheld: equality figures are for equality officers"


def _tenant_subjects(vbr: Engine, who: Principal) -> tuple[set[str], tuple[str, ...]]:
    from sqlalchemy import text

    with vbr.store.engine.connect() as conn:
        campaigns = [r[0] for r in conn.execute(text("SELECT id FROM campaigns WHERE tenant=:t"), {"t": who.tenant})]
        shortlists = [r[0] for r in conn.execute(text(
            "SELECT s.id FROM shortlists s JOIN campaigns c ON c.id = s.campaign_id WHERE c.tenant=:t"),
            {"t": who.tenant})]
        apps = [r[0] for r in conn.execute(text(
            "SELECT a.id FROM applications a JOIN campaigns c ON c.id = a.campaign_id WHERE c.tenant=:t"),
            {"t": who.tenant})]
        keys = [r[0] for r in conn.execute(text("SELECT id FROM api_keys WHERE tenant=:t"), {"t": who.tenant})]
    exact = {f"campaign:{c}" for c in campaigns} | {f"shortlist:{s}" for s in shortlists} | {f"key:{k}" for k in keys}
    return exact, tuple(f"score:{a}/" for a in apps)


@router.get("/log", response_model=Page[LogEntryOut], responses=AUTH_ERRORS,
            summary="Audit log entries about your tenant, oldest first")
def entries(params: PageParams = Depends(page_params), action: str | None = Query(None, max_length=80),
            who: Principal = Depends(allow(OFFICER, ADMIN)), vbr: Engine = Depends(engine)) -> dict:
    exact, prefixes = _tenant_subjects(vbr, who)
    out, last = [], params.position
    for e in vbr.store.log.entries(after=params.position, action=action):
        if e.subject in exact or (prefixes and e.subject.startswith(prefixes)):
            if len(out) == params.limit:
                return {"items": out, "next_cursor": encode(last)}
            payload = dict(e.payload)
            if who.role != OFFICER and "figures" in payload:
                payload["figures"] = WITHHELD
            out.append({"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "subject": e.subject,
                        "reason": e.reason, "payload": payload, "prev_hash": e.prev_hash, "hash": e.hash})
            last = e.seq
    return {"items": out, "next_cursor": None}


@router.get("/log/verify", response_model=VerifyOut, responses=AUTH_ERRORS,
            summary="Recompute the hash chain; name the first row that does not match")
def verify(_: Principal = Depends(allow(OFFICER, ADMIN)), vbr: Engine = Depends(engine)) -> dict:
    v = vbr.store.log.verify()
    return {"ok": v.ok, "rows": v.rows, "first_bad_seq": v.first_bad_seq, "problem": v.problem}
