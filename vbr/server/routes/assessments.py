"""Assessments: the rubrics (values, scale anchors) and their questions, read-only.

Questions are shown as a candidate sees them: scoring keys and assessor notes are not served.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from vbr.engine import Engine
from vbr.models import ID_PATTERN, Rubric
from vbr.server.auth import EVERYONE, allow
from vbr.server.keys import Principal
from vbr.server.pagination import Page, PageParams, page, page_params
from vbr.server.routes.common import AUTH_ERRORS, engine
from vbr.server.schemas import Assessment, AssessmentSummary, QuestionOut, ScaleLevelOut, ValueOut

router = APIRouter(tags=["assessments"])


def _summary(r: Rubric) -> dict:
    return {"id": r.id, "ref": r.ref, "name": r.name, "version": r.version, "framework": r.framework,
            "description": r.description, "questions": len(r.questions)}


@router.get("/assessments", response_model=Page[AssessmentSummary], responses=AUTH_ERRORS,
            summary="List assessments (rubrics)")
def list_assessments(params: PageParams = Depends(page_params), _: Principal = Depends(allow(*EVERYONE)),
                     vbr: Engine = Depends(engine)) -> dict:
    rubrics = vbr.plugins.registry("rubrics")
    return page([_summary(rubrics[k]) for k in sorted(rubrics)], params)


@router.get("/assessments/{rubric_id}", response_model=Assessment, responses=AUTH_ERRORS,
            summary="One assessment: values, scale anchors and questions")
def get_assessment(rubric_id: str = Path(pattern=ID_PATTERN, max_length=80),
                   _: Principal = Depends(allow(*EVERYONE)), vbr: Engine = Depends(engine)) -> dict:
    r = vbr.rubric(rubric_id)
    return {
        **_summary(r),
        "scale": [ScaleLevelOut(level=s.level, label=s.label, anchor=s.anchor) for s in r.scale.levels],
        "values": [ValueOut(id=v.id, name=v.name, description=v.description) for v in r.values],
        "question_list": [QuestionOut(id=q.id, type=q.type.value, text=q.text, values=list(q.values),
                                      options=q.options, rating_scale=list(q.rating_scale) if q.rating_scale else None)
                          for q in r.questions],
    }
