"""Trained models as a campaign scorer: an institution's learned scorers in vbr's scoring path.

An institution trains one model per question and value on its own marked answers
(``vbr scorer train --rubric R --question Q --value V``) and scores a campaign with them
(``vbr score CAMPAIGN --model FILE ...``, :class:`ModelScorer` handed to ``Engine.score``, or
model files named in ``VBR_MODELS``, which register the ``learned`` scorer for every command
and the HTTP service: :class:`ModelSet`). The answers go through the same pipeline as with any
scorer: redacted first (a model sees redacted text only, like every scorer), flagged, stored
append-only and logged.

Each stored row says what scored it: a value with a model gets ``scorer_id`` ``learned`` and,
as its version, the first 12 hex digits of that model's digest (the card's ``model_sha256``),
so a row can always be traced to the exact file; values no model covers are scored by the
fallback scorer (the evidence scorer by default) under its own id and version, never passed
off as the model's. A model's level comes with its calibrated confidence, so the usual
low-confidence flag sends answers near a cut-point to a person.

Evidence: a learned level comes from the whole answer's wording, not from single phrases, so
the spans shown with it are the rubric's indicators found in the answer (what the evidence
scorer highlights), for the recruiter to check the level against; the model card holds how
the model agreed with human markers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from vbr.errors import ValidationFailed
from vbr.models import Question, QuestionType, Rubric
from vbr.scoring.base import Scorer, ValueScore

SCORER_ID = "learned"


@dataclass(frozen=True)
class TrainedModel:
    """One loaded model and what it scores: a value of a question of one rubric version."""

    question_id: str
    value_id: str
    model: Any  # a fitted LearnedScorer
    card: Any  # its ModelCard
    source: str = ""  # where it came from (a file name), for messages

    @property
    def version(self) -> str:
        return self.card.model_sha256[:12]


@dataclass(frozen=True)
class TargetProblem:
    """Why a (question, value) cannot have a trained model, in words for both places that ask:
    ``vbr scorer train`` before training and :class:`ModelScorer` when loading a model."""

    message: str
    field: str  # "question" or "value"
    hint: str | None = None


def target_problem(rubric: Rubric, question_id: str, value_id: str) -> TargetProblem | None:
    """None when ``question_id`` is a free-text question of ``rubric`` that assesses
    ``value_id``, the only answers a model scores; otherwise what is wrong."""
    q = next((q for q in rubric.questions if q.id == question_id), None)
    if q is None:
        return TargetProblem(f"rubric {rubric.ref} has no question '{question_id}'", "question",
                             f"see 'vbr rubrics show {rubric.id}'")
    if q.type is not QuestionType.free_text:
        return TargetProblem(f"question '{q.id}' is a {q.type.value} item, scored by its key, not by a model",
                             "question", "models score free-text questions")
    if value_id not in q.values:
        return TargetProblem(f"question '{q.id}' does not assess value '{value_id}' (it assesses "
                             f"{', '.join(q.values)})", "value")
    return None


def load_models(paths: Iterable[str | Path], rubric: Rubric) -> list[TrainedModel]:
    """Load model files for ``rubric``, each card naming its question and value.

    A file for another rubric version, a damaged or tampered one, or a card that names no
    question or value is refused with the file named (the model_io checks run first)."""
    from vbr.scoring.model_io import load_model

    out = []
    for path in paths:
        model, card = load_model(path, expected_rubric_ref=rubric.ref)
        if not card.question_id or not card.value_id:
            raise ValidationFailed("the model's card does not say which question and value it scores",
                                   file=str(path), hint="train it with 'vbr scorer train --rubric R "
                                   "--question Q --value V'")
        out.append(TrainedModel(card.question_id, card.value_id, model, card, source=str(path)))
    return out


def _two_models(key: tuple[str, str], first: TrainedModel, second: TrainedModel,
                hint: str = "give one model per question and value") -> ValidationFailed:
    """The refusal of a second model for one (question, value), naming both files."""
    return ValidationFailed(f"two models score question '{key[0]}', value '{key[1]}': "
                            f"{first.source or '?'} and {second.source or '?'}",
                            file=second.source or None, hint=hint)


class ModelScorer:
    """Scores each (question, value) that has a trained model with it; the rest with ``fallback``
    (default: the evidence scorer), so every value an answer should have gets a score. Checked
    when built, so that a campaign run never starts with a model that cannot apply: every model
    must be for a free-text question of ``rubric`` that assesses its value, with levels inside the
    rubric's scale, and no (question, value) may have two models.
    """

    id = SCORER_ID

    def __init__(self, models: Sequence[TrainedModel], rubric: Rubric, fallback: Scorer | None = None,
                 *, evidence: Scorer | None = None) -> None:
        from vbr.scoring.evidence import EvidenceScorer

        if not models:
            raise ValidationFailed("no trained models given", hint="pass at least one model file")
        self.rubric = rubric
        self.models: dict[tuple[str, str], TrainedModel] = {}
        for m in models:
            problem = target_problem(rubric, m.question_id, m.value_id)
            if problem is not None:
                raise ValidationFailed(f"the model cannot score here: {problem.message}", file=m.source or None,
                                       field=f"{problem.field}_id", hint=problem.hint)
            lo, hi = m.card.levels
            if lo < rubric.scale.min or hi > rubric.scale.max:
                raise ValidationFailed(f"the model gives levels {lo}-{hi}, outside rubric {rubric.ref}'s scale "
                                       f"{rubric.scale.min}-{rubric.scale.max}", file=m.source or None,
                                       field="levels", hint="train it on marks on the rubric's scale")
            key = (m.question_id, m.value_id)
            if key in self.models:
                raise _two_models(key, self.models[key], m)
            self.models[key] = m
        self.evidence = evidence or EvidenceScorer()
        self.fallback = fallback or self.evidence
        digest = hashlib.sha256()
        for key in sorted(self.models):
            digest.update(f"{key[0]}\0{key[1]}\0{self.models[key].card.model_sha256}\n".encode())
        digest.update(f"fallback\0{self.fallback.id}\0{self.fallback.version}\n".encode())
        # the set as a whole (rows carry their own model's version; this names the run)
        self.version = "set-" + digest.hexdigest()[:12]

    def check(self, rubric: Rubric) -> "ModelScorer":
        """Refuse up front to score another rubric version's answers."""
        if rubric.ref != self.rubric.ref:
            raise ValidationFailed(f"these models are for rubric {self.rubric.ref}, not {rubric.ref}", field="scorer")
        return self

    def for_campaign(self, rubric: Rubric, tenant: str | None = None) -> "ModelScorer":
        """The scorer for one campaign's run (``Engine.score`` asks): these models, if they are
        for its rubric version."""
        return self.check(rubric)

    def covers(self) -> list[tuple[str, str]]:
        """The (question, value) pairs scored by a model."""
        return sorted(self.models)

    def score(self, rubric: Rubric, question: Question, text: str) -> list[ValueScore]:
        return self.score_many(rubric, [(question, text)])[0]

    def score_many(self, rubric: Rubric, answers: Sequence[tuple[Question, str]]) -> list[list[ValueScore]]:
        """Each answer's value scores, in order; each model predicts all its answers at once."""
        self.check(rubric)
        predicted: dict[tuple[int, str], tuple[int, float]] = {}
        for key, m in self.models.items():
            rows = [i for i, (q, _) in enumerate(answers) if q.id == key[0]]
            if rows:
                levels, conf = m.model.predict_with_confidence([answers[i][1] for i in rows])
                for i, lvl, c in zip(rows, levels, conf):
                    predicted[(i, key[1])] = (int(lvl), float(c))
        out = []
        for i, (question, text) in enumerate(answers):
            found = {vs.value_id: vs for vs in self.evidence.score(rubric, question, text)}
            spans = {v: vs.evidence for v, vs in found.items()}
            uncovered = [v for v in question.values if (question.id, v) not in self.models]
            fallback = ({} if not uncovered else found if self.fallback is self.evidence
                        else {vs.value_id: vs for vs in self.fallback.score(rubric, question, text)})
            scores = []
            for v in question.values:
                m = self.models.get((question.id, v))
                if m is None:
                    if v in fallback:  # a value the fallback does not score is flagged for a person by the pipeline
                        vs = fallback[v]
                        scores.append(ValueScore(v, vs.level, vs.confidence, vs.evidence, vs.flags,
                                                 scorer_id=vs.scorer_id or self.fallback.id,
                                                 scorer_version=vs.scorer_version or self.fallback.version))
                    continue
                level, conf = predicted[(i, v)]
                scores.append(ValueScore(v, level, conf, tuple(spans.get(v, ())),
                                         scorer_id=SCORER_ID, scorer_version=m.version))
            out.append(scores)
        return out


