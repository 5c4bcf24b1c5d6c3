"""Shortlists through the gate: propose, see the decision, read the audit, release.

Proposing runs the adverse-impact audit and answers with the gate's decision (PASS releases at
once; REVIEW and BLOCK hold). Only equality officers read the audit's figures and the reasons
(they cite group figures), and only they can release a held shortlist, with a justification;
anyone else releasing a held shortlist gets 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from vbr.engine import Engine
from vbr.models import ID_PATTERN
from vbr.server import scope
from vbr.server.auth import ADMIN, ATS, EVERYONE, OFFICER, RECRUITER, allow
from vbr.server.idempotency import Idempotent, idempotent
from vbr.server.keys import Principal
from vbr.server.problems import Problem
from vbr.server.routes.common import AUTH_ERRORS, POST_ERRORS, engine, writing
from vbr.server.schemas import AuditOut, GateDecisionOut, ReleaseIn, ReleaseOut, ShortlistIn, ShortlistStatus
from vbr.server.threads import on_write_threads

router = APIRouter(tags=["shortlists"])
ShortlistId = Path(ge=1, le=2**62)


def _reasons(who: Principal, reasons) -> list[str] | None:
    return list(reasons) if who.role == OFFICER else None


@router.post("/campaigns/{campaign_id}/shortlists", status_code=201, response_model=GateDecisionOut,
             responses=POST_ERRORS, summary="Propose a shortlist: the gate audits it and decides")
@on_write_threads
def propose(body: ShortlistIn, request: Request, campaign_id: str = Path(pattern=ID_PATTERN, max_length=80),
            who: Principal = Depends(allow(ATS, RECRUITER, ADMIN)), idem: Idempotent = Depends(idempotent),
            vbr: Engine = Depends(engine)):
    def run():
        scope.campaign(vbr, who, campaign_id)
        with writing(request):
            result = vbr.propose_shortlist(campaign_id, top=body.top, application_ids=body.application_ids,
                                           actor=who.actor,
                                           disability_confident_minimum=body.disability_confident_minimum)
        return 201, {"shortlist_id": result.shortlist_id, "campaign_id": result.campaign_id,
                     "decision": result.decision.value, "reasons": _reasons(who, result.reasons),
                     "released": result.released, "application_ids": list(result.application_ids),
                     "decision_id": result.decision_id, "warnings": list(result.warnings)}
    return idem.run(who, run)


@router.get("/shortlists/{shortlist_id}", response_model=ShortlistStatus, responses=AUTH_ERRORS,
            summary="A shortlist, its gate decision and whether it was released")
def status(shortlist_id: int = ShortlistId, who: Principal = Depends(allow(*EVERYONE)),
           vbr: Engine = Depends(engine)) -> dict:
    scope.shortlist(vbr, who, shortlist_id)
    st = vbr.status(shortlist_id)
    history = [{k: (v if k != "reasons" else _reasons(who, v)) for k, v in row.items()} for row in st["history"]]
    return {**{k: v for k, v in st.items() if k != "figures"}, "reasons": _reasons(who, st["reasons"]),
            "history": history, "proposed_at": str(st["proposed_at"])}


@router.get("/shortlists/{shortlist_id}/audit", response_model=AuditOut, responses=AUTH_ERRORS,
            summary="The audit's figures and group tables (equality officers only)")
def audit(shortlist_id: int = ShortlistId, who: Principal = Depends(allow(OFFICER)),
          vbr: Engine = Depends(engine)) -> dict:
    scope.shortlist(vbr, who, shortlist_id)
    st = vbr.status(shortlist_id)
    return {"shortlist_id": shortlist_id, "campaign_id": st["campaign_id"], "decision": st["decision"],
            "reasons": list(st["reasons"]), "figures": st["figures"]}


@router.post("/shortlists/{shortlist_id}/release", response_model=ReleaseOut, responses=POST_ERRORS,
             summary="Release a shortlist (a held one: equality officers only, with a justification)")
@on_write_threads
def release(request: Request, body: ReleaseIn | None = None, shortlist_id: int = ShortlistId,
            who: Principal = Depends(allow(*EVERYONE)), idem: Idempotent = Depends(idempotent),
            vbr: Engine = Depends(engine)):
    body = body or ReleaseIn()

    def run():
        scope.shortlist(vbr, who, shortlist_id)
        with writing(request):
            st = vbr.status(shortlist_id)
            if who.role != OFFICER and not st["released"] and st["decision"] != "PASS":
                raise Problem(403, "Forbidden", f"shortlist {shortlist_id} is held by the gate ({st['decision']}); "
                              "only an equality officer may release it, with a justification", kind="held-by-gate",
                              hint="ask an equality officer to review the audit and release it")
            ids = vbr.release(shortlist_id, actor=who.actor, role=who.role, justification=body.justification)
        return 200, {"shortlist_id": shortlist_id, "released": True, "application_ids": ids}
    return idem.run(who, run)
