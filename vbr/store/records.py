"""The main store: campaigns, applications, answers, scores, overrides, shortlists, decisions.

Scores are append-only: an override adds a new row that supersedes the previous one, so the
history of every score stays readable. Each change also goes to the hash-chained log, in the
same transaction, so a score change and its log entry are written together or not at all.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import text

from vbr.errors import NotFound, ValidationFailed
from vbr.models import Application, Campaign, Decision, EvidenceSpan, ReviewFlag, Score, ShortlistDecision
from vbr.store.db import connect, migrate, now, one_statement
from vbr.store.log import AuditLog
from vbr.store.migrations import APPEND_ONLY, MAIN


# statements on every request of the HTTP service, built once (a text() parses its SQL for binds)
_CAMPAIGN = text("SELECT * FROM campaigns WHERE id=:id")
_APPLICATION = text("SELECT * FROM applications WHERE id=:id")
_APPLICATION_COUNT = text("SELECT COUNT(*) FROM applications WHERE campaign_id=:c")


def latest_scores_sql(columns: str, one_application: bool, *, ordered: bool = True) -> str:
    """SQL for the latest score row per (application, question, value) of a campaign ``:c`` (or
    of its application ``:a``), in a stable order; the service pages it with LIMIT/OFFSET.
    ``ordered=False`` leaves the ORDER BY off (for aggregates over the rows)."""
    return (
        f"SELECT {columns} FROM scores s JOIN applications a ON a.id = s.application_id WHERE a.campaign_id = :c"
        + (" AND s.application_id = :a" if one_application else "")
        + " AND s.id = (SELECT MAX(id) FROM scores t WHERE t.application_id = s.application_id"
          " AND t.question_id = s.question_id AND t.value_id = s.value_id)"
        + (" ORDER BY s.application_id, s.question_id, s.value_id" if ordered else ""))


# The ids of the score rows a person accepted in campaign :c: the score_id of each log entry with
# action :action, read through the log's campaign index, whose payload names the campaign (the
# same rule as vbr.pages.review.accepted_rows; score_id as the pages write it, a JSON integer).
_ACCEPTED_SCORE_IDS = {
    "sqlite": "SELECT json_extract(l.payload, '$.score_id') FROM audit_log_campaigns c"
              " JOIN audit_log l ON l.seq = c.seq WHERE c.campaign_id = :c AND l.action = :action"
              " AND json_extract(l.payload, '$.campaign') = :c",
    "postgresql": "SELECT CASE WHEN jsonb_typeof(CAST(l.payload AS jsonb) -> 'score_id') = 'number'"
                  " THEN CAST(CAST(l.payload AS jsonb) ->> 'score_id' AS NUMERIC) END"
                  " FROM audit_log_campaigns c JOIN audit_log l ON l.seq = c.seq"
                  " WHERE c.campaign_id = :c AND l.action = :action"
                  " AND CAST(l.payload AS jsonb) -> 'campaign' = to_jsonb(CAST(:c AS TEXT))",
}
# How many current score rows campaign :c has, and how many of them are reviewed: a person's
# override, or a row accepted in the log (above). One statement; nothing but two numbers comes back.
_REVIEW_COUNTS = {
    dialect: text(latest_scores_sql(
        "COUNT(*) AS total, COALESCE(SUM(CASE WHEN s.source = 'override' OR s.id IN (" + accepted + ")"
        " THEN 1 ELSE 0 END), 0) AS reviewed", False, ordered=False))
    for dialect, accepted in _ACCEPTED_SCORE_IDS.items()}


_CURRENT_SCORES = {one: text(latest_scores_sql("s.*", one)) for one in (False, True)}
_SCORED_KEYS = text(
    "SELECT DISTINCT s.application_id, s.question_id FROM scores s JOIN applications a ON a.id = s.application_id"
    " WHERE a.campaign_id = :c")
# an answer's latest answer_flags row (f), among the campaign's (a)
_LATEST_FLAGS = (" FROM answer_flags f JOIN applications a ON a.id = f.application_id WHERE a.campaign_id = :c"
                 " AND f.id = (SELECT MAX(id) FROM answer_flags g"
                 " WHERE g.application_id = f.application_id AND g.question_id = f.question_id)")
# the answers left to mark with how many of their values have a score now (the answer_flags
# rows are the few answers a scorer could not score, so this reads little)
_UNSCORED_VALUES = text(
    "SELECT f.question_id, (SELECT COUNT(DISTINCT s.value_id) FROM scores s"
    " WHERE s.application_id = f.application_id AND s.question_id = f.question_id)" + _LATEST_FLAGS)
_UNSCORED = {one: text("SELECT f.*" + _LATEST_FLAGS + (" AND f.application_id = :a" if one else "")
                       + " ORDER BY f.application_id, f.question_id") for one in (False, True)}
_SCORE_STATES = text(latest_scores_sql("s.id, s.application_id, s.question_id, s.value_id, s.source, s.flags", False))
_RESPONSES = {one: text("SELECT r.* FROM responses r JOIN applications a ON a.id = r.application_id"
                        " WHERE a.campaign_id = :c" + (" AND r.application_id = :a" if one else "")
                        + " ORDER BY r.application_id, r.question_id") for one in (False, True)}
_INSERT_APPLICATIONS = text(
    "INSERT INTO applications (id, campaign_id, reference, disability_confident, submitted_at, created_at)"
    " VALUES (:id, :cid, :ref, :dc, :sub, :ts)")
_INSERT_RESPONSES = text(
    "INSERT INTO responses (application_id, question_id, original_text, redacted_text, structured, received_at)"
    " VALUES (:a, :q, :o, :r, :s, :ts)")

# On PostgreSQL one application and its answers go in as ONE statement in autocommit (the
# application in a data-modifying WITH, its answers in the main INSERT): atomic like the
# transaction it replaces, and one round trip instead of four (BEGIN, two INSERTs, COMMIT),
# which is what a submission over HTTP waits on. Batches (imports) keep the transaction with
# one executemany per table: their BEGIN and COMMIT are shared by a thousand rows.
_ONE_STATEMENT_MAX_ANSWERS = 100


@functools.lru_cache(maxsize=_ONE_STATEMENT_MAX_ANSWERS + 1)
def _insert_one_application(n_answers: int) -> Any:
    app = ("INSERT INTO applications (id, campaign_id, reference, disability_confident, submitted_at, created_at)"
           " VALUES (:id, :cid, :ref, :dc, :sub, :ts) RETURNING id")
    if not n_answers:
        return text(app)
    rows = ", ".join(f"(CAST(:q{j} AS TEXT), CAST(:o{j} AS TEXT), CAST(:r{j} AS TEXT), CAST(:s{j} AS TEXT))"
                     for j in range(n_answers))
    return text(f"WITH app AS ({app}) INSERT INTO responses (application_id, question_id, original_text,"
                f" redacted_text, structured, received_at) SELECT app.id, v.q, v.o, v.r, v.s, :ts"
                f" FROM app CROSS JOIN (VALUES {rows}) AS v(q, o, r, s)")


def _score_from_row(row) -> Score:
    return Score(
        application_id=row.application_id, question_id=row.question_id, value_id=row.value_id,
        level=row.level, confidence=row.confidence,
        evidence=tuple(EvidenceSpan(**e) for e in json.loads(row.evidence)),
        anchor=row.anchor, scorer_id=row.scorer_id, scorer_version=row.scorer_version,
        rubric_ref=row.rubric_ref, flags=tuple(ReviewFlag(**f) for f in json.loads(row.flags)),
    )


def _page_clause(params: dict[str, Any], limit: int | None, offset: int) -> str:
    """`` LIMIT .. OFFSET ..`` for a page (its values added to ``params``); none without a limit."""
    if limit is None:
        if offset:
            raise ValueError("offset needs a limit")
        return ""
    params.update(limit=max(0, int(limit)), offset=max(0, int(offset)))
    return " LIMIT :limit OFFSET :offset"


class Store:
    CAMPAIGN_CACHE = 1024  # campaign rows kept in memory (they never change once written)

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = connect(url)
        migrate(self.engine, MAIN, APPEND_ONLY)
        self.log = AuditLog(self.engine)
        self._campaigns: dict[str, dict[str, Any]] = {}
        self._campaigns_lock = threading.Lock()

    # ------------------------------------------------------------------ campaigns
    def add_campaign(self, campaign: Campaign, rubric_ref: str, *, actor: str, tenant: str = "default") -> None:
        with self.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM campaigns WHERE id=:id"), {"id": campaign.id}).first():
                raise ValidationFailed(f"campaign '{campaign.id}' already exists", field="id",
                                       hint="choose another id")
            conn.execute(text(
                "INSERT INTO campaigns (id, title, rubric_id, rubric_ref, question_ids, organisation, tenant, created_at)"
                " VALUES (:id, :title, :rubric_id, :ref, :qids, :org, :tenant, :ts)"),
                {"id": campaign.id, "title": campaign.title, "rubric_id": campaign.rubric_id, "ref": rubric_ref,
                 "qids": json.dumps(list(campaign.question_ids)), "org": campaign.organisation,
                 "tenant": tenant, "ts": campaign.created_at.isoformat()})
            self.log.append(actor, "campaign.created", f"campaign:{campaign.id}",
                            payload={"rubric": rubric_ref, "title": campaign.title}, conn=conn,
                            campaign_id=campaign.id)

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        """The campaign's row (a copy: change it freely). Campaigns are never updated or deleted
        once written (nothing in vbr does either), so a row read once is kept in memory and every
        request that names the campaign does not read it again; an unknown id is always looked up."""
        cached = self._campaigns.get(campaign_id)
        if cached is None:
            with one_statement(self.engine) as conn:
                row = conn.execute(_CAMPAIGN, {"id": campaign_id}).mappings().first()
            if row is None:
                raise NotFound(f"no campaign '{campaign_id}'", hint="check the campaign id")
            cached = dict(row)
            cached["question_ids"] = tuple(json.loads(cached["question_ids"]))
            with self._campaigns_lock:
                if len(self._campaigns) >= self.CAMPAIGN_CACHE:
                    self._campaigns.clear()
                self._campaigns[campaign_id] = cached
        return {**cached, "question_ids": list(cached["question_ids"])}

    def campaigns(self, tenant: str | None = None, *, newest_first: bool = False, limit: int | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Campaign rows, oldest first (``newest_first``: newest first); with ``tenant``, that
        tenant's only; ``limit`` and ``offset`` page them. Filtered and paged in SQL."""
        where, params = ("WHERE tenant = :tenant", {"tenant": tenant}) if tenant is not None else ("", {})
        order = "created_at DESC, id DESC" if newest_first else "created_at, id"
        page = _page_clause(params, limit, offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                text(f"SELECT * FROM campaigns {where} ORDER BY {order}{page}"), params).mappings()]

    def campaign_count(self, tenant: str | None = None) -> int:
        """How many campaigns there are (of ``tenant``, if given), counted in SQL."""
        sql = "SELECT COUNT(*) FROM campaigns" + (" WHERE tenant = :tenant" if tenant is not None else "")
        with one_statement(self.engine) as conn:
            return conn.execute(text(sql), {"tenant": tenant} if tenant is not None else {}).scalar_one()

    # ------------------------------------------------------------------ applications and answers
    def add_applications(self, applications: Iterable[Application],
                         answers: Iterable[tuple[str, str, str | None, str | None, dict | None]] = (), *,
                         received_at: str | None = None) -> int:
        """Store applications and answers ``(application_id, question_id, original, redacted, structured)``
        in one transaction (or, on PostgreSQL, one statement): all of them or none. ``received_at``
        (ISO 8601, default now) is stored as their ``created_at`` / ``received_at``."""
        ts = received_at or now()
        app_rows = [{"id": app.id, "cid": app.campaign_id, "ref": app.reference, "dc": int(app.disability_confident),
                     "sub": app.submitted_at.isoformat() if app.submitted_at else None, "ts": ts}
                    for app in applications]
        answer_rows = [{"a": app_id, "q": qid, "o": original, "r": redacted,
                        "s": json.dumps(structured) if structured is not None else None, "ts": ts}
                       for app_id, qid, original, redacted, structured in answers]
        if (self.engine.dialect.name == "postgresql" and len(app_rows) == 1
                and len(answer_rows) <= _ONE_STATEMENT_MAX_ANSWERS
                and all(r["a"] == app_rows[0]["id"] for r in answer_rows)):
            params = {**app_rows[0]}
            for j, r in enumerate(answer_rows):
                params.update({f"q{j}": r["q"], f"o{j}": r["o"], f"r{j}": r["r"], f"s{j}": r["s"]})
            with one_statement(self.engine) as conn:
                conn.execute(_insert_one_application(len(answer_rows)), params)
            return 1
        with self.engine.begin() as conn:  # executemany: one round trip per statement, not per row
            if app_rows:
                conn.execute(_INSERT_APPLICATIONS, app_rows)
            if answer_rows:
                conn.execute(_INSERT_RESPONSES, answer_rows)
        n = len(app_rows)
        return n

    def applications(self, campaign_id: str, *, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """A campaign's application rows by id; ``limit`` and ``offset`` page them in SQL (an API
        page of a campaign with a hundred thousand applications must not read them all)."""
        params: dict[str, Any] = {"c": campaign_id}
        page = _page_clause(params, limit, offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                text(f"SELECT * FROM applications WHERE campaign_id=:c ORDER BY id{page}"), params).mappings()]

    def application(self, application_id: str) -> dict[str, Any]:
        with one_statement(self.engine) as conn:
            row = conn.execute(_APPLICATION, {"id": application_id}).mappings().first()
        if row is None:
            raise NotFound(f"no application '{application_id}'")
        return dict(row)

    def application_count(self, campaign_id: str) -> int:
        with one_statement(self.engine) as conn:
            return conn.execute(_APPLICATION_COUNT, {"c": campaign_id}).scalar_one()

    def application_ids(self, campaign_id: str) -> list[str]:
        return [a["id"] for a in self.applications(campaign_id)]

    def responses(self, campaign_id: str, *, application_id: str | None = None) -> list[dict[str, Any]]:
        """The campaign's answers, or one application's (read on its own: a page about one
        candidate must not cost the whole campaign)."""
        with self.engine.connect() as conn:
            rows = conn.execute(_RESPONSES[application_id is not None],
                                {"c": campaign_id, "a": application_id}).mappings()
            return [dict(r) for r in rows]

    # ------------------------------------------------------------------ scores
    def add_scores(self, scores: Sequence[Score], *, actor: str, source: str = "scorer",
                   campaign_id: str | None = None,
                   unscored: Sequence[tuple[str, str, Sequence[ReviewFlag], str, str]] = ()) -> int:
        """Store scores, and ``unscored`` answers ``(application, question, flags, scorer id, version)``
        whose flags say why they have no score, in one transaction with one log entry."""
        ts = now()
        with self.engine.begin() as conn:
            for app_id, qid, flags, sid, sver in unscored:
                conn.execute(text(
                    "INSERT INTO answer_flags (application_id, question_id, flags, scorer_id, scorer_version,"
                    " created_by, created_at) VALUES (:a, :q, :f, :sid, :sver, :by, :ts)"),
                    {"a": app_id, "q": qid, "f": json.dumps([f.model_dump(mode="json") for f in flags]),
                     "sid": sid, "sver": sver, "by": actor, "ts": ts})
            for s in scores:
                conn.execute(text(
                    "INSERT INTO scores (application_id, question_id, value_id, level, confidence, evidence, anchor,"
                    " scorer_id, scorer_version, rubric_ref, flags, source, created_by, reason, supersedes, created_at)"
                    " VALUES (:a, :q, :v, :lvl, :conf, :ev, :anchor, :sid, :sver, :ref, :flags, :src, :by, NULL, NULL, :ts)"),
                    {"a": s.application_id, "q": s.question_id, "v": s.value_id, "lvl": s.level,
                     "conf": s.confidence, "ev": json.dumps([e.model_dump(mode="json") for e in s.evidence]),
                     "anchor": s.anchor, "sid": s.scorer_id, "sver": s.scorer_version, "ref": s.rubric_ref,
                     "flags": json.dumps([f.model_dump(mode="json") for f in s.flags]), "src": source,
                     "by": actor, "ts": ts})
            if scores or unscored:
                scorer = (f"{scores[0].scorer_id}@{scores[0].scorer_version}" if scores
                          else f"{unscored[0][3]}@{unscored[0][4]}")
                payload: dict[str, Any] = {"n": len(scores), "unscored": len(unscored), "scorer": scorer}
                by = Counter(f"{s.scorer_id}@{s.scorer_version}" for s in scores)
                if len(by) > 1:  # trained models beside a fallback: how many rows each scored
                    payload["scorers"] = dict(sorted(by.items()))
                self.log.append(actor, "scores.added", f"campaign:{campaign_id}" if campaign_id else "scores",
                                payload=payload, conn=conn, campaign_id=campaign_id)
        return len(scores)

    def unscored_answers(self, campaign_id: str, *, application_id: str | None = None) -> list[dict[str, Any]]:
        """The latest flags of answers left without a score, or without one for some of their
        values (empty, not scorable, a value the scorer skipped), for human review; of the whole
        campaign or of one application. An answer scored or marked since still has
        its row here: callers compare with the current scores (the review pages do)."""
        with self.engine.connect() as conn:
            rows = conn.execute(_UNSCORED[application_id is not None],
                                {"c": campaign_id, "a": application_id}).mappings()
            out = []
            for r in rows:
                d = dict(r)
                d["flags"] = [ReviewFlag(**f) for f in json.loads(d["flags"])]
                out.append(d)
            return out

    def answered_keys(self, campaign_id: str) -> set[tuple[str, str]]:
        """``(application, question)`` of the campaign's answers that have been through scoring
        already: a score row (the scorer's or a person's), or answer flags that say no score is
        possible (an empty answer, ...). An answer whose latest flags are a scorer error and that
        has no score is not among them: the next run tries it again (the error may have passed)."""
        with self.engine.connect() as conn:
            keys = {(r[0], r[1]) for r in conn.execute(_SCORED_KEYS, {"c": campaign_id})}
        for row in self.unscored_answers(campaign_id):
            if not any(f.code == "scorer_error" for f in row["flags"]):
                keys.add((row["application_id"], row["question_id"]))
        return keys

    def unscored_answer_count(self, campaign_id: str, values_per_question: Mapping[str, int] | None = None) -> int:
        """How many of the campaign's answers still wait for a person to mark them: answers left
        without a score (empty, not scorable), and with ``values_per_question`` (question id ->
        how many values the rubric assesses there) also those a scorer scored for some values
        only. A page that lists campaigns says this without reading scores."""
        with one_statement(self.engine) as conn:
            rows = conn.execute(_UNSCORED_VALUES, {"c": campaign_id}).all()
        wanted = values_per_question or {}
        return sum(1 for question_id, scored in rows if scored < wanted.get(question_id, 1))

    def current_scores(self, campaign_id: str, *, application_id: str | None = None) -> list[dict[str, Any]]:
        """The latest score row per (application, question, value), with its source; of the whole
        campaign or of one application."""
        with self.engine.connect() as conn:
            rows = conn.execute(_CURRENT_SCORES[application_id is not None], {"c": campaign_id, "a": application_id})
            return [{**dict(r._mapping), "score": _score_from_row(r)} for r in rows]

    def score_states(self, campaign_id: str) -> list[dict[str, Any]]:
        """What a review overview needs of each current score, without the scores themselves: row
        id, application, question, value, source and flags (as stored, JSON). Building every
        score with its evidence costs ~80 µs a row, so a 5,000-candidate campaign's list page took
        seconds; this costs a few."""
        with self.engine.connect() as conn:
            result = conn.execute(_SCORE_STATES, {"c": campaign_id})
            keys = tuple(result.keys())
            return [dict(zip(keys, row)) for row in result.all()]  # half the time of .mappings()

    def review_counts(self, campaign_id: str, *, accepted_action: str) -> dict[str, int]:
        """``{"total": n, "reviewed": k}``: the campaign's current score rows (as :meth:`score_states`)
        and how many of them are reviewed, counted in SQL (only the two numbers are read). A row is
        reviewed when it is a person's override (``source = 'override'``) or its id is the
        ``score_id`` of a log entry with action ``accepted_action`` about the campaign (read
        through the log's campaign index, payload ``campaign`` equal to the campaign). The caller
        names the action (the pages' ``score.accepted``): the store does not know the pages' words.
        An accept of a row that is no longer current does not count."""
        with one_statement(self.engine) as conn:
            row = conn.execute(_REVIEW_COUNTS[self.engine.dialect.name],
                               {"c": campaign_id, "action": accepted_action}).one()
        return {"total": int(row.total), "reviewed": int(row.reviewed)}

    def score_history(self, application_id: str, question_id: str, value_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(
                "SELECT * FROM scores WHERE application_id=:a AND question_id=:q AND value_id=:v ORDER BY id"),
                {"a": application_id, "q": question_id, "v": value_id}).mappings()]

    @staticmethod
    def _check_person_score(level: int, reason: str, scale: tuple[int, int]) -> None:
        if not reason or len(reason.strip()) < 5:
            raise ValidationFailed("a person's score needs a reason of at least 5 characters", field="reason")
        if not scale[0] <= level <= scale[1]:
            raise ValidationFailed(f"level {level} is outside the rubric scale {scale[0]}-{scale[1]}", field="level")

    @staticmethod
    def _insert_person_score(conn, application_id: str, question_id: str, value_id: str, level: int, *,
                             actor: str, reason: str, evidence: str, rubric_ref: str, supersedes: int | None) -> int:
        """A person's score row (``source = 'override'``, scorer ``human``), in the caller's transaction."""
        return conn.execute(text(
            "INSERT INTO scores (application_id, question_id, value_id, level, confidence, evidence, anchor,"
            " scorer_id, scorer_version, rubric_ref, flags, source, created_by, reason, supersedes, created_at)"
            " VALUES (:a, :q, :v, :lvl, 1.0, :ev, NULL, 'human', '1', :ref, '[]', 'override', :by, :reason, :sup, :ts)"
            " RETURNING id"),
            {"a": application_id, "q": question_id, "v": value_id, "lvl": level, "ev": evidence, "ref": rubric_ref,
             "by": actor, "reason": reason, "sup": supersedes, "ts": now()}).scalar_one()

    def override_score(self, application_id: str, question_id: str, value_id: str, level: int, *,
                       actor: str, reason: str, scale: tuple[int, int] = (0, 4)) -> int:
        """Record a recruiter's override as a new score row; the previous score is kept."""
        self._check_person_score(level, reason, scale)
        with self.engine.begin() as conn:
            prev = conn.execute(text(
                "SELECT * FROM scores WHERE application_id=:a AND question_id=:q AND value_id=:v ORDER BY id DESC LIMIT 1"),
                {"a": application_id, "q": question_id, "v": value_id}).mappings().first()
            if prev is None:
                raise NotFound(f"no score for application '{application_id}', question '{question_id}', value '{value_id}'")
            new_id = self._insert_person_score(conn, application_id, question_id, value_id, level, actor=actor,
                                               reason=reason, evidence=prev["evidence"], rubric_ref=prev["rubric_ref"],
                                               supersedes=prev["id"])
            self.log.append(actor, "score.overridden", f"score:{application_id}/{question_id}/{value_id}",
                            reason=reason, payload={"from": prev["level"], "to": level, "supersedes": prev["id"]},
                            conn=conn)
        return new_id

    def mark_score(self, application_id: str, question_id: str, value_id: str, level: int, *, actor: str,
                   reason: str, rubric_ref: str, campaign_id: str, scale: tuple[int, int] = (0, 4)) -> int:
        """Record a person's score for a value the scorer gave none (an empty answer, a scorer
        error): the first score row of that value, ``source = 'override'``, no evidence, with who
        and why, logged as ``score.marked``. A value that has a score is changed with
        :meth:`override_score`."""
        self._check_person_score(level, reason, scale)
        with self.engine.begin() as conn:
            taken = conn.execute(text(
                "SELECT id FROM scores WHERE application_id=:a AND question_id=:q AND value_id=:v LIMIT 1"),
                {"a": application_id, "q": question_id, "v": value_id}).first()
            if taken is not None:
                raise ValidationFailed(f"application '{application_id}', question '{question_id}' already has a "
                                       f"score for '{value_id}'", field="value_id",
                                       hint="change the current score instead (an override keeps its history)")
            new_id = self._insert_person_score(conn, application_id, question_id, value_id, level, actor=actor,
                                               reason=reason, evidence="[]", rubric_ref=rubric_ref, supersedes=None)
            self.log.append(actor, "score.marked", f"score:{application_id}/{question_id}/{value_id}",
                            reason=reason, payload={"to": level, "score_id": new_id}, conn=conn,
                            campaign_id=campaign_id)
        return new_id

    # ------------------------------------------------------------------ human ratings
    def add_human_ratings(self, rows: Sequence[tuple[str, str, str, str, int]], *, actor: str,
                          source: str) -> int:
        """Store assessors' ratings ``(application, question, value, rater, level)``, all or none."""
        ts = now()
        params = [{"a": a, "q": q, "v": v, "r": r, "l": lvl, "ts": ts} for a, q, v, r, lvl in rows]
        with self.engine.begin() as conn:
            if params:
                conn.execute(text(
                    "INSERT INTO human_ratings (application_id, question_id, value_id, rater, level, created_at)"
                    " VALUES (:a, :q, :v, :r, :l, :ts)"), params)
            self.log.append(actor, "ratings.imported", f"ratings:{source}", payload={"n": len(params)}, conn=conn)
        return len(params)

    def human_ratings(self, campaign_id: str) -> list[dict[str, Any]]:
        """Each rater's latest rating per (application, question, value) in the campaign."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT h.* FROM human_ratings h JOIN applications a ON a.id = h.application_id"
                " WHERE a.campaign_id = :c AND h.id = (SELECT MAX(id) FROM human_ratings g WHERE"
                " g.application_id = h.application_id AND g.question_id = h.question_id"
                " AND g.value_id = h.value_id AND g.rater = h.rater)"
                " ORDER BY h.application_id, h.question_id, h.value_id, h.rater"), {"c": campaign_id}).mappings()
            return [dict(r) for r in rows]

    # ------------------------------------------------------------------ shortlists and decisions
    def add_shortlist(self, campaign_id: str, application_ids: Sequence[str], *, stage: str, actor: str) -> int:
        with self.engine.begin() as conn:
            sid = conn.execute(text(
                "INSERT INTO shortlists (campaign_id, stage, application_ids, created_by, created_at)"
                " VALUES (:c, :s, :ids, :by, :ts) RETURNING id"),
                {"c": campaign_id, "s": stage, "ids": json.dumps(list(application_ids)), "by": actor, "ts": now()}
            ).scalar_one()
            self.log.append(actor, "shortlist.proposed", f"shortlist:{sid}",
                            payload={"campaign": campaign_id, "stage": stage, "n": len(application_ids)}, conn=conn,
                            campaign_id=campaign_id)
        return sid

    def shortlist(self, shortlist_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM shortlists WHERE id=:id"), {"id": shortlist_id}).mappings().first()
        if row is None:
            raise NotFound(f"no shortlist {shortlist_id}")
        out = dict(row)
        out["application_ids"] = json.loads(out["application_ids"])
        return out

    def shortlists(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's shortlists, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM shortlists WHERE campaign_id=:c ORDER BY id"),
                                {"c": campaign_id}).mappings()
            return [{**dict(r), "application_ids": json.loads(r["application_ids"])} for r in rows]

    def record_decision(self, shortlist_id: int, decision: ShortlistDecision, *, actor: str) -> int:
        """Write the gate's decision and its log entry together, before anything is released."""
        with self.engine.begin() as conn:
            did = conn.execute(text(
                "INSERT INTO gate_decisions (shortlist_id, decision, reasons, regime, audit, released, released_by,"
                " justification, decided_at) VALUES (:s, :d, :r, :g, :a, :rel, :by, :j, :ts) RETURNING id"),
                {"s": shortlist_id, "d": decision.decision.value, "r": json.dumps(list(decision.reasons)),
                 "g": decision.regime, "a": json.dumps(decision.audit_summary, default=str),
                 "rel": int(decision.released), "by": decision.released_by, "j": decision.justification,
                 "ts": decision.decided_at.isoformat()}).scalar_one()
            action = "shortlist.released" if decision.released else f"shortlist.{decision.decision.value.lower()}"
            self.log.append(actor, action, f"shortlist:{shortlist_id}", reason=decision.justification,
                            payload={"decision": decision.decision.value, "reasons": list(decision.reasons),
                                     "regime": decision.regime, "figures": decision.audit_summary,
                                     "released": decision.released}, conn=conn)
        return did

    def decisions(self, shortlist_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM gate_decisions WHERE shortlist_id=:s ORDER BY id"),
                                {"s": shortlist_id}).mappings()
            out = []
            for r in rows:
                d = dict(r)
                d["reasons"] = json.loads(d["reasons"])
                d["audit"] = json.loads(d["audit"])
                d["decision"] = Decision(d["decision"])
                out.append(d)
            return out
