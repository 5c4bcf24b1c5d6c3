"""Score a batch of answers: redact, score, mark structured items, attach review flags.

The order matters and is the point of this module:

1. every free-text answer is redacted by every redactor *before* any scorer sees it; if redaction
   fails, the answer is not scored at all (it is flagged ``scorer_error``);
2. free text goes to the scorer (which receives only the redacted text); SJT ranking,
   choose-k-of-n and rating items are marked against their key (:mod:`vbr.scoring.structured`);
3. review flags are attached (:mod:`vbr.scoring.flags`), including near duplicates across the
   batch (one campaign) when ``campaign_flags`` is on.

One bad answer never stops a batch: whatever goes wrong with it becomes a ``scorer_error`` flag
with the reason, and its result carries no score rather than a silent zero.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable, Mapping, Sequence

from pydantic import ValidationError

from vbr.models import (EvidenceSpan, Polarity, Question, QuestionType, Response, ReviewFlag, Rubric,
                        Score)
from vbr.scoring import structured as structured_mod
from vbr.scoring.base import Redactor, Scorer, ValueScore
from vbr.scoring.flags import FlagConfig, answer_flags, confidence_flags, near_duplicate_flags
from vbr.scoring.redaction import redact_answer
from vbr.scoring.structured import StructuredResult, score_structured

__all__ = ["ScoredAnswer", "score_answers", "STRUCTURED_SCORER_ID"]

STRUCTURED_SCORER_ID = "structured"


@dataclasses.dataclass(frozen=True)
class ScoredAnswer:
    """One answer after scoring: original and redacted text, scores per value, review flags.

    ``scores`` is empty when nothing could be scored (an empty answer, a scorer error); the
    ``flags`` then say why. ``redaction_counts`` says how many of each placeholder were inserted
    (the replaced strings themselves are not kept here: the original text is).
    """

    application_id: str
    question_id: str
    question_type: str | None
    original_text: str | None
    redacted_text: str | None
    scores: tuple[Score, ...] = ()
    flags: tuple[ReviewFlag, ...] = ()
    redaction_counts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    structured: StructuredResult | None = None

    @property
    def needs_review(self) -> bool:
        return bool(self.flags) or any(s.flags for s in self.scores)

    @property
    def flag_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.code for f in self.flags))

    def to_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "question_id": self.question_id,
            "question_type": self.question_type,
            "original_text": self.original_text,
            "redacted_text": self.redacted_text,
            "redaction_counts": dict(self.redaction_counts),
            "scores": [s.model_dump(mode="json") for s in self.scores],
            "flags": [f.model_dump(mode="json") for f in self.flags],
            "structured": None if self.structured is None else {
                "raw": self.structured.raw, "max": self.structured.max, "level": self.structured.level,
                "explanation": self.structured.explanation,
            },
        }


def _error(reason: str) -> ReviewFlag:
    return ReviewFlag(code="scorer_error", reason=reason)


def _anchor(rubric: Rubric, value_id: str, level: int) -> str | None:
    try:
        for lvl in rubric.anchors_for(value_id):
            if lvl.level == level:
                return lvl.anchor
    except KeyError:
        return None
    return None


def _dedupe(flags: Iterable[ReviewFlag]) -> tuple[ReviewFlag, ...]:
    seen, out = set(), []
    for f in flags:
        if (f.code, f.reason) not in seen:
            seen.add((f.code, f.reason))
            out.append(f)
    return tuple(out)


def _check_value_score(vs: ValueScore, rubric: Rubric, question: Question, text: str) -> str | None:
    """Why a scorer's value score cannot be used, or None if it can."""
    if vs.value_id not in question.values:
        return f"the scorer returned value '{vs.value_id}', which question '{question.id}' does not assess"
    if isinstance(vs.level, bool) or not isinstance(vs.level, int):
        return f"the scorer returned a level of {vs.level!r} for {vs.value_id}, not a whole number"
    if not rubric.scale.min <= vs.level <= rubric.scale.max:
        return (f"the scorer returned level {vs.level} for {vs.value_id}, outside the rubric's "
                f"{rubric.scale.min}-{rubric.scale.max} scale")
    if not 0.0 <= float(vs.confidence) <= 1.0:
        return f"the scorer returned confidence {vs.confidence!r} for {vs.value_id}, outside 0-1"
    for e in vs.evidence:
        if not 0 <= e.start <= e.end <= len(text):
            return f"the scorer returned evidence at {e.start}-{e.end}, outside the answer"
    return None


