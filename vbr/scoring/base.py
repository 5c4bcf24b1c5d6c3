"""What a scorer and a redactor are, for plugins that provide them.

A scorer sees a rubric, a question and the *redacted* answer text only: never the application,
never the candidate's name, never equality data. That is the first wall of vbr's design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from vbr.models import EvidenceSpan, Question, ReviewFlag, Rubric


@dataclass(frozen=True)
class ValueScore:
    """A scorer's answer for one value: level, confidence and the evidence behind it."""

    value_id: str
    level: int
    confidence: float
    evidence: tuple[EvidenceSpan, ...] = ()
    flags: tuple[ReviewFlag, ...] = ()
    # Set by a scorer that hands some values to another (trained models with the evidence scorer
    # for the values no model covers), so that every stored row names what really scored it.
    scorer_id: str | None = None
    scorer_version: str | None = None


@runtime_checkable
class Scorer(Protocol):
    id: str
    version: str

    def score(self, rubric: Rubric, question: Question, text: str) -> list[ValueScore]:
        """Score one redacted free-text answer on every value the question targets."""
        ...

    # Optional, not part of the protocol check: ``score_many(rubric, [(question, text), ...])``
    # returns one list of value scores per answer, in order. The pipeline hands a scorer that has
    # it answers in chunks (a trained model predicts many answers far faster than one at a time).


@dataclass(frozen=True)
class Redaction:
    """Result of redacting one answer: the text a scorer may see, and what was replaced."""

    text: str
    replacements: tuple[tuple[str, str], ...] = field(default=())  # (placeholder type, original)


@runtime_checkable
class Redactor(Protocol):
    id: str
    order: int

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        ...
