"""Pydantic models at every boundary of vbr.

Why these shapes: an ATS sends us applications and answers, a recruiter reviews scores, and an
equality officer decides on a shortlist. Every model rejects unknown fields (``extra="forbid"``)
so a stray ``ethnicity`` key in a response is refused instead of quietly travelling towards a
scorer. No model here has a field for a protected characteristic; equality data has its own
module (:mod:`vbr.fairness.equality`) that nothing in scoring imports.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=80)]


class Strict(BaseModel):
    """Base for every boundary model: unknown fields are an error, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Frozen(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- rubrics


class Polarity(str, enum.Enum):
    positive = "positive"
    negative = "negative"


class Indicator(Frozen):
    """A behaviour that counts for (positive) or against (negative) a value.

    ``phrases`` are the words a scorer looks for; ``text`` is what a recruiter reads.
    """

    id: Identifier
    polarity: Polarity
    text: str = Field(min_length=3)
    phrases: tuple[str, ...] = Field(min_length=1)

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip().lower() for p in v)
        if any(not p for p in cleaned):
            raise ValueError("an indicator phrase is blank")
        return cleaned


class ScaleLevel(Frozen):
    """One level of a behaviourally anchored rating scale with its anchor text."""

    level: int = Field(ge=0, le=10)
    label: str = Field(min_length=1)
    anchor: str = Field(min_length=10)


class Value(Frozen):
    id: Identifier
    name: str = Field(min_length=2)
    description: str = Field(min_length=10)
    indicators: tuple[Indicator, ...]
    anchors: tuple[ScaleLevel, ...] | None = None  # overrides the rubric scale's anchors

    @property
    def positive(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.polarity is Polarity.positive)

    @property
    def negative(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.polarity is Polarity.negative)


class QuestionType(str, enum.Enum):
    free_text = "free_text"
    sjt_ranking = "sjt_ranking"
    sjt_choose = "sjt_choose"
    rating = "rating"


class FreeTextKey(Frozen):
    """What a strong answer shows: notes for assessors and text for key similarity."""

    strong_answer: str = Field(min_length=10)


class RankingKey(Frozen):
    """The key rank of each option (1 = best)."""

    ranks: dict[str, int]

    @model_validator(mode="after")
    def _permutation(self) -> "RankingKey":
        ranks = sorted(self.ranks.values())
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError("key ranks must be 1..n with no gaps or ties")
        return self


class ChooseKey(Frozen):
    k: int = Field(ge=1)
    correct: tuple[str, ...]
    marks_per_option: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _k_matches(self) -> "ChooseKey":
        if len(self.correct) != self.k:
            raise ValueError(f"choose-{self.k} needs exactly {self.k} correct options")
        return self


class RatingKey(Frozen):
    """Key rating and the partial-credit table by distance from it (data, not code)."""

    key: int
    credit_by_distance: tuple[int, ...] = Field(min_length=1)


class Question(Frozen):
    id: Identifier
    type: QuestionType
    text: str = Field(min_length=10)
    values: tuple[Identifier, ...] = Field(min_length=1)
    strong_answer_notes: str = Field(min_length=10)
    options: dict[str, str] | None = None
    key: Union[FreeTextKey, RankingKey, ChooseKey, RatingKey, None] = None
    rating_scale: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _key_fits_type(self) -> "Question":
        want = {
            QuestionType.free_text: (FreeTextKey, type(None)),
            QuestionType.sjt_ranking: (RankingKey,),
            QuestionType.sjt_choose: (ChooseKey,),
            QuestionType.rating: (RatingKey,),
        }[self.type]
        if not isinstance(self.key, want):
            raise ValueError(f"a {self.type.value} question needs a {want[0].__name__} key")
        if self.type in (QuestionType.sjt_ranking, QuestionType.sjt_choose):
            if not self.options:
                raise ValueError(f"a {self.type.value} question needs options")
            named = set(self.key.ranks) if isinstance(self.key, RankingKey) else set(self.key.correct)
            unknown = named - set(self.options)
            if unknown:
                raise ValueError(f"key names options that do not exist: {sorted(unknown)}")
            if isinstance(self.key, RankingKey) and set(self.key.ranks) != set(self.options):
                raise ValueError("a ranking key must rank every option exactly once")
            if isinstance(self.key, ChooseKey):
                if len(set(self.key.correct)) != len(self.key.correct):
                    raise ValueError("a choose key lists the same option twice")
                if self.key.k >= len(self.options):
                    raise ValueError(f"choose-{self.key.k} needs more than {self.key.k} options")
        if isinstance(self.key, RatingKey):
            if self.rating_scale is None:
                raise ValueError("a rating question needs rating_scale: [low, high]")
            low, high = self.rating_scale
            if not low < high:
                raise ValueError("rating_scale must be [low, high] with low < high")
            if not low <= self.key.key <= high:
                raise ValueError(f"rating key {self.key.key} is outside rating_scale {low}-{high}")
        return self


class Scale(Frozen):
    min: int = 0
    max: int = 4
    levels: tuple[ScaleLevel, ...]

    @model_validator(mode="after")
    def _every_level_anchored(self) -> "Scale":
        if self.max <= self.min:
            raise ValueError("scale max must be above min")
        have = [lvl.level for lvl in self.levels]
        want = list(range(self.min, self.max + 1))
        if sorted(have) != want:
            missing = sorted(set(want) - set(have))
            extra = sorted(set(have) - set(want))
            dupes = sorted({x for x in have if have.count(x) > 1})
            parts = []
            if missing:
                parts.append(f"no anchor for level(s) {missing}")
            if extra:
                parts.append(f"level(s) {extra} outside {self.min}-{self.max}")
            if dupes:
                parts.append(f"level(s) {dupes} anchored twice")
            raise ValueError("scale gap: " + "; ".join(parts))
        return self


