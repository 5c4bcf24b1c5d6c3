"""Equality-monitoring records: write-only for the ATS.

There is no route that returns an individual record, to anyone. Records go to the separate
equality store, which only the gate's audit reads. Equality officers may read aggregates: the
declaration summary here and the audit figures of a shortlist (``/v1/shortlists/{id}/audit``).
Each record must be for an application of the caller's tenant, stored first.
"""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from vbr.engine import Engine
from vbr.errors import NotFound
from vbr.models import ID_PATTERN
from vbr.server import scope
from vbr.server.auth import ATS, OFFICER, allow
from vbr.server.idempotency import Idempotent, idempotent
from vbr.server.keys import Principal
from vbr.server.routes.common import AUTH_ERRORS, POST_ERRORS, engine, writing
from vbr.server.schemas import EqualityAccepted, EqualityIn, Out
from vbr.server.threads import on_write_threads

router = APIRouter(tags=["equality records"])


class EqualitySummary(Out):
    campaign_id: str
    applications: int
    with_record: int
    with_code: int
    by_code: dict[str, int] = Field(description="applications per ethnic category code as given ('' = blank)")


@router.post("/equality-records", status_code=201, response_model=EqualityAccepted, responses=POST_ERRORS,
             summary="Store equality-monitoring records (write-only)")
@on_write_threads
def add_records(body: EqualityIn, request: Request, who: Principal = Depends(allow(ATS, OFFICER)),
                idem: Idempotent = Depends(idempotent), vbr: Engine = Depends(engine)):
    def run():
        for i, rec in enumerate(body.records):
            try:
                scope.application(vbr, who, rec.application_id)
            except NotFound:
                raise NotFound(f"no application '{rec.application_id}'", row=i, field="application_id",
                               hint="submit the application first; nothing was stored") from None
        with writing(request):
            n = vbr.add_equality_records(body.records, actor=who.actor)
        return 201, {"accepted": n}
    return idem.run(who, run)


@router.get("/campaigns/{campaign_id}/equality-summary", response_model=EqualitySummary, responses=AUTH_ERRORS,
            summary="Declaration counts for a campaign (equality officers only)")
def summary(campaign_id: str = Path(pattern=ID_PATTERN, max_length=80), who: Principal = Depends(allow(OFFICER)),
            vbr: Engine = Depends(engine)) -> dict:
    scope.campaign(vbr, who, campaign_id)
    ids = vbr.store.application_ids(campaign_id)
    records = vbr.equality.records_for(ids, purpose=f"declaration summary: campaign {campaign_id}", actor=who.actor)
    codes = Counter(r.ethnic_code for r in records.values())
    return {"campaign_id": campaign_id, "applications": len(ids), "with_record": len(records),
            "with_code": sum(n for c, n in codes.items() if c), "by_code": dict(sorted(codes.items()))}
