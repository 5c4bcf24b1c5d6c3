"""Campaigns: a vacancy assessed with one rubric, owned by the caller's tenant.

``POST /v1/campaigns`` is idempotent on its natural key as well: posting the same campaign again
answers 200 with ``created: false``. Campaign ids are unique across the whole service, so an id
already used with a different definition (or by another tenant) is a 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.engine import Engine
from vbr.errors import NotFound, ValidationFailed
from vbr.models import ID_PATTERN
from vbr.server import scope
from vbr.server.auth import ADMIN, ATS, EVERYONE, allow
from vbr.server.idempotency import Idempotent, idempotent
from vbr.server.keys import Principal
from vbr.server.pagination import Page, PageParams, page_fetched, page_params
from vbr.server.problems import Problem
from vbr.server.routes.common import AUTH_ERRORS, POST_ERRORS, engine, writing
from vbr.server.schemas import CampaignCreated, CampaignIn, CampaignOut
from vbr.server.threads import on_write_threads

router = APIRouter(tags=["campaigns"])
CampaignId = Path(pattern=ID_PATTERN, max_length=80)


def campaign_out(row: dict) -> dict:
    return {"id": row["id"], "title": row["title"], "rubric_id": row["rubric_id"], "rubric_ref": row["rubric_ref"],
            "question_ids": list(row["question_ids"]), "organisation": row["organisation"],
            "created_at": str(row["created_at"])}


@router.post("/campaigns", status_code=201, response_model=CampaignCreated, responses={
    **POST_ERRORS, 200: {"model": CampaignCreated, "description": "The same campaign already existed"}},
    summary="Create a campaign from an assessment")
@on_write_threads
def create_campaign(body: CampaignIn, request: Request, who: Principal = Depends(allow(ATS, ADMIN)),
                    idem: Idempotent = Depends(idempotent), vbr: Engine = Depends(engine)):
    def run():
        rubric = vbr.rubric(body.rubric_id)
        qids = list(body.question_ids or [q.id for q in rubric.questions])
        with writing(request):
            existing = _existing(vbr, who, body, qids)
            if existing is None:
                try:
                    vbr.create_campaign(body.id, body.title, body.rubric_id, question_ids=qids, actor=who.actor,
                                        organisation=body.organisation, tenant=who.tenant)
                    return 201, {"created": True, "campaign": campaign_out(vbr.store.campaign(body.id))}
                except (SAIntegrityError, ValidationFailed):  # a concurrent create of the same id won
                    existing = _existing(vbr, who, body, qids)
                    if existing is None:
                        raise
            return 200, {"created": False, "campaign": campaign_out(existing)}
    return idem.run(who, run)


def _existing(vbr: Engine, who: Principal, body: CampaignIn, qids: list[str]) -> dict | None:
    """The stored campaign with this id if it is the same campaign; 409 if the id is used otherwise."""
    try:
        existing = vbr.store.campaign(body.id)
    except NotFound:
        return None
    same = (existing["tenant"] == who.tenant and existing["title"] == body.title
            and existing["rubric_id"] == body.rubric_id and list(existing["question_ids"]) == qids
            and existing["organisation"] == body.organisation)
    if not same:
        raise Problem(409, "Id taken", f"campaign id '{body.id}' is already used with a different definition",
                      kind="id-taken", field="id", hint="choose another campaign id")
    return existing


@router.get("/campaigns", response_model=Page[CampaignOut], responses=AUTH_ERRORS,
            summary="Your tenant's campaigns, oldest first")
def list_campaigns(params: PageParams = Depends(page_params), who: Principal = Depends(allow(*EVERYONE)),
                   vbr: Engine = Depends(engine)) -> dict:
    import json

    # the tenant's only, filtered and paged by the database
    rows = vbr.store.campaigns(who.tenant, limit=params.limit + 1, offset=params.position)
    for r in rows:
        r["question_ids"] = json.loads(r["question_ids"]) if isinstance(r["question_ids"], str) else r["question_ids"]
    return page_fetched([campaign_out(r) for r in rows], params)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=AUTH_ERRORS, summary="One campaign")
def get_campaign(campaign_id: str = CampaignId, who: Principal = Depends(allow(*EVERYONE)),
                 vbr: Engine = Depends(engine)) -> dict:
    return campaign_out(scope.campaign(vbr, who, campaign_id))
