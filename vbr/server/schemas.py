"""Request and response bodies of the HTTP API. Requests reject unknown fields.

There is no field for a protected characteristic anywhere here except in the equality-record
body, which goes to the equality store and is never read back by this API.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vbr.fairness.equality import EqualityRecord
from vbr.models import MAX_ANSWER_CHARS, EvidenceSpan, Identifier, ReviewFlag

AppId = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- assessments
class ScaleLevelOut(Out):
    level: int
    label: str
    anchor: str


class ValueOut(Out):
    id: str
    name: str
    description: str


class QuestionOut(Out):
    """A question as a candidate sees it: no scoring key, no assessor notes."""

    id: str
    type: str
    text: str
    values: list[str]
    options: dict[str, str] | None = None
    rating_scale: list[int] | None = None


class AssessmentSummary(Out):
    id: str
    ref: str
    name: str
    version: str
    framework: str
    description: str
    questions: int


class Assessment(AssessmentSummary):
    scale: list[ScaleLevelOut]
    values: list[ValueOut]
    question_list: list[QuestionOut]


# ----------------------------------------------------------------------------- campaigns
class CampaignIn(In):
    id: Identifier
    title: str = Field(min_length=1, max_length=200)
    rubric_id: Identifier = Field(description="the assessment (rubric) id, see GET /v1/assessments")
    question_ids: list[Identifier] | None = Field(None, max_length=100, description="default: all questions")
    organisation: str | None = Field(None, max_length=200)


class CampaignOut(Out):
    id: str
    title: str
    rubric_id: str
    rubric_ref: str
    question_ids: list[str]
    organisation: str | None = None
    created_at: str


class CampaignCreated(Out):
    created: bool = Field(description="false when the same campaign already existed (deduplicated)")
    campaign: CampaignOut


# ----------------------------------------------------------------------------- applications
class AnswerIn(In):
    question_id: Identifier
    text: str | None = Field(None, max_length=MAX_ANSWER_CHARS)
    ranking: dict[Annotated[str, Field(max_length=40)], int | None] | None = Field(None, max_length=26)
    choices: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=26)
    rating: int | None = Field(None, ge=-1000, le=1000)


class ApplicationIn(In):
    id: AppId
    reference: str | None = Field(None, max_length=200)
    disability_confident: bool = False
    submitted_at: dt.datetime | None = None
    answers: list[AnswerIn] = Field(default_factory=list, max_length=50)
    names: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=10,
        description="the candidate's names, used only to redact them from the answers; never stored")

    @model_validator(mode="after")
    def _one_answer_per_question(self) -> "ApplicationIn":
        qids = [a.question_id for a in self.answers]
        dupes = sorted({q for q in qids if qids.count(q) > 1})
        if dupes:
            raise ValueError(f"question(s) {dupes} answered more than once")
        return self


class AnswerOut(Out):
    question_id: str
    text: str | None = Field(None, description="the answer as scorers see it: names and contact details redacted")
    structured: dict[str, Any] | None = None


class ApplicationOut(Out):
    id: str
    campaign_id: str
    reference: str | None = None
    disability_confident: bool
    submitted_at: str | None = None
    created_at: str


class ApplicationDetail(ApplicationOut):
    answers: list[AnswerOut]


class ApplicationCreated(Out):
    created: bool = Field(description="false when this application was already stored (deduplicated)")
    application: ApplicationOut


# ----------------------------------------------------------------------------- equality
class EqualityIn(In):
    records: list[EqualityRecord] = Field(min_length=1, max_length=1000)


class EqualityAccepted(Out):
    accepted: int = Field(description="records stored (new or replacing an earlier declaration)")


# ----------------------------------------------------------------------------- scores
class ScoreRunIn(In):
    scorer: Identifier = "evidence"
    rescore: bool = Field(False, description="score every answer again (after a new scorer or model), not only "
                                             "those not scored yet; people's scores stay current either way")


class ScoreRun(Out):
    campaign_id: str
    scorer: str
    scores: int


class ScoreOut(Out):
    score_id: int
    application_id: str
    question_id: str
    value_id: str
    level: int
    confidence: float
    evidence: list[EvidenceSpan]
    anchor: str | None = None
    scorer_id: str
    scorer_version: str
    rubric_ref: str
    flags: list[ReviewFlag]
    source: str = Field(description="scorer, or override (a person's review)")
    created_by: str
    reason: str | None = None
    created_at: str


class ToMarkOut(Out):
    application_id: str
    question_id: str
    values: list[str] = Field(description="values of the question no score was given for")
    flags: list[ReviewFlag] = Field(description="why the scorer gave none (empty answer, scorer error, ...)")
    scorer_id: str
    scorer_version: str
    created_at: str


class OverrideIn(In):
    question_id: Identifier
    value_id: Identifier
    level: int = Field(ge=0, le=10)
    reason: str = Field(min_length=5, max_length=2000)


class OverrideOut(Out):
    score_id: int
    application_id: str
    question_id: str
    value_id: str
    level: int


# ----------------------------------------------------------------------------- shortlists
class ShortlistIn(In):
    top: int | None = Field(None, ge=1, le=100_000, description="shortlist the top N by score")
    application_ids: list[AppId] | None = Field(None, min_length=1, max_length=100_000,
                                                description="or propose exactly these, in this order")
    disability_confident_minimum: float | None = Field(2.0, ge=0, le=10)

    @model_validator(mode="after")
    def _one_of(self) -> "ShortlistIn":
        if (self.top is None) == (self.application_ids is None):
            raise ValueError("give exactly one of top or application_ids")
        return self


class GateDecisionOut(Out):
    shortlist_id: int
    campaign_id: str
    decision: str = Field(description="PASS, REVIEW or BLOCK")
    reasons: list[str] | None = Field(description="null unless the caller is an equality officer: the reasons "
                                                  "cite group figures")
    released: bool
    application_ids: list[str]
    decision_id: int | None = None
    warnings: list[str] = []


class ShortlistStatus(Out):
    shortlist_id: int
    campaign_id: str
    stage: str
    application_ids: list[str]
    proposed_by: str
    proposed_at: str
    decision: str | None
    reasons: list[str] | None
    released: bool
    released_by: str | None = None
    justification: str | None = None
    history: list[dict[str, Any]]


class AuditOut(Out):
    shortlist_id: int
    campaign_id: str
    decision: str | None
    reasons: list[str]
    figures: dict[str, Any] = Field(description="the figures the decision rested on, with group tables")


class ReleaseIn(In):
    justification: str | None = Field(None, max_length=5000, description="required to release a held shortlist")


class ReleaseOut(Out):
    shortlist_id: int
    released: bool
    application_ids: list[str]


# ----------------------------------------------------------------------------- log and keys
class LogEntryOut(Out):
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    reason: str | None = None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(Out):
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None


class WhoAmI(Out):
    key_id: str
    role: str
    tenant: str
    name: str | None = None
