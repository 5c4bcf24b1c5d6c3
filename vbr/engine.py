"""``vbr.Engine``: the one facade an applicant-tracking system embeds.

An ATS creates a campaign from a rubric, submits applications and answers, asks for scores,
records reviews and overrides, attaches equality records (through their own method and store),
proposes a shortlist and releases it only through the gate. ATS-side reactions arrive through
the pluggy event hooks (``vbr_scores_ready``, ``vbr_audit_complete``, ``vbr_shortlist_released``,
``vbr_shortlist_held``).

The walls hold here too: candidates' names are used to redact their answers at submission and
then dropped; scorers get redacted text only; equality records go to their own store, which only
the gate reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from vbr.errors import NotFound, ValidationFailed
from vbr.fairness.equality import EqualityRecord, EqualityStore
from vbr.fairness.gate import GateConfig, GateResult, ShortlistGate
from vbr.models import Application, Campaign, Question, Response, Rubric, Score
from vbr.plugins import PluginSystem, get_plugins
from vbr.scoring.base import Scorer
from vbr.scoring.redaction import redact_answer
from vbr.store import Store, open_store

Progress = Callable[[int], None]


class Engine:
    """Embed vbr in-process. ``db`` is a SQLAlchemy URL or a path; default: the user's data dir."""

    def __init__(self, db: str | Path | None = None, *, plugins: PluginSystem | None = None,
                 gate_config: GateConfig | None = None, equality_db: str | None = None) -> None:
        url = None if db is None else (str(db) if "://" in str(db) else f"sqlite:///{Path(db).resolve()}")
        self.store: Store = open_store(url)
        self.equality = EqualityStore(equality_db) if equality_db else EqualityStore.beside(self.store.url)
        self.plugins = plugins or get_plugins()
        self.gate = ShortlistGate(self.store, self.equality, config=gate_config, plugins=self.plugins)

    # ------------------------------------------------------------------ rubrics and campaigns
    def rubric(self, rubric_id: str) -> Rubric:
        rubrics = self.plugins.registry("rubrics")
        if rubric_id not in rubrics:
            raise NotFound(f"no rubric '{rubric_id}'", hint=f"known: {', '.join(sorted(rubrics))}")
        return rubrics[rubric_id]

    def create_campaign(self, campaign_id: str, title: str, rubric_id: str, *,
                        question_ids: Sequence[str] | None = None, actor: str,
                        organisation: str | None = None, tenant: str = "default") -> Campaign:
        rubric = self.rubric(rubric_id)
        qids = tuple(question_ids) if question_ids else tuple(q.id for q in rubric.questions)
        unknown = [q for q in qids if q not in {x.id for x in rubric.questions}]
        if unknown:
            raise ValidationFailed(f"rubric {rubric.ref} has no question(s) {unknown}", field="question_ids",
                                   hint=f"see `vbr rubrics show {rubric_id}`")
        campaign = Campaign(id=campaign_id, title=title, rubric_id=rubric_id, question_ids=qids,
                            organisation=organisation)
        self.store.add_campaign(campaign, rubric.ref, actor=actor, tenant=tenant)
        return campaign

    def campaign_rubric(self, campaign_id: str) -> tuple[dict[str, Any], Rubric]:
        campaign = self.store.campaign(campaign_id)
        return campaign, self.rubric_of(campaign)

    def rubric_of(self, campaign: Mapping[str, Any]) -> Rubric:
        """The installed rubric of a campaign row, which must be the version it was created with."""
        rubric = self.rubric(campaign["rubric_id"])
        if rubric.ref != campaign["rubric_ref"]:
            raise ValidationFailed(
                f"campaign '{campaign['id']}' was created with rubric {campaign['rubric_ref']} but {rubric.ref} "
                "is installed", hint="install the rubric version the campaign used")
        return rubric

    # ------------------------------------------------------------------ applications and answers
    def submit(self, campaign_id: str, applications: Iterable[Application | Mapping[str, Any]],
               responses: Iterable[Response | Mapping[str, Any]], *,
               names: Mapping[str, Sequence[str]] | None = None, received_at: str | None = None) -> int:
        """Store applications and their answers, all or nothing. Names only drive redaction.
        ``received_at`` (ISO 8601, default now) is recorded as when they arrived."""
        campaign, rubric = self.campaign_rubric(campaign_id)
        apps = [a if isinstance(a, Application) else Application.model_validate(a) for a in applications]
        ids = {a.id for a in apps}
        for a in apps:
            if a.campaign_id != campaign_id:
                raise ValidationFailed(f"application '{a.id}' names campaign '{a.campaign_id}'",
                                       field="campaign_id", hint=f"submit it to '{a.campaign_id}' instead")
        questions = set(campaign["question_ids"])
        redactors = list(self.plugins.registry("redactors").values())  # built-ins and plugins alike
        rows = []
        for i, r in enumerate(responses):
            resp = r if isinstance(r, Response) else Response.model_validate(r)
            if resp.application_id not in ids:
                raise ValidationFailed(f"answer {i} is for application '{resp.application_id}', not in this batch",
                                       row=i, field="application_id")
            if resp.question_id not in questions:
                raise ValidationFailed(f"question '{resp.question_id}' is not part of campaign '{campaign_id}'",
                                       row=i, field="question_id")
            redacted = redact_answer(resp.text, (names or {}).get(resp.application_id, ()), redactors).text \
                if resp.text is not None else None
            structured = None
            if resp.ranking is not None or resp.choices is not None or resp.rating is not None:
                structured = {"ranking": resp.ranking, "choices": list(resp.choices) if resp.choices else None,
                              "rating": resp.rating}
            rows.append((resp.application_id, resp.question_id, resp.text, redacted, structured))
        return self.store.add_applications(apps, rows, received_at=received_at)

    def add_equality_records(self, records: Iterable[EqualityRecord | Mapping[str, Any]], *, actor: str) -> int:
        """Equality monitoring data goes to its own store; nothing in scoring can read it."""
        recs = [r if isinstance(r, EqualityRecord) else EqualityRecord.model_validate(r) for r in records]
        return self.equality.import_records(recs, actor=actor).imported

    # ------------------------------------------------------------------ scoring
    def answers_to_score(self, campaign_id: str, *, rescore: bool = False) -> list[dict[str, Any]]:
        """The stored answers :meth:`score` would score: those not scored yet, or all with ``rescore``."""
        return self._split(campaign_id, rescore)[0]

    def _split(self, campaign_id: str, rescore: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The campaign's answers to score now, and those scored before (left as they are)."""
        rows = self.store.responses(campaign_id)
        done = set() if rescore else self.store.answered_keys(campaign_id)
        todo = [r for r in rows if (r["application_id"], r["question_id"]) not in done]
        return todo, [r for r in rows if (r["application_id"], r["question_id"]) in done]

    def score(self, campaign_id: str, *, scorer: str | Scorer = "evidence", actor: str = "vbr",
              progress: Progress | None = None, rescore: bool = False) -> list[Score]:
        """Score the campaign's stored answers from their redacted text; store and announce.

        Only answers not scored yet (new applications), unless ``rescore`` (a new scorer or
        model): then every answer is scored again. Either way a person's score (an override, a
        mark) stays the current one: the scorer's new opinion of that value is not stored, so a
        run never undoes a recruiter's decision. Near duplicates are looked for among all the
        campaign's answers. ``scorer`` is a registered scorer's id or a scorer object (such as a
        :class:`~vbr.scoring.model_scorer.ModelScorer` of the institution's trained models)."""
        from vbr.scoring.pipeline import score_answers

        campaign, rubric = self.campaign_rubric(campaign_id)
        if isinstance(scorer, str):
            scorers = self.plugins.registry("scorers")
            if scorer not in scorers:
                raise NotFound(f"no scorer '{scorer}'", hint=f"installed: {', '.join(sorted(scorers))}")
            chosen = scorers[scorer]
        else:
            chosen = scorer
        bind = getattr(chosen, "for_campaign", None)
        if bind is not None:  # trained models: the ones for this campaign's rubric and tenant, checked now
            chosen = bind(rubric, campaign["tenant"])
        todo, before = self._split(campaign_id, rescore)
        earlier = [(r["application_id"], r["question_id"], r["redacted_text"] or "") for r in before]
        items = [
            Response(application_id=r["application_id"], question_id=r["question_id"], text=r["redacted_text"],
                     **_structured(r["structured"]))
            for r in todo
        ]
        results = score_answers(rubric, items, chosen, list(self.plugins.registry("redactors").values()),
                                progress=progress, earlier=earlier)
        people = {(r["application_id"], r["question_id"], r["value_id"])
                  for r in self.store.score_states(campaign_id) if r["source"] == "override"} if rescore else set()
        scores = [s for res in results for s in res.scores
                  if (s.application_id, s.question_id, s.value_id) not in people]
        # answers left (wholly or in part) without a score, with the flags that say why: a person
        # marks them (to_mark); a value a scorer skipped counts as much as an answer it could not read
        unscored = [(r.application_id, r.question_id, r.flags, chosen.id, chosen.version)
                    for r in results if r.flags and _values_missing(rubric, r)]
        if not scores and not unscored:  # nothing new: nothing stored, logged or announced
            return []
        self.store.add_scores(scores, actor=actor, campaign_id=campaign_id, unscored=unscored)
        self.plugins.hook.vbr_scores_ready(campaign_id=campaign_id, scores=scores, store=self.store)
        return scores

    def scores(self, campaign_id: str) -> list[Score]:
        return [row["score"] for row in self.store.current_scores(campaign_id)]

    def unscored(self, campaign_id: str) -> list[dict[str, Any]]:
        """Answers left wholly or partly without a score (empty, not scorable) with the flags that
        send them to a person (:meth:`to_mark` says which values are still to mark)."""
        return self.store.unscored_answers(campaign_id)

    def to_mark(self, campaign_id: str, *, application_id: str | None = None,
                current: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Answers the scorer gave no score, with the values a person still has to mark (a value
        marked since drops out; an answer with none left is not listed): ``application_id``,
        ``question_id``, ``values``, ``flags`` (why), ``scorer_id``/``scorer_version``, ``created_at``.
        ``current``: the current score rows (``score_states`` or ``current_scores``), if in hand."""
        _, rubric = self.campaign_rubric(campaign_id)
        if current is None:
            current = (self.store.current_scores(campaign_id, application_id=application_id)
                       if application_id is not None else self.store.score_states(campaign_id))
        scored = {(r["application_id"], r["question_id"], r["value_id"]) for r in current}
        questions = {q.id: q for q in rubric.questions}
        out = []
        for row in self.store.unscored_answers(campaign_id, application_id=application_id):
            q = questions.get(row["question_id"])
            missing = [v for v in q.values if (row["application_id"], q.id, v) not in scored] if q else []
            if missing:
                out.append({"application_id": row["application_id"], "question_id": q.id, "values": missing,
                            "flags": list(row["flags"]), "scorer_id": row["scorer_id"],
                            "scorer_version": row["scorer_version"], "created_at": str(row["created_at"])})
        return out

    def override(self, application_id: str, question_id: str, value_id: str, level: int, *,
                 actor: str, reason: str) -> int:
        """A recruiter's override: a new score row with who and why; the previous one is kept.

        A value the scorer gave no score (an empty answer, a scorer error: the answers flagged for
        a person) gets its first score this way too, if the campaign asks the question, the
        question assesses the value and the candidate answered it."""
        app = self.store.application(application_id)
        campaign, rubric = self.campaign_rubric(app["campaign_id"])
        scale = (rubric.scale.min, rubric.scale.max)
        try:
            return self.store.override_score(application_id, question_id, value_id, level, actor=actor,
                                             reason=reason, scale=scale)
        except NotFound:  # no score for this value yet: a first score, if the answer can have one
            pass
        asked = list(campaign["question_ids"])
        if question_id not in asked:
            raise NotFound(f"campaign '{campaign['id']}' does not ask question '{question_id}'", field="question_id")
        question = rubric.question(question_id)
        if value_id not in question.values:
            raise NotFound(f"question '{question_id}' does not assess '{value_id}'", field="value_id",
                           hint=f"it assesses {', '.join(question.values)}")
        if not any(r["question_id"] == question_id
                   for r in self.store.responses(campaign["id"], application_id=application_id)):
            raise NotFound(f"application '{application_id}' has no answer to question '{question_id}'",
                           field="question_id")
        return self.store.mark_score(application_id, question_id, value_id, level, actor=actor, reason=reason,
                                     rubric_ref=rubric.ref, campaign_id=campaign["id"], scale=scale)

    # ------------------------------------------------------------------ shortlists
    def rank(self, campaign_id: str) -> list[tuple[str, float]]:
        """Applications by mean current level across their scores, best first; ties by id.

        The ranking uses scores only. It never sees, and is never adjusted by, equality data.
        """
        totals: dict[str, list[int]] = {a: [] for a in self.store.application_ids(campaign_id)}
        for row in self.store.current_scores(campaign_id):
            totals[row["application_id"]].append(row["level"])
        means = {a: (sum(v) / len(v) if v else 0.0) for a, v in totals.items()}
        return sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))

    def propose_shortlist(self, campaign_id: str, *, top: int | None = None,
                          application_ids: Sequence[str] | None = None, actor: str,
                          disability_confident_minimum: float | None = 2.0) -> GateResult:
        """Propose the top ``top`` (or the given ids) and run the gate on it.

        Candidates who opted into Disability Confident and whose mean level reaches
        ``disability_confident_minimum`` are added (the guaranteed-interview rule), after the others.
        """
        if application_ids is None:
            if top is None:
                raise ValidationFailed("give either top=N or application_ids", field="top")
            ranked = self.rank(campaign_id)
            chosen = [a for a, _ in ranked[:top]]
            if disability_confident_minimum is not None:
                dc = {a["id"] for a in self.store.applications(campaign_id) if a["disability_confident"]}
                chosen += [a for a, mean in ranked[top:] if a in dc and mean >= disability_confident_minimum]
            application_ids = chosen
        return self.gate.propose(campaign_id, application_ids, actor=actor)

    def release(self, shortlist_id: int, *, actor: str, role: str | None = None,
                justification: str | None = None) -> list[str]:
        """Release through the gate: PASS at once; REVIEW/BLOCK only with an equality officer's sign-off."""
        return self.gate.release(shortlist_id, actor=actor, role=role, justification=justification)

    def status(self, shortlist_id: int) -> dict[str, Any]:
        return self.gate.status(shortlist_id)


def _structured(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    import json

    data = json.loads(raw)
    return {k: (tuple(v) if k == "choices" and v is not None else v) for k, v in data.items() if v is not None}


def _values_missing(rubric: Rubric, result: Any) -> bool:
    """Whether a scored answer lacks a score for a value its question assesses."""
    if not result.scores:
        return True
    try:
        wanted = set(rubric.question(result.question_id).values)
    except KeyError:
        return False
    return bool(wanted - {s.value_id for s in result.scores})


__all__ = ["Engine", "Question"]