class Rubric(Frozen):
    id: Identifier
    name: str
    version: str = Field(pattern=r"^\d+\.\d+(\.\d+)?$")
    framework: str
    description: str
    source: str | None = None
    scale: Scale
    values: tuple[Value, ...] = Field(min_length=1)
    questions: tuple[Question, ...] = ()
    mapping: dict[str, dict[str, tuple[Identifier, ...]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ids_unique_and_linked(self) -> "Rubric":
        def dupes(ids: list[str]) -> list[str]:
            return sorted({i for i in ids if ids.count(i) > 1})

        if d := dupes([v.id for v in self.values]):
            raise ValueError(f"duplicate value id(s): {d}")
        if d := dupes([i.id for v in self.values for i in v.indicators]):
            raise ValueError(f"duplicate indicator id(s): {d}")
        if d := dupes([q.id for q in self.questions]):
            raise ValueError(f"duplicate question id(s): {d}")
        known = {v.id for v in self.values}
        for q in self.questions:
            if bad := sorted(set(q.values) - known):
                raise ValueError(f"question {q.id!r} targets unknown value(s) {bad}")
        for m in self.mapping.values():
            if bad := sorted(set(m) - known):
                raise ValueError(f"mapping names unknown value(s) {bad}")
        return self

    def value(self, value_id: str) -> Value:
        for v in self.values:
            if v.id == value_id:
                return v
        raise KeyError(f"rubric {self.id!r} has no value {value_id!r}")

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"rubric {self.id!r} has no question {question_id!r}")

    def anchors_for(self, value_id: str) -> tuple[ScaleLevel, ...]:
        return self.value(value_id).anchors or self.scale.levels

    @property
    def ref(self) -> str:
        """``id@version``: what a score or a trained model records."""
        return f"{self.id}@{self.version}"


# --------------------------------------------------------------------------- campaigns


class Campaign(Strict):
    """A vacancy (or a batch of vacancies) assessed with one rubric."""

    id: Identifier
    title: str = Field(min_length=1)
    rubric_id: Identifier
    question_ids: tuple[Identifier, ...] = ()
    organisation: str | None = None
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


Vacancy = Campaign


class Application(Strict):
    """A candidate's application as vbr sees it: an anonymous reference, never a name.

    ``disability_confident`` records a candidate's opt-in to the guaranteed-interview scheme,
    which the shortlist must honour; it is an opt-in the candidate chose to declare, carried as
    a shortlist rule, and never reaches a scorer.
    """

    id: Annotated[str, Field(min_length=1, max_length=120)]
    campaign_id: Identifier
    reference: str | None = None
    disability_confident: bool = False
    submitted_at: dt.datetime | None = None


MAX_ANSWER_CHARS = 50_000


class Response(Strict):
    """One answer to one question. Structured answers carry ``ranking``/``choices``/``rating``."""

    application_id: Annotated[str, Field(min_length=1, max_length=120)]
    question_id: Identifier
    text: str | None = Field(default=None, max_length=MAX_ANSWER_CHARS)
    ranking: dict[str, int | None] | None = None
    choices: tuple[str, ...] | None = None
    rating: int | None = None


class ReviewFlag(Frozen):
    code: Literal[
        "too_short", "off_topic", "near_duplicate", "not_english", "low_confidence",
        "empty", "too_long", "copied_question", "scorer_error",
    ]
    reason: str


class EvidenceSpan(Frozen):
    """Characters ``start:end`` of the (redacted) answer matched ``indicator_id``."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    indicator_id: str
    polarity: Polarity
    negated: bool = False


class Score(Frozen):
    """A score for one value on one answer, with the evidence that produced it."""

    application_id: str
    question_id: str
    value_id: str
    level: int
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: tuple[EvidenceSpan, ...] = ()
    anchor: str | None = None
    scorer_id: str
    scorer_version: str
    rubric_ref: str
    flags: tuple[ReviewFlag, ...] = ()

    @property
    def needs_review(self) -> bool:
        return bool(self.flags)


class Decision(str, enum.Enum):
    PASS = "PASS"
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"


class ShortlistDecision(Strict):
    """What the gate decided about one shortlist, and on which figures."""

    campaign_id: str
    stage: str = "shortlisted"
    decision: Decision
    reasons: tuple[str, ...] = ()
    regime: str
    audit_summary: dict = Field(default_factory=dict)
    released: bool = False
    released_by: str | None = None
    justification: str | None = None
    decided_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


_PROTECTED_WORDS = re.compile(
    r"ethnic|race|religio|belief|sexual|gender|sex$|^sex|disabil|pregnan|marri|civil_partner|age$|^age|dob|birth|nationality|surname|first_name|last_name",
    re.I,
)


def protected_field_names(model: type[BaseModel]) -> list[str]:
    """Field names of ``model`` that look like a protected characteristic or proxy.

    Used by tests as a guard: scoring-side models must return an empty list (the
    Disability Confident opt-in on :class:`Application` is the one documented exception).
    """
    return [name for name in model.model_fields if _PROTECTED_WORDS.search(name)]