@dataclasses.dataclass
class _Pending:
    """A free-text answer redacted and flagged, waiting for its scorer."""

    base: dict[str, Any]
    question: Question
    response: Response
    text: str
    flags: list[ReviewFlag]


def _prepare_free_text(rubric: Rubric, question: Question, response: Response,
                       redactors: Sequence[Redactor] | None, names: Sequence[str], cfg: FlagConfig
                       ) -> ScoredAnswer | _Pending:
    """Redact and flag; a finished result when the answer cannot go to a scorer."""
    original = response.text
    base = dict(application_id=response.application_id, question_id=response.question_id,
                question_type=question.type.value, original_text=original)
    try:
        red = redact_answer(original or "", names, redactors)
    except Exception as exc:  # noqa: BLE001 - never send unredacted text on; flag instead
        return ScoredAnswer(**base, redacted_text=None, flags=(_error(
            f"Redaction failed ({type(exc).__name__}: {exc}), so the answer was not scored: a scorer "
            f"may only see redacted text. A person needs to mark it."),))
    text = red.text
    counts = dict(Counter(kind for kind, _ in red.replacements))
    base.update(redacted_text=text, redaction_counts=counts)
    flags = answer_flags(text, question, rubric, cfg)
    if any(f.code == "empty" for f in flags):
        return ScoredAnswer(**base, flags=tuple(flags))
    return _Pending(base, question, response, text, list(flags))


def _score_pending(rubric: Rubric, scorer: Scorer, pending: Sequence[_Pending]) -> list[Any]:
    """Each answer's value scores, or the exception its scorer raised. A scorer with
    ``score_many(rubric, [(question, text), ...])`` gets the answers in one call (a trained model
    predicts a batch over a hundred times faster than one answer at a time); if that call fails,
    each answer is scored on its own, so one bad answer still fails alone."""
    many = getattr(scorer, "score_many", None)
    if many is not None and len(pending) > 1:
        try:
            out = list(many(rubric, [(p.question, p.text) for p in pending]))
            if len(out) == len(pending):
                return out
        except Exception:  # noqa: BLE001 - find the answer that fails, below
            pass
    results: list[Any] = []
    for p in pending:
        try:
            results.append(list(scorer.score(rubric, p.question, p.text)))
        except Exception as exc:  # noqa: BLE001 - one bad answer must not stop the batch
            results.append(exc)
    return results


def _finish_free_text(rubric: Rubric, p: _Pending, scorer: Scorer, scored: Any, cfg: FlagConfig
                      ) -> ScoredAnswer:
    question, response, text, flags = p.question, p.response, p.text, p.flags
    if isinstance(scored, BaseException):
        return ScoredAnswer(**p.base, flags=tuple(flags) + (_error(
            f"The scorer '{getattr(scorer, 'id', '?')}' failed on this answer ({type(scored).__name__}: "
            f"{scored}). No score was given; a person needs to mark it."),))
    value_scores = list(scored)
    answer_level = list(flags)
    usable: list[ValueScore] = []
    for vs in value_scores:
        problem = _check_value_score(vs, rubric, question, text)
        if problem:
            answer_level.append(_error(f"Not scored: {problem}. A person needs to mark it."))
        else:
            usable.append(vs)
    got = {vs.value_id for vs in usable}
    for v in question.values:
        if v not in got and not any(vs.value_id == v for vs in value_scores):
            answer_level.append(_error(f"The scorer gave no score for {v}; a person needs to mark it."))
    low = confidence_flags(usable, rubric, cfg)
    scores = []
    for vs in usable:
        own = tuple(vs.flags) + ((low[vs.value_id],) if vs.value_id in low else ())
        scores.append(Score(
            application_id=response.application_id, question_id=question.id, value_id=vs.value_id,
            level=vs.level, confidence=float(vs.confidence), evidence=tuple(vs.evidence),
            anchor=_anchor(rubric, vs.value_id, vs.level), scorer_id=vs.scorer_id or scorer.id,
            scorer_version=vs.scorer_version or scorer.version, rubric_ref=rubric.ref,
            flags=_dedupe(list(flags) + list(own)),
        ))
    all_flags = answer_level + [f for s in scores for f in s.flags]
    return ScoredAnswer(**p.base, scores=tuple(scores), flags=_dedupe(all_flags))


