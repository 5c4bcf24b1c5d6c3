"""Scores with their evidence, scoring runs, and reviewers' overrides.

Every score carries the evidence spans (offsets into the redacted answer) that produced it.
An override is a new score row with who and why; the previous score stays in the history.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request

from vbr.engine import Engine
from vbr.models import ID_PATTERN
from vbr.server import scope
from vbr.server.auth import ADMIN, ATS, EVERYONE, RECRUITER, allow
from vbr.server.idempotency import Idempotent, idempotent
from vbr.server.keys import Principal
from vbr.server import queries
from vbr.server.pagination import Page, PageParams, encode, page, page_params
from vbr.server.routes.common import AUTH_ERRORS, POST_ERRORS, engine, writing
from vbr.server.schemas import OverrideIn, OverrideOut, ScoreOut, ScoreRun, ScoreRunIn, ToMarkOut
from vbr.server.threads import on_write_threads

router = APIRouter(tags=["scores"])
CampaignId = Path(pattern=ID_PATTERN, max_length=80)


@router.post("/campaigns/{campaign_id}/scores", status_code=201, response_model=ScoreRun, responses=POST_ERRORS,
             summary="Score the campaign's answers not scored yet (all of them again with rescore); people's scores stay")
@on_write_threads
def run_scoring(request: Request, body: ScoreRunIn | None = None, campaign_id: str = CampaignId,
                who: Principal = Depends(allow(ATS, RECRUITER, ADMIN)), idem: Idempotent = Depends(idempotent),
                vbr: Engine = Depends(engine)):
    body = body or ScoreRunIn()

    def run():
        scope.campaign(vbr, who, campaign_id)
        with writing(request):
            scores = vbr.score(campaign_id, scorer=body.scorer, actor=who.actor, rescore=body.rescore)
        return 201, {"campaign_id": campaign_id, "scorer": body.scorer, "scores": len(scores)}
    return idem.run(who, run)


@router.get("/campaigns/{campaign_id}/scores", response_model=Page[ScoreOut], responses=AUTH_ERRORS,
            summary="Current scores with evidence (the latest per application, question and value)")
def list_scores(campaign_id: str = CampaignId, params: PageParams = Depends(page_params),
                application_id: str | None = Query(None, min_length=1, max_length=120),
                who: Principal = Depends(allow(*EVERYONE)), vbr: Engine = Depends(engine)) -> dict:
    scope.campaign(vbr, who, campaign_id)
    start = params.position
    items, more = queries.current_scores(vbr.store.engine, campaign_id, application_id=application_id,
                                         offset=start, limit=params.limit)
    return {"items": items, "next_cursor": encode(start + params.limit) if more else None}


@router.get("/campaigns/{campaign_id}/to-mark", response_model=Page[ToMarkOut], responses=AUTH_ERRORS,
            summary="Answers the scorer could not score, with the values a person still has to mark")
def list_to_mark(campaign_id: str = CampaignId, params: PageParams = Depends(page_params),
                 application_id: str | None = Query(None, min_length=1, max_length=120),
                 who: Principal = Depends(allow(*EVERYONE)), vbr: Engine = Depends(engine)) -> dict:
    scope.campaign(vbr, who, campaign_id)
    rows = vbr.to_mark(campaign_id, application_id=application_id)
    return page([{**r, "flags": [f.model_dump(mode="json") for f in r["flags"]]} for r in rows], params)


@router.post("/applications/{application_id}/overrides", status_code=201, response_model=OverrideOut,
             responses=POST_ERRORS, summary="Override a score, or mark a value the scorer could not score, with a reason (a reviewer's decision)")
@on_write_threads
def override(body: OverrideIn, request: Request, application_id: str = Path(min_length=1, max_length=120),
             who: Principal = Depends(allow(RECRUITER, ADMIN)), idem: Idempotent = Depends(idempotent),
             vbr: Engine = Depends(engine)):
    def run():
        scope.application(vbr, who, application_id)
        with writing(request):
            score_id = vbr.override(application_id, body.question_id, body.value_id, body.level,
                                    actor=who.actor, reason=body.reason)
        return 201, {"score_id": score_id, "application_id": application_id, "question_id": body.question_id,
                     "value_id": body.value_id, "level": body.level}
    return idem.run(who, run)
