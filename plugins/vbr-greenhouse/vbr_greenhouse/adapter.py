"""The Greenhouse Assessment Partner API on top of a :class:`vbr.Engine` (no web framework here).

Greenhouse calls four endpoints of an assessment partner (developers.greenhouse.io/assessment.html):

* ``list_tests``: the tests an organisation can send. Here: one test per vbr campaign of the
  caller's tenant (the campaign's rubric questions are the test).
* ``send_test``: a candidate reached the assessment stage. vbr creates the application (id
  ``gh-<campaign>-<Greenhouse application id>``, no name, e-mail or phone stored) and answers
  ``{"partner_interview_id": ...}``. The same Greenhouse application sent the same test again
  gets the same interview (natural key), so a retried call creates nothing new.
* ``test_status``: ``partner_status`` (``incomplete`` until the answers are scored, then
  ``complete``), ``partner_profile_url`` (always, from the start), ``partner_score`` and
  ``metadata``. Because Greenhouse users can filter and bulk-advance candidates by score,
  ``partner_score`` stays ``null`` until vbr's shortlist gate has PASSED a shortlist of the
  campaign or an equality officer has released one; the metadata says so.
* ``response_error``: Greenhouse reports a response of ours it could not read; it is kept and
  written to vbr's audit log.

When a candidate completes (answers stored and scored, through the plugin's test page or through
vbr itself, announced by ``vbr_scores_ready``), vbr sends the documented ``PATCH`` to the ``url``
Greenhouse gave with ``send_test``, which makes Greenhouse read ``test_status``. Deliveries are
kept in the database: a failed one is retried with backoff by :meth:`deliver_pending` (also run
after every completion), a ``404``/``410`` stops it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError

from vbr.errors import NotFound, ValidationFailed
from vbr.hookspecs import hookimpl
from vbr.models import Application, Decision, QuestionType, Response
from vbr.store.db import migrate
from vbr_greenhouse.settings import Settings

log = logging.getLogger("vbr.greenhouse")
Clock = Callable[[], dt.datetime]

# This plugin's tables live in the main store; it owns migration numbers 600-699.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (600, "greenhouse interviews, callbacks and reported errors", [
        """CREATE TABLE greenhouse_interviews (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, campaign_id TEXT NOT NULL,
            application_id TEXT NOT NULL, greenhouse_ref TEXT NOT NULL,
            greenhouse_profile_url TEXT, callback_url TEXT, take_token TEXT NOT NULL,
            names {json}, created_at {ts} NOT NULL, answered_at {ts}, completed_at {ts},
            callback_state TEXT NOT NULL DEFAULT 'none', callback_attempts INTEGER NOT NULL DEFAULT 0,
            callback_next_at {ts}, callback_error TEXT, callback_done_at {ts})""",
        "CREATE UNIQUE INDEX greenhouse_interviews_natural ON greenhouse_interviews(tenant, campaign_id, greenhouse_ref)",
        "CREATE UNIQUE INDEX greenhouse_interviews_token ON greenhouse_interviews(take_token)",
        "CREATE INDEX greenhouse_interviews_application ON greenhouse_interviews(application_id)",
        """CREATE TABLE greenhouse_errors (
            id {pk}, tenant TEXT NOT NULL, api_call TEXT NOT NULL, errors {json} NOT NULL,
            partner_test_id TEXT, partner_interview_id TEXT, received_at {ts} NOT NULL)""",
    ]),
]
assert all(600 <= v <= 699 for v, _, _ in MIGRATIONS)

SCORE_HELD = ("held until vbr's shortlist gate passes a shortlist for this campaign "
              "or an equality officer releases it")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ---------------------------------------------------------------------------------- request bodies
class _Open(BaseModel):
    # Greenhouse may add keys over time (``url`` was added to send_test later): extra keys are ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Candidate(_Open):
    first_name: str = Field(min_length=1, max_length=200)
    last_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    greenhouse_profile_url: str = Field(min_length=1, max_length=2000)
    resume_url: str | None = Field(default=None, max_length=4000)
    phone_number: str | None = Field(default=None, max_length=100)


class SendTest(_Open):
    partner_test_id: str = Field(min_length=1, max_length=80)
    candidate: Candidate
    url: str | None = Field(default=None, max_length=2000)


class ResponseError(_Open):
    api_call: str = Field(min_length=1, max_length=100)
    errors: list[str] = Field(max_length=200)
    partner_test_id: str | None = Field(default=None, max_length=200)
    partner_test_name: str | None = Field(default=None, max_length=500)
    partner_interview_id: str | None = Field(default=None, max_length=200)
    candidate_email: str | None = Field(default=None, max_length=320)


@dataclass(frozen=True)
class Caller:
    tenant: str
    actor: str


def _greenhouse_ref(profile_url: str) -> str:
    """Greenhouse's application id from the candidate's profile URL, else a digest of the URL."""
    query = parse_qs(urlsplit(profile_url).query)
    app_id = (query.get("application_id") or [""])[0]
    if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", app_id):
        return app_id
    return "u" + hashlib.sha256(profile_url.encode("utf-8")).hexdigest()[:24]


class _ScoresListener:
    def __init__(self, adapter: "GreenhouseAdapter") -> None:
        self.adapter = adapter

    @hookimpl
    def vbr_scores_ready(self, campaign_id, scores, store):
        # The plugin system may be shared by several engines (one process serving more than one
        # database, a test run, a benchmark): act only on scores stored in this adapter's database.
        if store is None or getattr(store, "url", None) != self.adapter.engine.store.url:
            return
        try:
            self.adapter.on_scores_ready(campaign_id, scores)
        except Exception:  # noqa: BLE001 - an event handler must not undo the scoring
            log.exception("could not complete Greenhouse interviews for campaign %s", campaign_id)


class GreenhouseAdapter:
    """The partner endpoints' logic for one :class:`vbr.Engine`."""

    def __init__(self, engine: Any, settings: Settings | None = None, *, http: httpx.Client | None = None,
                 clock: Clock = utcnow) -> None:
        self.engine = engine
        self.settings = settings or Settings.from_env()
        self.db = engine.store.engine
        self.http = http
        self.clock = clock
        self._delivering = threading.Lock()
        migrate(self.db, MIGRATIONS)
        # Hear this engine's scoring events (and only this engine's, told apart by the store each
        # event comes from): scores stored through vbr itself (its API, CLI or Engine.score)
        # complete the matching interviews.
        pm = getattr(getattr(engine, "plugins", None), "pm", None)
        if pm is not None:
            pm.register(_ScoresListener(self), name=f"vbr-greenhouse-listener-{id(self)}")

    # ------------------------------------------------------------------ list_tests
    def list_tests(self, caller: Caller) -> list[dict[str, str]]:
        return [{"partner_test_id": c["id"], "partner_test_name": f"{c['title']} ({c['rubric_ref']})"}
                for c in self.engine.store.campaigns(caller.tenant)]  # the caller's, filtered in SQL

    def _campaign(self, caller: Caller, campaign_id: str) -> dict[str, Any]:
        try:
            campaign = self.engine.store.campaign(campaign_id)
        except NotFound:
            campaign = None
        if campaign is None or campaign["tenant"] != caller.tenant:
            raise NotFound(f"no test '{campaign_id}'", field="partner_test_id",
                           hint="use a partner_test_id from list_tests")
        return campaign

    # ------------------------------------------------------------------ send_test
    def send_test(self, caller: Caller, body: SendTest) -> tuple[dict[str, str], bool]:
        """Create (or find) the interview; returns ``({"partner_interview_id": ...}, created)``."""
        campaign = self._campaign(caller, body.partner_test_id)
        ref = _greenhouse_ref(body.candidate.greenhouse_profile_url)
        existing = self._find(caller.tenant, campaign["id"], ref)
        if existing is not None:
            return {"partner_interview_id": existing["id"]}, False
        interview_id = "ghi_" + secrets.token_urlsafe(12)
        application_id = f"gh-{campaign['id']}-{ref}"[:120]
        now = self.clock().isoformat()
        app = Application(id=application_id, campaign_id=campaign["id"], reference=f"greenhouse:{ref}")
        try:
            self.engine.store.add_applications([app])
        except IntegrityError:
            # Already there: an earlier send_test for this candidate and test (the id is derived
            # from both) that was interrupted, or one running right now.
            if self.engine.store.application(application_id)["campaign_id"] != campaign["id"]:
                raise
        try:
            with self.db.begin() as conn:
                # Names are kept only to redact the answers, then cleared (see submit_answers);
                # e-mail, phone and resume are not stored.
                conn.execute(text(
                    "INSERT INTO greenhouse_interviews (id, tenant, campaign_id, application_id, greenhouse_ref,"
                    " greenhouse_profile_url, callback_url, take_token, names, created_at)"
                    " VALUES (:id, :t, :c, :a, :ref, :prof, :cb, :tok, :names, :ts)"),
                    {"id": interview_id, "t": caller.tenant, "c": campaign["id"], "a": application_id,
                     "ref": ref, "prof": body.candidate.greenhouse_profile_url, "cb": body.url,
                     "tok": secrets.token_urlsafe(24),
                     "names": json.dumps([body.candidate.first_name, body.candidate.last_name]), "ts": now})
                self.engine.store.log.append(caller.actor, "greenhouse.test_sent", f"application:{application_id}",
                                             payload={"interview": interview_id, "campaign": campaign["id"],
                                                      "greenhouse_ref": ref}, conn=conn)
        except IntegrityError:
            again = self._find(caller.tenant, campaign["id"], ref)  # a concurrent identical call won
            if again is not None:
                return {"partner_interview_id": again["id"]}, False
            raise
        return {"partner_interview_id": interview_id}, True

    def _find(self, tenant: str, campaign_id: str, ref: str) -> dict[str, Any] | None:
        with self.db.connect() as conn:
            row = conn.execute(text(
                "SELECT * FROM greenhouse_interviews WHERE tenant=:t AND campaign_id=:c AND greenhouse_ref=:r"),
                {"t": tenant, "c": campaign_id, "r": ref}).mappings().first()
        return dict(row) if row else None

    def interview(self, caller: Caller | None, interview_id: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM greenhouse_interviews WHERE id=:id"),
                               {"id": interview_id}).mappings().first()
        if row is None or (caller is not None and row["tenant"] != caller.tenant):
            raise NotFound(f"no interview '{interview_id}'", field="partner_interview_id",
                           hint="use the partner_interview_id that send_test returned")
        return dict(row)

    # ------------------------------------------------------------------ test_status
    def test_status(self, caller: Caller, interview_id: str, *, public_url: str) -> dict[str, Any]:
        row = self.interview(caller, interview_id)
        campaign = self.engine.store.campaign(row["campaign_id"])
        levels = self._levels(row)
        complete = bool(levels)
        if complete and row["completed_at"] is None:
            self._mark_complete([row["id"]])
            row = self.interview(caller, interview_id)
        released, gate = self._score_released(row["campaign_id"])
        score = round(sum(levels) / len(levels), 2) if complete and released else None
        scale = self._scale(campaign)
        metadata: dict[str, Any] = {
            "Test": campaign["title"],
            "Rubric": campaign["rubric_ref"],
            "Sent At": row["created_at"],
            "Answered At": row["answered_at"],
            "Completed At": row["completed_at"],
            "Score": (f"mean level {score} on a {scale} scale" if score is not None
                      else ("not scored yet" if not complete else SCORE_HELD)),
            "Shortlist Gate": gate,
        }
        if not complete and row["answered_at"] is None:
            metadata["Candidate Link"] = self.take_url(row, public_url)
        return {
            "partner_status": "complete" if complete else "incomplete",
            "partner_profile_url": self.settings.profile_url.format(
                public_url=public_url.rstrip("/"), application_id=row["application_id"],
                campaign_id=row["campaign_id"], interview_id=row["id"]),
            "partner_score": score,
            "metadata": {k: v for k, v in metadata.items() if v is not None},
        }

    def take_url(self, row: Mapping[str, Any], public_url: str) -> str:
        return f"{public_url.rstrip('/')}{self.settings.prefix}/take/{row['take_token']}"

    def _levels(self, row: Mapping[str, Any]) -> list[int]:
        return [s["level"] for s in self.engine.store.current_scores(row["campaign_id"],
                                                                     application_id=row["application_id"])]

    def _scale(self, campaign: Mapping[str, Any]) -> str:
        try:
            rubric = self.engine.rubric(campaign["rubric_id"])
            return f"{rubric.scale.min}-{rubric.scale.max}"
        except Exception:  # noqa: BLE001 - a missing rubric only loses the label
            return "rubric"

    def _score_released(self, campaign_id: str) -> tuple[bool, str]:
        """Whether scores may leave vbr for this campaign: a shortlist of it has a current gate
        decision of PASS, or was released (an equality officer's sign-off on REVIEW/BLOCK)."""
        shortlists = self.engine.store.shortlists(campaign_id)
        if not shortlists:
            return False, "no shortlist yet"
        last = "not run"
        for sl in shortlists:
            status = self.engine.status(sl["id"])
            if status["released"]:
                return True, f"released ({status['decision']})"
            if status["decision"] == Decision.PASS.value:
                return True, "PASS"
            last = f"held ({status['decision']})" if status["decision"] else "not run"
        return False, last

    # ------------------------------------------------------------------ response_error
    def response_error(self, caller: Caller, body: ResponseError) -> None:
        with self.db.begin() as conn:
            conn.execute(text(
                "INSERT INTO greenhouse_errors (tenant, api_call, errors, partner_test_id, partner_interview_id,"
                " received_at) VALUES (:t, :c, :e, :pt, :pi, :ts)"),
                {"t": caller.tenant, "c": body.api_call, "e": json.dumps(body.errors),
                 "pt": body.partner_test_id, "pi": body.partner_interview_id, "ts": self.clock().isoformat()})
            self.engine.store.log.append(caller.actor, "greenhouse.response_error", f"greenhouse:{body.api_call}",
                                         payload={"errors": body.errors[:20], "test": body.partner_test_id,
                                                  "interview": body.partner_interview_id}, conn=conn)
        log.warning("Greenhouse could not read our %s response: %s", body.api_call, "; ".join(body.errors[:5]))

    def errors(self, tenant: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM greenhouse_errors" + (" WHERE tenant=:t" if tenant else "") + " ORDER BY id"
        with self.db.connect() as conn:
            return [{**dict(r), "errors": json.loads(r["errors"])}
                    for r in conn.execute(text(sql), {"t": tenant}).mappings()]

    # ------------------------------------------------------------------ the candidate's test page
    def by_token(self, token: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM greenhouse_interviews WHERE take_token=:t"),
                               {"t": token}).mappings().first()
        if row is None:
            raise NotFound("this test link is not valid")
        return dict(row)

    def questions(self, row: Mapping[str, Any]) -> list[Any]:
        campaign, rubric = self.engine.campaign_rubric(row["campaign_id"])
        wanted = campaign["question_ids"] or [q.id for q in rubric.questions]
        by_id = {q.id: q for q in rubric.questions}
        return [by_id[q] for q in wanted if q in by_id and by_id[q].type == QuestionType.free_text]

    def submit_answers(self, token: str, answers: Mapping[str, str]) -> list[str]:
        """Store a candidate's answers (redacted with their name, which is then forgotten), score
        them, mark the interview complete and tell Greenhouse. Returns the question ids stored."""
        row = self.by_token(token)
        if row["answered_at"] is not None:
            raise ValidationFailed("this test has already been submitted", hint="each test link works once")
        questions = self.questions(row)
        missing = [q.id for q in questions if not (answers.get(q.id) or "").strip()]
        if missing:
            raise ValidationFailed(f"please answer every question (missing: {', '.join(missing)})",
                                   field=missing[0])
        from vbr.scoring.redaction import redact_answer

        names = json.loads(row["names"]) if row["names"] else []
        stored = []
        for q in questions:
            original = answers[q.id].strip()
            stored.append((row["application_id"], q.id, original, redact_answer(original, names).text, None))
        try:  # the answers' primary key (application, question) makes a second submission fail here
            self.engine.store.add_applications([], stored)
        except IntegrityError:
            raise ValidationFailed("this test has already been submitted", hint="each test link works once") from None
        with self.db.begin() as conn:
            conn.execute(text("UPDATE greenhouse_interviews SET answered_at=:ts, names=NULL WHERE id=:id"),
                         {"ts": self.clock().isoformat(), "id": row["id"]})
        self._score(row, questions)
        return [q.id for q in questions]

    def _score(self, row: Mapping[str, Any], questions: Sequence[Any]) -> None:
        from vbr.scoring.pipeline import score_answers

        campaign_id = row["campaign_id"]
        _, rubric = self.engine.campaign_rubric(campaign_id)
        scorers = self.engine.plugins.registry("scorers")
        if self.settings.scorer not in scorers:
            log.error("scorer %r is not installed; interview %s stays incomplete", self.settings.scorer, row["id"])
            return
        mine = self.engine.store.responses(campaign_id, application_id=row["application_id"])
        items = [Response(application_id=r["application_id"], question_id=r["question_id"], text=r["redacted_text"])
                 for r in mine]
        results = score_answers(rubric, items, scorers[self.settings.scorer],
                                list(self.engine.plugins.registry("redactors").values()))
        scores = [s for res in results for s in res.scores]
        self.engine.store.add_scores(scores, actor="vbr.greenhouse", campaign_id=campaign_id)
        self.engine.plugins.hook.vbr_scores_ready(campaign_id=campaign_id, scores=scores,
                                                  store=self.engine.store)  # reaches on_scores_ready

    # ------------------------------------------------------------------ completion and the callback
    def on_scores_ready(self, campaign_id: str, scores: Iterable[Any]) -> list[str]:
        """Complete the open interviews of the applications that now have scores."""
        app_ids = sorted({s.application_id for s in scores})
        if not app_ids:
            return []
        q = text("SELECT id FROM greenhouse_interviews WHERE campaign_id=:c AND completed_at IS NULL"
                 " AND application_id IN :ids").bindparams(bindparam("ids", expanding=True))
        with self.db.connect() as conn:
            ids = [r[0] for r in conn.execute(q, {"c": campaign_id, "ids": app_ids})]
        done = self._mark_complete(ids)
        if done:
            self.deliver_soon()
        return done

    def _mark_complete(self, interview_ids: Sequence[str]) -> list[str]:
        done = []
        now = self.clock().isoformat()
        for iid in interview_ids:
            with self.db.begin() as conn:
                n = conn.execute(text(
                    "UPDATE greenhouse_interviews SET completed_at=:ts,"
                    " callback_state = CASE WHEN callback_url IS NULL THEN 'none' ELSE 'pending' END,"
                    " callback_next_at=:ts WHERE id=:id AND completed_at IS NULL"), {"ts": now, "id": iid}).rowcount
                if n == 1:
                    row = conn.execute(text("SELECT application_id FROM greenhouse_interviews WHERE id=:id"),
                                       {"id": iid}).first()
                    self.engine.store.log.append("vbr.greenhouse", "greenhouse.test_completed",
                                                 f"application:{row[0]}", payload={"interview": iid}, conn=conn)
                    done.append(iid)
        return done

    def deliver_soon(self) -> None:
        if self.settings.background_delivery:
            threading.Thread(target=self.deliver_pending, name="vbr-greenhouse-callbacks", daemon=True).start()
        else:
            self.deliver_pending()

    def deliver_pending(self) -> dict[str, str]:
        """PATCH every completion callback that is due; returns ``{interview_id: new state}``."""
        out: dict[str, str] = {}
        if not self._delivering.acquire(blocking=False):
            return out  # another thread of this process is delivering; it will see these rows
        try:
            now = self.clock()
            with self.db.connect() as conn:
                due = conn.execute(text(
                    "SELECT id, callback_url, callback_attempts FROM greenhouse_interviews"
                    " WHERE callback_state='pending' AND callback_next_at <= :now ORDER BY callback_next_at"),
                    {"now": now.isoformat()}).all()
            for iid, url, attempts in due:
                out[iid] = self._deliver_one(iid, url, attempts)
        finally:
            self._delivering.release()
        return out

    def _deliver_one(self, iid: str, url: str, attempts: int) -> str:
        auth = (self.settings.callback_key, "") if self.settings.callback_key else None
        error: str | None = None
        try:
            client = self.http or httpx.Client(timeout=self.settings.callback_timeout)
            try:
                resp = client.patch(url, auth=auth, timeout=self.settings.callback_timeout)
            finally:
                if self.http is None:
                    client.close()
            status = resp.status_code
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        attempts += 1
        now = self.clock()
        if status is not None and 200 <= status < 300:
            state, next_at = "delivered", None
        elif status in (404, 410):
            state, next_at, error = "failed", None, f"HTTP {status}: Greenhouse no longer knows this test"
        elif attempts >= self.settings.max_attempts:
            state, next_at, error = "failed", None, error or f"HTTP {status}"
        else:
            state, error = "pending", error or f"HTTP {status}"
            next_at = (now + dt.timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))).isoformat()
        with self.db.begin() as conn:
            conn.execute(text(
                "UPDATE greenhouse_interviews SET callback_state=:s, callback_attempts=:n, callback_next_at=:nx,"
                " callback_error=:e, callback_done_at=:done WHERE id=:id"),
                {"s": state, "n": attempts, "nx": next_at, "e": error,
                 "done": now.isoformat() if state == "delivered" else None, "id": iid})
        if state != "delivered":
            log.warning("Greenhouse completion callback for %s: %s (%s)", iid, state, error)
        return state