MODELS_ENV = "VBR_MODELS"


def model_paths(raw: str | None) -> list[Path]:
    """The model files a ``VBR_MODELS`` value names (separated like PATH: ':' on Unix)."""
    import os

    return [Path(p) for p in (raw or "").split(os.pathsep) if p.strip()]


class ModelSet:
    """The ``learned`` scorer of a set of model files, for campaigns of any rubric and tenant:
    each campaign is scored by the models trained for its rubric version (:class:`ModelScorer`,
    the evidence scorer for the values they do not cover). A model whose card names a tenant
    (``vbr scorer train --tenant``: trained on that organisation's candidates' answers) scores
    only that tenant's campaigns, in place of a model for every tenant of the same question and
    value; one whose card names none scores every tenant's. The files are read and checked when
    the set is made; the models for a campaign are checked against its rubric before its first
    answer."""

    id = SCORER_ID

    def __init__(self, paths: Sequence[str | Path], fallback: Scorer | None = None) -> None:
        from vbr.scoring.model_io import load_model

        if not paths:
            raise ValidationFailed("no model files given", hint=f"name them in {MODELS_ENV}")
        self.loaded = []
        for path in paths:
            model, card = load_model(path)
            if not card.rubric_ref or not card.question_id or not card.value_id:
                raise ValidationFailed("the model's card does not say which rubric, question and value it scores",
                                       file=str(path), hint="train it with 'vbr scorer train --rubric R "
                                       "--question Q --value V'")
            self.loaded.append(TrainedModel(card.question_id, card.value_id, model, card, source=str(path)))
        self.fallback = fallback
        digest = hashlib.sha256("".join(sorted(m.card.model_sha256 for m in self.loaded)).encode())
        self.version = "set-" + digest.hexdigest()[:12]
        self._chosen: dict[tuple[str, str | None], ModelScorer] = {}

    def rubric_refs(self) -> list[str]:
        return sorted({m.card.rubric_ref for m in self.loaded})

    def for_campaign(self, rubric: Rubric, tenant: str | None = None) -> ModelScorer:
        """The scorer for a campaign of ``rubric`` and ``tenant``; a ValidationFailed naming the
        file if one of its models cannot apply, or if no model is for this rubric version (and
        tenant)."""
        key = (rubric.ref, tenant)
        if key not in self._chosen:
            general: dict[tuple[str, str], TrainedModel] = {}
            own: dict[tuple[str, str], TrainedModel] = {}
            for m in self.loaded:
                if m.card.rubric_ref != rubric.ref:
                    continue
                if m.card.tenant is None:
                    found = general
                elif tenant is not None and m.card.tenant == tenant:
                    found = own
                else:  # another organisation's model
                    continue
                k = (m.question_id, m.value_id)
                if k in found:
                    raise _two_models(k, found[k], m,
                                      hint="give one model per question and value (and tenant)")
                found[k] = m
            chosen = {**general, **own}  # the tenant's own model stands in for the one for every tenant
            if not chosen:
                # name the tenant only when the rubric's models are all other organisations'
                whose = f" and tenant '{tenant}'" if any(m.card.rubric_ref == rubric.ref for m in self.loaded) else ""
                raise ValidationFailed(f"no trained model is for rubric {rubric.ref}{whose} (the models are for "
                                       f"{', '.join(self.rubric_refs())})", field="scorer",
                                       hint="score with the evidence scorer, or train models for this rubric")
            self._chosen[key] = ModelScorer(list(chosen.values()), rubric, self.fallback)
        return self._chosen[key]

    def check(self, rubric: Rubric) -> ModelScorer:
        """The models for ``rubric`` that serve every tenant (what ``score`` uses when no
        campaign is named, e.g. a CSV)."""
        return self.for_campaign(rubric, None)

    def score(self, rubric: Rubric, question: Question, text: str) -> list[ValueScore]:
        return self.check(rubric).score(rubric, question, text)

    def score_many(self, rubric: Rubric, answers: Sequence[tuple[Question, str]]) -> list[list[ValueScore]]:
        return self.check(rubric).score_many(rubric, answers)