def _structured(rubric: Rubric, question: Question, response: Response) -> ScoredAnswer:
    base = dict(application_id=response.application_id, question_id=response.question_id,
                question_type=question.type.value, original_text=response.text, redacted_text=None)
    try:
        res = score_structured(question, response, rubric.scale)
    except Exception as exc:  # noqa: BLE001 - a malformed answer is flagged, not fatal
        msg = getattr(exc, "message", None) or str(exc)
        return ScoredAnswer(**base, flags=(_error(
            f"This {question.type.value.replace('_', ' ')} answer could not be marked: {msg}. "
            f"A person needs to check it."),))
    span = EvidenceSpan(start=0, end=0, text=res.explanation, indicator_id=f"key:{question.id}",
                        polarity=Polarity.positive if res.raw > 0 else Polarity.negative)
    scores = tuple(Score(
        application_id=response.application_id, question_id=question.id, value_id=v, level=res.level,
        confidence=1.0, evidence=(span,), anchor=_anchor(rubric, v, res.level),
        scorer_id=STRUCTURED_SCORER_ID, scorer_version=structured_mod.VERSION, rubric_ref=rubric.ref,
        flags=tuple(res.flags),
    ) for v in question.values)
    return ScoredAnswer(**base, scores=scores, flags=tuple(res.flags), structured=res)


def _coerce(item: Any, rubric: Rubric, questions: Mapping[str, Question] | None
            ) -> tuple[Response, Question]:
    question = None
    if isinstance(item, tuple) and len(item) == 2:
        item, question = item
    response = item if isinstance(item, Response) else Response.model_validate(item)
    if question is None:
        if questions is not None and response.question_id in questions:
            question = questions[response.question_id]
        else:
            question = rubric.question(response.question_id)
    return response, question


_CHUNK = 256


def _prepare(rubric: Rubric, item: Any, reds: Sequence[Redactor] | None,
             names_by_application: Mapping[str, Sequence[str]], cfg: FlagConfig,
             questions: Mapping[str, Question] | None) -> ScoredAnswer | _Pending:
    """One answer up to its scorer (free text) or marked (structured items); whatever goes
    wrong becomes a flag on a result with no score."""
    try:
        response, question = _coerce(item, rubric, questions)
        if question.type is QuestionType.free_text:
            names = names_by_application.get(response.application_id, ())
            if isinstance(names, str):
                names = (names,)
            return _prepare_free_text(rubric, question, response, reds, names, cfg)
        return _structured(rubric, question, response)
    except Exception as exc:  # noqa: BLE001 - one bad answer must not stop the batch
        app, qid = _ids(item)
        if isinstance(exc, ValidationError):
            why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            reason = f"The answer record is malformed ({why}); it was not scored."
        elif isinstance(exc, KeyError):
            reason = f"The answer is for a question this rubric does not have ({exc.args[0]}); it was not scored."
        else:
            reason = f"The answer could not be processed ({type(exc).__name__}: {exc}); it was not scored."
        return ScoredAnswer(application_id=app, question_id=qid, question_type=None,
                            original_text=_text_of(item), redacted_text=None,
                            flags=(_error(reason + " A person needs to check it."),))


