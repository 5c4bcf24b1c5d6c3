"""Structured items: SJT ranking, choose-k-of-n and rating items, marked exactly as domain.md §3 says.

- *Ranking*: each option earns ``4 − |given rank − key rank|`` (never below 0); a tied or missing
  rank earns 0 for that option; the item is worth ``4 × n options``.
- *Choose k of n*: ``marks_per_option`` for each correct option chosen; choosing more than ``k``
  scores the whole item 0; choosing fewer is allowed.
- *Rating*: the key's ``credit_by_distance`` table gives the credit for each distance from the
  key rating (beyond the table: 0); a missing rating earns 0 and a review flag.

The raw mark is mapped proportionally onto the rubric scale (``min + round(raw / max × (max − min))``,
halves rounded up), and the arithmetic is kept as words a recruiter can check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from vbr.errors import ValidationFailed
from vbr.models import (ChooseKey, Question, QuestionType, RankingKey, RatingKey, Response,
                        ReviewFlag, Scale)

__all__ = [
    "StructuredResult",
    "StructuredAnswerError",
    "RANK_MARKS",
    "VERSION",
    "score_ranking",
    "score_choose",
    "score_rating",
    "score_structured",
    "to_level",
]

VERSION = "1.0.0"
RANK_MARKS = 4  # marks per option at the key rank; one fewer per place away


class StructuredAnswerError(ValidationFailed):
    """An answer to a structured item that cannot be marked (unknown option, rank out of range)."""


@dataclass(frozen=True)
class StructuredResult:
    raw: int
    max: int
    level: int
    explanation: str
    per_option: tuple[tuple[str, int], ...] = ()
    flags: tuple[ReviewFlag, ...] = ()

    @property
    def fraction(self) -> float:
        return self.raw / self.max if self.max else 0.0


def to_level(raw: int, max_raw: int, scale: Scale) -> tuple[int, str]:
    """Map ``raw / max_raw`` proportionally onto the scale; returns the level and the arithmetic."""
    span = scale.max - scale.min
    if max_raw <= 0:
        return scale.min, f"the item is worth 0 marks, so level {scale.min}"
    x = raw / max_raw * span
    level = scale.min + int(math.floor(x + 0.5 + 1e-9))
    level = max(scale.min, min(scale.max, level))
    return level, (f"{raw}/{max_raw} × {span} = {x:.2f}" + (f", plus {scale.min}" if scale.min else "")
                   + f" → level {level} on the {scale.min}–{scale.max} scale")


def _scale_or_default(scale: Scale | None) -> Scale:
    if scale is not None:
        return scale
    from vbr.models import ScaleLevel

    return Scale(min=0, max=4, levels=tuple(
        ScaleLevel(level=i, label=str(i), anchor=f"level {i} of the default 0-4 scale") for i in range(5)))


# --------------------------------------------------------------------------- ranking


def score_ranking(key: RankingKey, given: Mapping[str, int | None] | None, scale: Scale | None = None,
                  *, question_id: str | None = None) -> StructuredResult:
    """Mark an SJT ranking. ``given`` maps option id to the candidate's rank (1 = best) or None."""
    scale = _scale_or_default(scale)
    given = dict(given or {})
    n = len(key.ranks)
    unknown = sorted(set(given) - set(key.ranks))
    if unknown:
        raise StructuredAnswerError(
            f"the answer ranks option(s) {unknown} that the item does not have "
            f"(options: {sorted(key.ranks)})", field=question_id)
    for opt, r in given.items():
        if r is not None and (not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= n):
            raise StructuredAnswerError(f"option '{opt}' is given rank {r!r}; ranks run from 1 to {n}",
                                        field=question_id)
    counts: dict[int, int] = {}
    for r in given.values():
        if r is not None:
            counts[r] = counts.get(r, 0) + 1
    per, parts = [], []
    for opt in sorted(key.ranks, key=lambda o: key.ranks[o]):
        k = key.ranks[opt]
        g = given.get(opt)
        if g is None:
            marks, why = 0, f"{opt}: no rank → 0"
        elif counts[g] > 1:
            marks, why = 0, f"{opt}: rank {g} tied → 0"
        else:
            marks = max(0, RANK_MARKS - abs(g - k))
            why = f"{opt}: given {g}, key {k} → {RANK_MARKS} − {abs(g - k)} = {marks}" if marks else \
                f"{opt}: given {g}, key {k} → 0"
        per.append((opt, marks))
        parts.append(why)
    raw, max_raw = sum(m for _, m in per), RANK_MARKS * n
    level, arith = to_level(raw, max_raw, scale)
    flags = ()
    missing = [o for o in key.ranks if given.get(o) is None]
    if len(missing) == n:
        flags = (ReviewFlag(code="empty", reason="The candidate did not rank any of the options."),)
    explanation = f"Ranking: {'; '.join(parts)}. Total {raw}/{max_raw}; {arith}."
    return StructuredResult(raw, max_raw, level, explanation, tuple(per), flags)


