"""The HTTP side: Greenhouse's four partner endpoints and the candidate's test page.

Greenhouse authenticates with HTTP Basic, the key as the user name and an empty password. With
vbr's key store (``vbr serve``, ``app.state.keys``) the key must be a vbr key with the ``ats``
role; its tenant decides which campaigns are visible. Without one, the key's SHA-256 must be in
``VBR_GREENHOUSE_KEY_SHA256``. Errors are RFC 9457 problem documents.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from vbr.errors import NotFound, ValidationFailed
from vbr_greenhouse.adapter import Caller, GreenhouseAdapter, ResponseError, SendTest

PROBLEM = "application/problem+json"
MAX_BODY = 256 * 1024


# ---------------------------------------------------------------------------------- documented shapes
class PartnerTest(BaseModel):
    partner_test_id: str
    partner_test_name: str


class SendTestOut(BaseModel):
    partner_interview_id: str


class TestStatusOut(BaseModel):
    partner_status: str
    partner_profile_url: str
    partner_score: float | None = None
    metadata: dict[str, str | int | float | bool | None] = {}


class Received(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GreenhouseProblem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow", title="GreenhouseProblem")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    hint: str | None = None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text_ = {400: "Malformed JSON", 401: "Missing or unknown key (HTTP Basic, the key as the user name)",
             403: "The key's role is not ats", 404: "No such test or interview for this key",
             413: "Body too large", 422: "Invalid body or query"}
    return {c: {"model": GreenhouseProblem, "description": text_[c],
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/GreenhouseProblem"}}}}
            for c in codes}


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def response(self, path: str) -> JSONResponse:
        body = {"type": "urn:vbr:problem:greenhouse-" + self.title.lower().replace(" ", "-"),
                "title": self.title, "status": self.status, "detail": self.detail, "instance": path, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=self.headers, media_type=PROBLEM)


def _unauthorized(detail: str) -> Refused:
    return Refused(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Basic realm="vbr-greenhouse"'},
                   hint="Greenhouse sends the partner key as the Basic-auth user name with an empty password")


def authenticate(request: Request, adapter: GreenhouseAdapter) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise _unauthorized("no credentials: send HTTP Basic auth with the key as the user name")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _unauthorized("the Basic credentials are not valid base64 of 'key:'") from None
    key = decoded.partition(":")[0]
    if not key or len(key) >= 171:
        raise _unauthorized("the key (the Basic-auth user name) is empty or too long")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    for stored, tenant in adapter.settings.key_hashes.items():
        if hmac.compare_digest(stored, digest):
            return Caller(tenant, f"greenhouse (key sha256 {digest[:12]}, tenant {tenant})")
    keys = getattr(request.app.state, "keys", None)
    if keys is None or not hasattr(keys, "authenticate"):
        raise _unauthorized("the key is not known")
    try:
        who = keys.authenticate(key)
    except Exception as exc:  # vbr.server.keys.KeyRejected (its reason is safe to show)
        raise _unauthorized(getattr(exc, "reason", "the key is not known")) from None
    if who.role != "ats":
        raise Refused(403, "Forbidden", f"the '{who.role}' role may not use the Greenhouse endpoints",
                      hint="make a key with `vbr keys create --role ats --tenant <tenant>`")
    return Caller(who.tenant, f"greenhouse via {who.actor}")


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Refused(413, "Too Large", f"the body has {len(raw)} bytes; at most {MAX_BODY} are accepted")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "Malformed JSON", f"the body is not JSON: {exc}") from None


def _invalid(exc: ValidationError) -> Refused:
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid body"}
    return Refused(422, "Invalid Body", f"{first['field']}: {first['message']}", errors=errors,
                   field=first["field"])


def public_url(request: Request, adapter: GreenhouseAdapter) -> str:
    return adapter.settings.public_url or str(request.base_url).rstrip("/")


def make_router(adapter: GreenhouseAdapter) -> APIRouter:
    router = APIRouter(prefix=adapter.settings.prefix, tags=["greenhouse"])

    async def guarded(request: Request, fn, *args) -> Any:
        try:
            caller = await run_in_threadpool(authenticate, request, adapter)
            return await fn(caller, *args)
        except Refused as exc:
            return exc.response(request.url.path)
        except NotFound as exc:
            return Refused(404, "Not Found", exc.message, field=getattr(exc, "field", None),
                           hint=getattr(exc, "hint", None)).response(request.url.path)
        except ValidationFailed as exc:
            return Refused(422, "Invalid Body", exc.message, field=getattr(exc, "field", None),
                           hint=getattr(exc, "hint", None)).response(request.url.path)

    @router.get("/list_tests", summary="Greenhouse: the tests (vbr campaigns) this organisation can send",
                response_model=list[PartnerTest], responses=_errors(401, 403))
    async def list_tests(request: Request):
        async def run(caller: Caller):
            return JSONResponse(await run_in_threadpool(adapter.list_tests, caller))
        return await guarded(request, run)

    @router.post("/send_test", summary="Greenhouse: send a test to a candidate (creates the vbr application)",
                 response_model=SendTestOut, responses=_errors(400, 401, 403, 404, 413, 422))
    async def send_test(request: Request):
        async def run(caller: Caller):
            data = await _json(request)
            try:
                body = SendTest.model_validate(data)
            except ValidationError as exc:
                raise _invalid(exc) from None
            out, created = await run_in_threadpool(adapter.send_test, caller, body)
            return JSONResponse(out, status_code=200)
        return await guarded(request, run)

    @router.get("/test_status", summary="Greenhouse: a test's status, score (after the gate) and profile link",
                response_model=TestStatusOut, responses=_errors(401, 403, 404, 422))
    async def test_status(request: Request, partner_interview_id: str | None = Query(default=None, max_length=200)):
        async def run(caller: Caller):
            if not partner_interview_id:
                raise Refused(422, "Invalid Query", "partner_interview_id is required", field="partner_interview_id")
            return JSONResponse(await run_in_threadpool(adapter.test_status, caller, partner_interview_id,
                                                        public_url=public_url(request, adapter)))
        return await guarded(request, run)

    @router.post("/response_error", summary="Greenhouse: report a response of ours it could not read",
                 response_model=Received, responses=_errors(400, 401, 403, 413, 422))
    async def response_error(request: Request):
        async def run(caller: Caller):
            try:
                body = ResponseError.model_validate(await _json(request))
            except ValidationError as exc:
                raise _invalid(exc) from None
            await run_in_threadpool(adapter.response_error, caller, body)
            return JSONResponse({}, status_code=200)
        return await guarded(request, run)

    # ------------------------------------------------------------------ the candidate's page
    @router.get("/take/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def take(token: str):
        try:
            row = await run_in_threadpool(adapter.by_token, token)
            questions = await run_in_threadpool(adapter.questions, row)
        except NotFound:
            return HTMLResponse(_page("Test not found", "<p>This test link is not valid.</p>"), status_code=404)
        if row["answered_at"]:
            return HTMLResponse(_page("Thank you", "<p>Your answers have been received.</p>"))
        return HTMLResponse(_form(questions))

    @router.post("/take/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def take_submit(token: str, request: Request):
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return HTMLResponse(_page("Too long", "<p>Your answers are too long.</p>"), status_code=413)
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        answers = {k.removeprefix("q_"): v for k, v in fields.items() if k.startswith("q_")}
        try:
            await run_in_threadpool(adapter.submit_answers, token, answers)
        except NotFound:
            return HTMLResponse(_page("Test not found", "<p>This test link is not valid.</p>"), status_code=404)
        except ValidationFailed as exc:
            return HTMLResponse(_page("Please check your answers", f"<p>{html.escape(exc.message)}</p>"),
                                status_code=422)
        return HTMLResponse(_page("Thank you", "<p>Your answers have been received.</p>"))

    return router


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
            "textarea{width:100%;min-height:10rem}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")


def _form(questions) -> str:
    parts = ["<form method='post'>"]
    for q in questions:
        parts.append(f"<p><label for='q_{html.escape(q.id)}'>{html.escape(q.text)}</label></p>"
                     f"<textarea id='q_{html.escape(q.id)}' name='q_{html.escape(q.id)}' required></textarea>")
    parts.append("<p><button type='submit'>Submit my answers</button></p></form>")
    return _page("Your values-based questions", "".join(parts))


def register(app: FastAPI, engine: Any = None, *, settings=None, http=None) -> GreenhouseAdapter:
    """Add the Greenhouse endpoints to ``app``; the engine is ``app.state.engine`` unless given."""
    if engine is None:
        engine = getattr(app.state, "engine", None)
    if engine is None:
        from vbr.engine import Engine

        engine = Engine()
    adapter = GreenhouseAdapter(engine, settings, http=http)
    app.include_router(make_router(adapter))
    app.state.greenhouse = adapter
    return adapter
