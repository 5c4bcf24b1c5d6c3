"""Plumbing shared by the page routes: templates, the session, who is signed in, refusals.

Who may see what:

* ``recruiter``: the review pages (answers, scores, evidence). Never equality data.
* ``equality_officer``: the dashboard (aggregates, the gate, the log). Never answers.
* other roles: the campaign list only.

A page refused to a signed-in user answers 403 with an explanation and writes a
``pages.refused`` entry to the audit log (who, which page, which campaign).
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from typing import Any, Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import text

from vbr.pages import session as sess
from vbr.server.keys import Principal

RECRUITER, OFFICER = "recruiter", "equality_officer"
ROLE_NAMES = {"recruiter": "Recruiter", "equality_officer": "Equality officer", "admin": "Administrator",
              "ats": "ATS integration"}
PAGE_LOCK = threading.Lock()  # check-then-write of a form is one step within this process

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

env = Environment(loader=PackageLoader("vbr.pages", "templates"), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True)
env.globals["ROLE_NAMES"] = ROLE_NAMES


def clock(request: Request):
    settings = getattr(request.app.state, "settings", None)
    if settings is not None and getattr(settings, "clock", None) is not None:
        return settings.clock()
    from vbr.server.keys import utcnow

    return utcnow()


def engine(request: Request):
    return request.app.state.engine


PG_PAGES_LOCK = (0x766272, 100)  # ("vbr", pages form writes): beside vbr.store.db's advisory-lock keys


@contextlib.contextmanager
def _pg_lock(sa_engine):
    """On PostgreSQL, a session advisory lock so that several server processes check-then-write a
    form one at a time (a double submission landing on two workers still makes one override)."""
    if sa_engine.dialect.name != "postgresql":
        yield
        return
    with sa_engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:ns, :k)"), {"ns": PG_PAGES_LOCK[0], "k": PG_PAGES_LOCK[1]})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": PG_PAGES_LOCK[0], "k": PG_PAGES_LOCK[1]})
            conn.commit()


def writing(request: Request):
    """Check-then-write of a form as one step: the pages' lock (this process), the service's write
    lock (serialises SQLite writers) and, on PostgreSQL, an advisory lock (all processes)."""
    lock = getattr(request.app.state, "write_lock", None)
    stack = contextlib.ExitStack()
    stack.enter_context(PAGE_LOCK)
    stack.enter_context(_pg_lock(engine(request).store.engine))
    if lock is not None:
        stack.enter_context(lock())
    return stack


# ---------------------------------------------------------------------------- session and user


def session(request: Request) -> sess.Session:
    """This request's session (an anonymous one with a fresh CSRF token if there is none)."""
    if getattr(request.state, "session", None) is None:
        secret = sess.server_secret(request.app)
        found = sess.read_session(secret, request.cookies.get(sess.COOKIE), clock(request))
        request.state.session = found or sess.new_session(clock(request))
        request.state.session_changed = found is None
    return request.state.session


def set_session(request: Request, new: sess.Session) -> None:
    request.state.session = new
    request.state.session_changed = True


def user(request: Request) -> Principal | None:
    """The signed-in principal, if the session names a key that is still active with the same role."""
    s = session(request)
    if not s.signed_in:
        return None
    keys = request.app.state.keys
    with keys.engine.connect() as conn:
        row = conn.execute(text("SELECT role, tenant, name, expires_at, revoked_at FROM api_keys WHERE id=:id"),
                           {"id": s.key_id}).first()
    if row is None or row[4] or row[0] != s.role or row[1] != s.tenant:
        return None
    if row[3]:
        import datetime as dt

        if dt.datetime.fromisoformat(row[3]) <= clock(request):
            return None
    return Principal(s.key_id, row[0], row[1], row[2])


def finish(request: Request, response: Response) -> Response:
    """Security headers, and the session cookie when it changed."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    if getattr(request.state, "session_changed", False):
        s = request.state.session
        response.set_cookie(sess.COOKIE, sess.sign(sess.server_secret(request.app), s.to_dict()),
                            **sess.cookie_options(request.url.scheme == "https"))
    return response


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
    s = session(request)
    who = ctx.pop("who", None)
    html = env.get_template(template).render(csrf=s.csrf, who=who, path=request.url.path, **ctx)
    return finish(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, url: str) -> Response:
    return finish(request, RedirectResponse(url, status_code=303))


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, "/pages/sign-in?" + urllib.parse.urlencode({"next": target}))


def message(request: Request, status: int, title: str, text: str, who: Principal | None = None,
            **extra: Any) -> Response:
    return render(request, "message.html", status=status, title=title, text=text, who=who, **extra)


def refuse(request: Request, who: Principal, campaign_id: str, page: str, why: str) -> Response:
    """403 page, and a ``pages.refused`` log entry saying who was refused what."""
    engine(request).store.log.append(who.actor, "pages.refused", f"campaign:{campaign_id}",
                                     reason=why, payload={"page": page, "role": who.role, "path": request.url.path},
                                     campaign_id=campaign_id)
    return message(request, 403, "You do not have access to this page",
                   f"{why} This refusal has been recorded in the audit log.", who=who,
                   back=("/pages/campaigns", "Back to your campaigns"))


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the pages never post anything else); last value wins."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def csrf_ok(request: Request, data: Mapping[str, str]) -> bool:
    return sess.csrf_ok(session(request), data.get("csrf"))


def bad_csrf(request: Request, who: Principal | None) -> Response:
    return message(request, 400, "This form has expired",
                   "The form was not sent from this page or your session changed since it was opened. "
                   "Nothing was saved. Go back, reload the page and try again.", who=who)