def score_answers(
    rubric: Rubric,
    items: Iterable[Response | tuple[Response, Question] | Mapping[str, Any]],
    scorer: Scorer,
    redactors: Sequence[Redactor] | None = None,
    *,
    names_by_application: Mapping[str, Sequence[str]] | None = None,
    campaign_flags: bool = True,
    flag_config: FlagConfig | None = None,
    questions: Mapping[str, Question] | None = None,
    progress: Callable[[int], None] | None = None,
    earlier: Sequence[tuple[str, str, str]] = (),
) -> list[ScoredAnswer]:
    """Redact, score and flag every answer; results come back in input order.

    ``earlier``: ``(application_id, question_id, redacted text)`` of the campaign's answers scored
    before, not scored again now; the near-duplicate check compares the new answers with them
    too (only the new answers get flags here).

    ``items`` are :class:`vbr.models.Response` objects (or dicts of the same shape, or
    ``(response, question)`` pairs); each question is looked up in ``questions`` and then in the
    rubric. ``redactors`` defaults to the built-in ones (pass the plugin registry's to include
    plugins). ``names_by_application`` gives the candidate's own name(s) per application id, as
    the ATS sent them. ``progress`` is called with the number of answers done so far.
    """
    cfg = flag_config or FlagConfig()
    names_by_application = names_by_application or {}
    reds = None if redactors is None else sorted(redactors, key=lambda r: (r.order, r.id))
    # answers go to the scorer in chunks when it can take many at once, one by one otherwise
    chunk = _CHUNK if getattr(scorer, "score_many", None) is not None else 1
    results: list[ScoredAnswer] = []
    slots: list[ScoredAnswer | _Pending] = []

    def flush() -> None:
        pending = [x for x in slots if isinstance(x, _Pending)]
        scored = iter(_score_pending(rubric, scorer, pending)) if pending else iter(())
        for x in slots:
            results.append(_finish_free_text(rubric, x, scorer, next(scored), cfg) if isinstance(x, _Pending) else x)
        slots.clear()
        if progress is not None:
            progress(len(results))

    for item in items:
        slots.append(_prepare(rubric, item, reds, names_by_application, cfg, questions))
        if len(slots) >= chunk:
            flush()
    if slots:
        flush()
    if campaign_flags:
        results = _add_near_duplicates(results, cfg, earlier)
    return results


def _ids(item: Any) -> tuple[str, str]:
    if isinstance(item, tuple) and item:
        item = item[0]
    get = item.get if isinstance(item, Mapping) else lambda k, d=None: getattr(item, k, d)
    return str(get("application_id", "?") or "?"), str(get("question_id", "?") or "?")


def _text_of(item: Any) -> str | None:
    if isinstance(item, tuple) and item:
        item = item[0]
    t = item.get("text") if isinstance(item, Mapping) else getattr(item, "text", None)
    return t if isinstance(t, str) else None


def _add_near_duplicates(results: list[ScoredAnswer], cfg: FlagConfig,
                         earlier: Sequence[tuple[str, str, str]] = ()) -> list[ScoredAnswer]:
    by_question: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        if r.question_type == QuestionType.free_text.value and r.redacted_text and r.scores:
            by_question[r.question_id].append(i)
    before: dict[str, list[tuple[str, str]]] = defaultdict(list)
    new_keys = {(r.application_id, r.question_id) for r in results}
    for app, qid, text in earlier:
        if qid in by_question and text and (app, qid) not in new_keys:
            before[qid].append((app, text))
    for qid, idx in by_question.items():
        if len(idx) + len(before[qid]) < 2:
            continue
        texts = [results[i].redacted_text or "" for i in idx] + [t for _, t in before[qid]]
        keys = [results[i].application_id for i in idx] + [a for a, _ in before[qid]]
        flags, _ = near_duplicate_flags(keys, texts, cfg)
        if not flags:
            continue
        for i in idx:
            f = flags.get(results[i].application_id)
            if f is None:
                continue
            r = results[i]
            results[i] = dataclasses.replace(
                r, flags=r.flags + (f,),
                scores=tuple(s.model_copy(update={"flags": s.flags + (f,)}) for s in r.scores))
    return results
