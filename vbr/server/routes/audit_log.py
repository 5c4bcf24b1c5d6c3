"""The append-only, hash-chained audit log: read (your tenant's entries) and verify (the chain).

Entries are filtered to the caller's tenant in the database: those the log's campaign index ties
to its campaigns (their shortlists and scores too) and those about its keys. Entries carry the gate's figures, so only equality officers read them in full; admins see
them with the figures withheld. ``/v1/log/verify`` recomputes the whole chain.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from sqlalchemy import text

from vbr.engine import Engine
from vbr.server.auth import ADMIN, OFFICER, allow
from vbr.server.keys import Principal
from vbr.server.pagination import Page, PageParams, encode, page_params
from vbr.server.routes.common import AUTH_ERRORS, engine
from vbr.server.schemas import LogEntryOut, VerifyOut
from vbr.store.db import one_statement

router = APIRouter(tags=["audit log"])
WITHHELD = "withheld: equality figures are for equality officers"


_ENTRY = "SELECT l.seq, l.ts, l.actor, l.action, l.subject, l.reason, l.payload, l.prev_hash, l.hash FROM audit_log l"
# The tenant's entries in seq order from the cursor: those indexed to one of its campaigns (the
# campaign index of the log, which covers its shortlists and scores too) and those about its
# keys. The database walks the log's primary key and stops at the page's end, so a page costs
# about its own size, not the whole log (it used to be read and filtered in Python).
_TENANT_WHERE = (
    " LEFT JOIN audit_log_campaigns i ON i.seq = l.seq LEFT JOIN campaigns c ON c.id = i.campaign_id"
    " WHERE l.seq > :after AND (c.tenant = :tenant"
    " OR l.subject IN (SELECT 'key:' || k.id FROM api_keys k WHERE k.tenant = :tenant))")
_TENANT_ENTRIES = {
    False: text(_ENTRY + _TENANT_WHERE + " ORDER BY l.seq LIMIT :n"),
    True: text(_ENTRY + _TENANT_WHERE + " AND l.action = :action ORDER BY l.seq LIMIT :n"),
}


@router.get("/log", response_model=Page[LogEntryOut], responses=AUTH_ERRORS,
            summary="Audit log entries about your tenant, oldest first")
def entries(params: PageParams = Depends(page_params), action: str | None = Query(None, max_length=80),
            who: Principal = Depends(allow(OFFICER, ADMIN)), vbr: Engine = Depends(engine)) -> dict:
    args = {"after": params.position, "tenant": who.tenant, "n": params.limit + 1, "action": action}
    with one_statement(vbr.store.engine) as conn:
        rows = conn.execute(_TENANT_ENTRIES[action is not None], args).all()
    out = []
    for seq, ts, actor, act, subject, reason, body, prev_hash, digest in rows[:params.limit]:
        payload = json.loads(body)
        if who.role != OFFICER and "figures" in payload:
            payload["figures"] = WITHHELD
        out.append({"seq": seq, "ts": ts, "actor": actor, "action": act, "subject": subject, "reason": reason,
                    "payload": payload, "prev_hash": prev_hash, "hash": digest})
    return {"items": out, "next_cursor": encode(out[-1]["seq"]) if len(rows) > params.limit else None}


@router.get("/log/verify", response_model=VerifyOut, responses=AUTH_ERRORS,
            summary="Recompute the hash chain; name the first row that does not match")
def verify(_: Principal = Depends(allow(OFFICER, ADMIN)), vbr: Engine = Depends(engine)) -> dict:
    v = vbr.store.log.verify()
    return {"ok": v.ok, "rows": v.rows, "first_bad_seq": v.first_bad_seq, "problem": v.problem}
