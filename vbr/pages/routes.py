"""The page routes, under ``/pages``: sign-in, campaigns, recruiter review, equality dashboard."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from vbr.errors import GateHeld, NotFound, PermissionDenied, ValidationFailed
from vbr.pages import dashboard as dash
from vbr.pages import logcheck
from vbr.pages import review as rv
from vbr.pages import session as sess
from vbr.pages import web
from vbr.pages.web import OFFICER, RECRUITER
from vbr.server import scope
from vbr.server.keys import KeyRejected, Principal

router = APIRouter(prefix="/pages", include_in_schema=False)
STATIC = {"pages.css": "text/css; charset=utf-8", "pages.js": "text/javascript; charset=utf-8"}
POLICY = rv.RubberStampPolicy()


def policy(request: Request) -> rv.RubberStampPolicy:
    return getattr(request.app.state, "pages_rubber_stamp", None) or POLICY


def log_checks(request: Request) -> logcheck.LogChecks:
    """The app's audit-log check policy and cache, else the process's (keyed by store URL)."""
    return getattr(request.app.state, "pages_log_checks", None) or logcheck.CHECKS


# ---------------------------------------------------------------------------- static files and sign-in


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    if name not in STATIC:
        return web.message(request, 404, "Not found", "There is no such file.")
    body = resources.files("vbr.pages").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "public, max-age=300",
                                                            "X-Content-Type-Options": "nosniff"})


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    return web.redirect(request, "/pages/campaigns")


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/pages/") and not target.startswith("//") else "/pages/campaigns"


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return web.render(request, "signin.html", next=_safe_next(next), who=web.user(request))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    data = await web.form(request)
    if not web.csrf_ok(request, data):
        return web.bad_csrf(request, None)
    key = data.get("api_key", "").strip()
    try:
        who: Principal = await run_in_threadpool(request.app.state.keys.authenticate, key)
    except KeyRejected as exc:
        return web.render(request, "signin.html", status=401, next=_safe_next(data.get("next")),
                          error=f"We could not sign you in: {exc.reason}.")
    web.set_session(request, sess.new_session(web.clock(request), key_id=who.key_id, role=who.role,
                                              tenant=who.tenant, name=who.name))
    web.engine(request).store.log.append(who.actor, "pages.signed_in", f"key:{who.key_id}")
    return web.redirect(request, _safe_next(data.get("next")))


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    data = await web.form(request)
    if web.csrf_ok(request, data):
        web.set_session(request, sess.new_session(web.clock(request)))
    return web.redirect(request, "/pages/sign-in")


# ---------------------------------------------------------------------------- campaigns


def _campaign(request: Request, who: Principal, campaign_id: str) -> dict[str, Any] | None:
    try:
        return scope.campaign(web.engine(request), who, campaign_id)
    except NotFound:
        return None


def _not_found(request: Request, who: Principal, what: str) -> Response:
    return web.message(request, 404, "Page not found", f"There is no {what} here, or it belongs to another "
                       "organisation.", who=who, back=("/pages/campaigns", "Back to your campaigns"))


CAMPAIGNS_PAGE = 25  # campaigns a page of "Your campaigns" shows, newest first


def _page(request: Request, count: int, size: int) -> tuple[int, int]:
    """The page asked for by ``?page=`` (1 when it is not a number; kept within the pages there
    are) and how many pages ``count`` items make, ``size`` a page."""
    pages = max(1, -(-count // size))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1
    return page, pages


def _values_per_question(vbr: Any, campaign: dict) -> dict[str, int] | None:
    """How many values each question of the campaign's rubric assesses (an answer a scorer
    scored for some of them only still waits for a person); None if that rubric version is not
    installed here (then only answers with no score at all are counted)."""
    try:
        rubric = vbr.rubric_of(campaign)
    except (NotFound, ValidationFailed):
        return None
    return {q.id: len(q.values) for q in rubric.questions}


@router.get("/campaigns")
def campaigns(request: Request) -> Response:
    who = web.user(request)
    if who is None:
        return web.sign_in_redirect(request)
    vbr = web.engine(request)
    # the tenant's campaigns are counted, filtered and paged by the database; only the page's are read
    count = vbr.store.campaign_count(who.tenant)
    page, pages = _page(request, count, CAMPAIGNS_PAGE)
    start = (page - 1) * CAMPAIGNS_PAGE
    rows = []
    for c in vbr.store.campaigns(who.tenant, newest_first=True, limit=CAMPAIGNS_PAGE, offset=start):
        row = {"id": c["id"], "title": c["title"], "rubric": c["rubric_ref"],
               "applications": vbr.store.application_count(c["id"])}
        if who.role == RECRUITER:
            row["progress"] = rv.counted_progress(vbr, c["id"])
            row["unscored"] = vbr.store.unscored_answer_count(c["id"], _values_per_question(vbr, c))
        if who.role == OFFICER:
            latest = dash.latest_shortlist(vbr, c["id"])
            row["decision"] = vbr.status(latest["id"]) if latest else None
        rows.append(row)
    return web.render(request, "campaigns.html", who=who, campaigns=rows, count=count, first=start + 1,
                      page=page, pages=pages, page_size=CAMPAIGNS_PAGE)


# ---------------------------------------------------------------------------- recruiter review


def _recruiter(request: Request, campaign_id: str) -> tuple[Principal | None, dict | None, Response | None]:
    who = web.user(request)
    if who is None:
        return None, None, web.sign_in_redirect(request)
    campaign = _campaign(request, who, campaign_id)
    if campaign is None:
        return who, None, _not_found(request, who, f"campaign '{campaign_id}'")
    if who.role != RECRUITER:
        why = ("Equality officers see aggregate figures only, never candidates' answers or scores."
               if who.role == OFFICER else f"Reviewing answers is for recruiters, not the '{who.role}' role.")
        return who, None, web.refuse(request, who, campaign_id, "review", why)
    return who, campaign, None


LIST_PAGE = 100  # candidates a page of the review list shows (in the list's order: flagged first)


@router.get("/campaigns/{campaign_id}/review")
def review_list(campaign_id: str, request: Request) -> Response:
    who, campaign, refused = _recruiter(request, campaign_id)
    if refused:
        return refused
    vbr = web.engine(request)
    accepted = rv.accepted_rows(vbr.store.log, campaign_id)
    states = vbr.store.score_states(campaign_id)
    summaries = rv.candidate_summaries(vbr, campaign_id, accepted, states)
    page, pages = _page(request, len(summaries), LIST_PAGE)
    start = (page - 1) * LIST_PAGE
    return web.render(request, "review_list.html", who=who, campaign=campaign, candidates=summaries,
                      shown=summaries[start:start + LIST_PAGE], first=start + 1, page=page, pages=pages,
                      page_size=LIST_PAGE,
                      progress=rv.progress(vbr, campaign_id, accepted, states),
                      next_id=rv.next_unreviewed(summaries),
                      warning=rv.rubber_stamp(vbr.store.log, campaign_id, who.key_id, policy(request)))


def _candidate_page(request: Request, who: Principal, campaign: dict, application_id: str, *, status: int = 200,
                    errors: dict[str, str] | None = None, values: dict[str, dict] | None = None,
                    notice: str | None = None) -> Response:
    vbr = web.engine(request)
    _, rubric = vbr.campaign_rubric(campaign["id"])
    accepted = rv.accepted_rows(vbr.store.log, campaign["id"])
    cand = rv.candidate_view(vbr, rubric, campaign, application_id, accepted)
    states = vbr.store.score_states(campaign["id"])
    summaries = rv.candidate_summaries(vbr, campaign["id"], accepted, states)
    ids = [s["id"] for s in summaries]
    i = ids.index(application_id) if application_id in ids else 0
    return web.render(
        request, "candidate.html", status=status, who=who, campaign=campaign, cand=cand,
        progress=rv.progress(vbr, campaign["id"], accepted, states), errors=errors or {}, values=values or {},
        notice=notice or NOTICES.get(request.query_params.get("msg", "")),
        prev_id=ids[i - 1] if i > 0 else None, next_id=ids[i + 1] if i + 1 < len(ids) else None,
        next_todo=rv.next_unreviewed(summaries, after=application_id), position=i + 1, count=len(ids),
        warning=rv.rubber_stamp(vbr.store.log, campaign["id"], who.key_id, policy(request)),
        scale=(rubric.scale.min, rubric.scale.max))


NOTICES = {"accepted": "Score accepted.", "overridden": "Score changed. The previous score is kept in its history.",
           "marked": "Score saved, with your reason.",
           "already": "You had already accepted this score; nothing was added."}


def _application(request: Request, campaign: dict, application_id: str) -> dict | None:
    try:
        app = web.engine(request).store.application(application_id)
    except NotFound:
        return None
    return app if app["campaign_id"] == campaign["id"] else None


@router.get("/campaigns/{campaign_id}/review/{application_id}")
def candidate(campaign_id: str, application_id: str, request: Request) -> Response:
    who, campaign, refused = _recruiter(request, campaign_id)
    if refused:
        return refused
    if _application(request, campaign, application_id) is None:
        return _not_found(request, who, "such candidate")
    return _candidate_page(request, who, campaign, application_id)


@router.post("/campaigns/{campaign_id}/review/{application_id}")
async def review_score(campaign_id: str, application_id: str, request: Request) -> Response:
    data = await web.form(request)
    return await run_in_threadpool(_review_score, campaign_id, application_id, request, data)


def _review_score(campaign_id: str, application_id: str, request: Request, data: dict[str, str]) -> Response:
    who, campaign, refused = _recruiter(request, campaign_id)
    if refused:
        return refused
    if not web.csrf_ok(request, data):
        return web.bad_csrf(request, who)
    if _application(request, campaign, application_id) is None:
        return _not_found(request, who, "such candidate")
    vbr = web.engine(request)
    qid, vid, action = data.get("question_id", ""), data.get("value_id", ""), data.get("action", "")
    key = f"{qid}/{vid}"
    try:
        expected = int(data.get("score_id", ""))
    except ValueError:
        expected = -1
    base = f"/pages/campaigns/{campaign_id}/review/{application_id}"
    with web.writing(request):
        current = rv.current_row(vbr, application_id, qid, vid)
        if current is None and not (action == "override" and expected == -1):
            return _not_found(request, who, "such score")
        # a form for an answer the scorer could not score has no score id; its first score is marked below
        if current is not None and current["id"] != expected:
            by = "a person" if current["source"] == "override" else "the scorer"
            return _candidate_page(
                request, who, campaign, application_id, status=409,
                errors={key: f"This score changed since you opened the page: it is now level {current['level']} "
                             f"(set by {by}). Your change was not saved. Check the current score below and "
                             "decide again."})
        if action == "accept":
            accepted = rv.accepted_rows(vbr.store.log, campaign_id)
            if current["id"] in accepted:
                return web.redirect(request, f"{base}?msg=already#s-{rv._slug(qid)}-{rv._slug(vid)}")
            now = web.clock(request)
            fast = rv.rubber_stamp(vbr.store.log, campaign_id, who.key_id, policy(request), extra=now)
            vbr.store.log.append(who.actor, rv.ACCEPTED, f"score:{application_id}/{qid}/{vid}", payload={
                "campaign": campaign_id, "score_id": current["id"], "level": current["level"],
                "reviewer_key": who.key_id, "at": now.isoformat(),
                "fast_accepts_median_seconds": fast["median_seconds"] if fast else None}, campaign_id=campaign_id)
            return web.redirect(request, f"{base}?msg=accepted#{_next_card(vbr, campaign, application_id, key)}")
        if action == "override":
            reason = data.get("reason", "").strip()
            try:
                level = int(data.get("level", ""))
            except ValueError:
                level = None
            error = None
            if level is None:
                error = "Choose the level you are giving."
            elif len(reason) < 5:
                error = "Give a reason for the change (at least 5 characters): it is kept with the score."
            if error is None:
                try:
                    vbr.override(application_id, qid, vid, level, actor=who.actor, reason=reason)
                except ValidationFailed as exc:
                    error = str(exc)
                except NotFound:  # a first score for a value or question the answer does not have
                    return _not_found(request, who, "such answer to mark")
            if error:
                return _candidate_page(request, who, campaign, application_id, status=422, errors={key: error},
                                       values={key: {"reason": reason, "level": level}})
            msg = "marked" if current is None else "overridden"
            return web.redirect(request, f"{base}?msg={msg}#{_next_card(vbr, campaign, application_id, key)}")
    return web.message(request, 400, "Unknown action", "Choose Accept or Change score.", who=who)


def _next_card(vbr, campaign: dict, application_id: str, key: str) -> str:
    """The DOM id of the card after ``key`` on the candidate page (focus moves on after a decision)."""
    _, rubric = vbr.campaign_rubric(campaign["id"])
    cand = rv.candidate_view(vbr, rubric, campaign, application_id, rv.accepted_rows(vbr.store.log, campaign["id"]))
    cards = [c for a in cand["answers"] for c in a["cards"]]
    keys = [c["key"] for c in cards]
    i = keys.index(key) if key in keys else -1
    rest = cards[i + 1:] + cards[:i + 1]
    target = next((c for c in rest if not c["reviewed"]), cards[i] if cards else None)
    return target["dom_id"] if target else "main"


# ---------------------------------------------------------------------------- equality dashboard


def _officer(request: Request, campaign_id: str) -> tuple[Principal | None, dict | None, Response | None]:
    who = web.user(request)
    if who is None:
        return None, None, web.sign_in_redirect(request)
    campaign = _campaign(request, who, campaign_id)
    if campaign is None:
        return who, None, _not_found(request, who, f"campaign '{campaign_id}'")
    if who.role != OFFICER:
        return who, None, web.refuse(request, who, campaign_id, "equality dashboard",
                                     "Equality monitoring figures are for equality officers only.")
    return who, campaign, None


def _shortlist_param(request: Request) -> int | None:
    raw = request.query_params.get("shortlist")
    return int(raw) if raw and raw.isdigit() else None


def _dashboard(request: Request, who: Principal, campaign: dict, shortlist_id: int | None, *, status: int = 200,
               error: str | None = None, justification: str = "", notice: str | None = None) -> Response:
    vbr = web.engine(request)
    shortlist = dash.latest_shortlist(vbr, campaign["id"], shortlist_id)
    model = dash.dashboard_view(vbr, campaign, shortlist)
    ids = [s["id"] for s in model["shortlists"]]
    # the whole chain on the first load, then what was written since (and the whole again every so often)
    verification = log_checks(request).check(vbr.store.log, vbr.store.url, web.clock(request))
    return web.render(request, "dashboard.html", status=status, who=who, campaign=campaign, shortlist=shortlist,
                      m=model, log=dash.campaign_log(vbr, campaign["id"], ids), verification=verification,
                      error=error, justification=justification,
                      notice=notice or {"released": "The shortlist was released. Your justification is in the "
                                                    "audit log."}.get(request.query_params.get("msg", "")))


@router.get("/campaigns/{campaign_id}/equality")
def dashboard(campaign_id: str, request: Request) -> Response:
    who, campaign, refused = _officer(request, campaign_id)
    if refused:
        return refused
    return _dashboard(request, who, campaign, _shortlist_param(request))


@router.post("/campaigns/{campaign_id}/equality/release")
async def release(campaign_id: str, request: Request) -> Response:
    data = await web.form(request)
    return await run_in_threadpool(_release, campaign_id, request, data)


def _release(campaign_id: str, request: Request, data: dict[str, str]) -> Response:
    who, campaign, refused = _officer(request, campaign_id)
    if refused:
        return refused
    if not web.csrf_ok(request, data):
        return web.bad_csrf(request, who)
    vbr = web.engine(request)
    try:
        sid = int(data.get("shortlist_id", ""))
        decision_id = int(data.get("decision_id", ""))
    except ValueError:
        return web.message(request, 400, "Incomplete form", "The form did not say which shortlist to release.",
                           who=who)
    shortlist = dash.latest_shortlist(vbr, campaign_id, sid)
    if shortlist is None:
        return _not_found(request, who, f"shortlist {sid}")
    justification = data.get("justification", "").strip()
    with web.writing(request):
        status = vbr.status(sid)
        if status["released"]:
            return _dashboard(request, who, campaign, sid, status=409,
                              error=f"This shortlist was already released by {status['released_by']}; "
                                    "nothing more was recorded.")
        latest = max((h["id"] for h in status["history"]), default=0)
        if latest != decision_id:
            return _dashboard(request, who, campaign, sid, status=409, justification=justification,
                              error="The gate's decision on this shortlist changed since you opened the page. "
                                    "Read the current decision below before releasing.")
        try:
            vbr.release(sid, actor=who.actor, role=who.role, justification=justification)
        except (GateHeld, PermissionDenied) as exc:
            return _dashboard(request, who, campaign, sid, status=422, error=str(exc), justification=justification)
    return web.redirect(request, f"/pages/campaigns/{campaign_id}/equality?shortlist={sid}&msg=released")


def _latest_audit(request: Request, vbr, campaign_id: str):
    """The shortlist asked for (or the latest), its gate status, and its stored audit figures."""
    shortlist = dash.latest_shortlist(vbr, campaign_id, _shortlist_param(request))
    status = vbr.status(shortlist["id"]) if shortlist else None
    return shortlist, status, ((status or {}).get("figures") or {}).get("audit")


@router.get("/campaigns/{campaign_id}/equality/summary.csv")
def summary_csv(campaign_id: str, request: Request) -> Response:
    who, campaign, refused = _officer(request, campaign_id)
    if refused:
        return refused
    vbr = web.engine(request)
    shortlist, status, audit = _latest_audit(request, vbr, campaign_id)
    if not audit:
        return web.message(request, 404, "No audit yet", "This campaign has no audit yet, so there is no summary "
                           "to publish.", who=who)
    body = dash.summary_csv(dash.publishable_summary(audit), campaign_id=campaign_id, decision=status["decision"])
    vbr.store.log.append(who.actor, "pages.summary_exported", f"shortlist:{shortlist['id']}",
                         payload={"campaign": campaign_id, "suppression_threshold": dash.THRESHOLD},
                         campaign_id=campaign_id)
    name = f"{campaign_id}-shortlist-{shortlist['id']}-equality-summary.csv"
    return web.finish(request, Response(body, media_type="text/csv; charset=utf-8",
                                        headers={"Content-Disposition": f'attachment; filename="{name}"'}))


@router.get("/campaigns/{campaign_id}/equality/report.html")
def report(campaign_id: str, request: Request) -> Response:
    """The standalone audit report of a shortlist (one self-contained HTML file)."""
    from vbr.fairness.report import render_html

    who, campaign, refused = _officer(request, campaign_id)
    if refused:
        return refused
    vbr = web.engine(request)
    shortlist, status, audit = _latest_audit(request, vbr, campaign_id)
    if not audit:
        return web.message(request, 404, "No audit yet", "This campaign has no audit yet.", who=who)
    html = render_html(audit, decision=status["decision"], reasons=status["reasons"],
                       title=f"{campaign['title']}: shortlist {shortlist['id']}")
    name = f"{campaign_id}-shortlist-{shortlist['id']}-audit.html"
    response = web.finish(request, Response(html, media_type="text/html; charset=utf-8",
                                            headers={"Content-Disposition": f'attachment; filename="{name}"'}))
    # the report carries its own inline styles and SVG, and nothing else (no scripts, no network)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response