# --------------------------------------------------------------------------- choose k of n


def score_choose(key: ChooseKey, chosen: Sequence[str] | None, options: Mapping[str, str] | Sequence[str],
                 scale: Scale | None = None, *, question_id: str | None = None) -> StructuredResult:
    """Mark a choose-k-of-n item. Choosing the same option twice counts once."""
    scale = _scale_or_default(scale)
    known = set(options)
    picked: list[str] = []
    for c in chosen or ():
        if c not in known:
            raise StructuredAnswerError(
                f"the answer chooses option '{c}' that the item does not have (options: {sorted(known)})",
                field=question_id)
        if c not in picked:
            picked.append(c)
    max_raw = key.k * key.marks_per_option
    correct = set(key.correct)
    flags: tuple[ReviewFlag, ...] = ()
    if len(picked) > key.k:
        per = tuple((c, 0) for c in picked)
        raw = 0
        why = (f"{len(picked)} options chosen ({', '.join(picked)}) but only {key.k} allowed, "
               f"so the whole item scores 0")
    else:
        per = tuple((c, key.marks_per_option if c in correct else 0) for c in picked)
        raw = sum(m for _, m in per)
        hits = [c for c in picked if c in correct]
        why = (f"chosen {', '.join(picked) or 'nothing'}; correct: {', '.join(hits) or 'none'} → "
               f"{len(hits)} × {key.marks_per_option} = {raw}")
        if not picked:
            flags = (ReviewFlag(code="empty", reason="The candidate did not choose any option."),)
    level, arith = to_level(raw, max_raw, scale)
    explanation = f"Choose {key.k} of {len(known)}: {why}. Total {raw}/{max_raw}; {arith}."
    return StructuredResult(raw, max_raw, level, explanation, per, flags)


# --------------------------------------------------------------------------- rating


def _check_credit_table(key: RatingKey, question_id: str | None) -> None:
    table = key.credit_by_distance
    if any(c < 0 for c in table) or table[0] != max(table):
        raise StructuredAnswerError(
            f"the credit table {list(table)} must be non-negative and give most credit at the key",
            field=question_id, hint="fix credit_by_distance in the rubric")


def score_rating(key: RatingKey, rating: int | None, scale: Scale | None = None, *,
                 rating_scale: tuple[int, int] | None = None, question_id: str | None = None
                 ) -> StructuredResult:
    """Mark a rating item with partial credit by distance from the key rating."""
    scale = _scale_or_default(scale)
    _check_credit_table(key, question_id)
    table = key.credit_by_distance
    max_raw = table[0]
    if rating is None:
        level, arith = to_level(0, max_raw, scale)
        return StructuredResult(
            0, max_raw, level, f"Rating: no rating given → 0. Total 0/{max_raw}; {arith}.", (),
            (ReviewFlag(code="empty", reason="The candidate did not give a rating for this item."),))
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise StructuredAnswerError(f"rating {rating!r} is not a whole number", field=question_id)
    if rating_scale is not None and not rating_scale[0] <= rating <= rating_scale[1]:
        raise StructuredAnswerError(
            f"rating {rating} is outside the item's scale {rating_scale[0]}–{rating_scale[1]}",
            field=question_id)
    d = abs(rating - key.key)
    raw = table[d] if d < len(table) else 0
    table_txt = ", ".join(f"{i} away → {c}" for i, c in enumerate(table))
    level, arith = to_level(raw, max_raw, scale)
    explanation = (f"Rating: given {rating}, key {key.key}, {d} away → {raw} "
                   f"(credit table: {table_txt}; further → 0). Total {raw}/{max_raw}; {arith}.")
    return StructuredResult(raw, max_raw, level, explanation, (("rating", raw),))


# --------------------------------------------------------------------------- dispatch


def score_structured(question: Question, response: Response, scale: Scale | None = None
                     ) -> StructuredResult:
    """Mark one structured response against its question's key."""
    key = question.key
    if question.type is QuestionType.sjt_ranking:
        assert isinstance(key, RankingKey)
        return score_ranking(key, response.ranking, scale, question_id=question.id)
    if question.type is QuestionType.sjt_choose:
        assert isinstance(key, ChooseKey)
        return score_choose(key, response.choices, question.options or {}, scale, question_id=question.id)
    if question.type is QuestionType.rating:
        assert isinstance(key, RatingKey)
        return score_rating(key, response.rating, scale, rating_scale=question.rating_scale,
                            question_id=question.id)
    raise StructuredAnswerError(f"question '{question.id}' is free text, not a structured item",
                                field=question.id)
