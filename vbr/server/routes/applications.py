"""Applications with their answers.

``POST /v1/campaigns/{id}/applications`` stores one application and its answers, all or
nothing. It is idempotent on its natural key: posting an application id already stored in the
same campaign answers 200 with ``created: false`` and changes nothing (the first submission
stands). Candidates' names, if sent, are used only to redact the answers and are never stored.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from vbr.engine import Engine
from vbr.errors import NotFound
from vbr.models import ID_PATTERN
from vbr.server import scope
from vbr.server.auth import ADMIN, ATS, EVERYONE, RECRUITER, allow
from vbr.server.idempotency import Idempotent, idempotent
from vbr.server.keys import Principal
from vbr.server.pagination import Page, PageParams, page_fetched, page_params
from vbr.server.problems import Problem
from vbr.server.routes.common import AUTH_ERRORS, POST_ERRORS, engine, writing
from vbr.server.schemas import ApplicationCreated, ApplicationDetail, ApplicationIn, ApplicationOut
from vbr.server.threads import on_write_threads
from vbr.store.db import now

router = APIRouter(tags=["applications"])
CampaignId = Path(pattern=ID_PATTERN, max_length=80)
ApplicationId = Path(min_length=1, max_length=120)


def application_out(row: dict) -> dict:
    return {"id": row["id"], "campaign_id": row["campaign_id"], "reference": row["reference"],
            "disability_confident": bool(row["disability_confident"]),
            "submitted_at": str(row["submitted_at"]) if row["submitted_at"] else None,
            "created_at": str(row["created_at"])}


def _existing(vbr: Engine, who: Principal, campaign_id: str, application_id: str) -> dict | None:
    """The stored application with this id, if it is this campaign's; 409 if the id is used elsewhere."""
    try:
        row = vbr.store.application(application_id)
    except NotFound:
        return None
    if row["campaign_id"] != campaign_id:
        raise Problem(409, "Id taken", f"application id '{application_id}' is already used",
                      kind="id-taken", field="id", hint="application ids must be unique; use the ATS's own id")
    return row


@router.post("/campaigns/{campaign_id}/applications", status_code=201, response_model=ApplicationCreated,
             responses={**POST_ERRORS, 200: {"model": ApplicationCreated,
                                             "description": "Already stored: nothing changed"}},
             summary="Submit an application with its answers")
@on_write_threads
def submit_application(body: ApplicationIn, request: Request, campaign_id: str = CampaignId,
                       who: Principal = Depends(allow(ATS, ADMIN)), idem: Idempotent = Depends(idempotent),
                       vbr: Engine = Depends(engine)):
    def run():
        scope.campaign(vbr, who, campaign_id)
        app = {"id": body.id, "campaign_id": campaign_id, "reference": body.reference,
               "disability_confident": body.disability_confident, "submitted_at": body.submitted_at}
        answers = [{"application_id": body.id, **a.model_dump(exclude_none=True)} for a in body.answers]
        with writing(request):
            # Insert first and look only when the id is taken (its key refuses a second row): a new
            # application, the usual case, costs no read, and a concurrent twin is caught the same way.
            received = now()
            try:
                vbr.submit(campaign_id, [app], answers, names={body.id: body.names} if body.names else None,
                           received_at=received)
            except SAIntegrityError:
                row = _existing(vbr, who, campaign_id, body.id)  # 409 if the id is another campaign's
                if row is None:
                    raise
            else:  # what was stored, without reading it back
                return 201, {"created": True, "application": application_out({
                    **app, "disability_confident": int(body.disability_confident), "created_at": received,
                    "submitted_at": body.submitted_at.isoformat() if body.submitted_at else None})}
        return 200, {"created": False, "application": application_out(row)}
    return idem.run(who, run)


@router.get("/campaigns/{campaign_id}/applications", response_model=Page[ApplicationOut], responses=AUTH_ERRORS,
            summary="A campaign's applications (no answers)")
def list_applications(campaign_id: str = CampaignId, params: PageParams = Depends(page_params),
                      who: Principal = Depends(allow(*EVERYONE)), vbr: Engine = Depends(engine)) -> dict:
    scope.campaign(vbr, who, campaign_id)
    rows = vbr.store.applications(campaign_id, limit=params.limit + 1, offset=params.position)
    return page_fetched([application_out(r) for r in rows], params)


@router.get("/applications/{application_id}", response_model=ApplicationDetail, responses=AUTH_ERRORS,
            summary="One application with its redacted answers")
def get_application(application_id: str = ApplicationId, who: Principal = Depends(allow(ATS, RECRUITER, ADMIN)),
                    vbr: Engine = Depends(engine)) -> dict:
    row = scope.application(vbr, who, application_id)
    answers = [{"question_id": r["question_id"], "text": r["redacted_text"],
                "structured": json.loads(r["structured"]) if r["structured"] else None}
               for r in vbr.store.responses(row["campaign_id"], application_id=application_id)]
    return {**application_out(row), "answers": answers}
