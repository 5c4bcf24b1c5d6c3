"""Errors as RFC 9457 problem details (``application/problem+json``), never a stack trace.

Every error the service returns has ``type``, ``title``, ``status`` and ``detail``; errors about
input also name the ``field`` (or list ``errors`` with their location) and a ``hint``. A vbr error
keeps its own message; anything unexpected becomes a 500 that names only an ``error_id`` to
quote to the operator, whose log has the traceback.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from vbr.errors import GateHeld, IntegrityError, NotFound, PermissionDenied, PluginError, ValidationFailed, VbrError

log = logging.getLogger("vbr.server")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:vbr:problem:"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, kind: str | None = None,
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        self.status = status
        self.title = title
        self.detail = detail or title
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extensions = {k: v for k, v in extensions.items() if v is not None}
        super().__init__(self.detail)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out = {"type": TYPE_BASE + self.kind, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            out["instance"] = instance
        out.update(self.extensions)
        return out


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document, as every error response of the service."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    hint: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON,
                        headers=problem.headers)


_VBR_STATUS: list[tuple[type[VbrError], int, str]] = [
    (ValidationFailed, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (PermissionDenied, 403, "Forbidden"),
    (GateHeld, 409, "Held by the gate"),
    (IntegrityError, 409, "Integrity failure"),
    (PluginError, 500, "Plugin error"),
]


def from_vbr_error(exc: VbrError) -> Problem:
    status, title = 400, "Bad request"
    for cls, code, name in _VBR_STATUS:
        if isinstance(exc, cls):
            status, title = code, name
            break
    problems = [{"detail": p.message, **({"field": p.field} if p.field else {}),
                 **({"row": p.row} if p.row is not None else {})} for p in getattr(exc, "problems", [])]
    return Problem(status, title, exc.message, kind=type(exc).__name__.lower(), field=exc.field, hint=exc.hint,
                   row=exc.row, errors=problems or None)


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where}: {'.'.join(rest)}" if rest else where
    return ".".join(parts)


def from_validation_error(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        e = next(e for e in errors if e.get("type") == "json_invalid")
        where = (e.get("ctx") or {}).get("error", "")
        return Problem(400, "Malformed JSON", f"the request body is not valid JSON: {where}".rstrip(": "),
                       kind="malformed-json", hint="send a JSON document with Content-Type: application/json")
    if len(errors) == 1 and tuple(errors[0].get("loc", ())) == ("body",) and errors[0].get("type") in (
            "model_attributes_type", "dict_type", "model_type"):
        return Problem(422, "Invalid input", "the request body must be a JSON object", kind="validation",
                       field="body", hint="send a JSON object with Content-Type: application/json")
    # never echo the submitted values back: they may be answers or equality data
    items = [{"loc": _loc(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    first = items[0] if items else {"loc": "", "msg": "invalid"}
    detail = f"{first['loc']}: {first['msg']}" + (f" (and {len(items) - 1} more)" if len(items) > 1 else "")
    field = ".".join(str(p) for p in errors[0]["loc"][1:]) if errors and len(errors[0].get("loc", ())) > 1 else None
    return Problem(422, "Invalid input", detail, kind="validation", field=field, errors=items,
                   hint="see the API docs at /v1/docs for the expected shape")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc, request.url.path)

    @app.exception_handler(VbrError)
    async def _vbr(request: Request, exc: VbrError):
        if isinstance(exc, PluginError):
            log.error("plugin error on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(from_vbr_error(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return problem_response(from_validation_error(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail in (None, "Not Found"):
            detail = f"no resource at {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        problem = Problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), detail,
                          headers=dict(exc.headers or {}))
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        error_id = secrets.token_hex(6)
        log.exception("unexpected error %s on %s %s", error_id, request.method, request.url.path)
        problem = Problem(500, "Internal error", "the service failed to handle this request; nothing about it "
                          "is shown here", kind="internal", error_id=error_id,
                          hint="quote error_id to the operator, whose log has the details")
        return problem_response(problem, request.url.path)


# responses documented on every route (OpenAPI): a problem document for each error status
def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Malformed request", 401: "Missing, unknown, revoked or expired API key",
            403: "The key's role may not do this", 404: "No such resource in your tenant",
            409: "Conflict (idempotency key in flight, held by the gate, id taken)",
            413: "Request body too large", 422: "Invalid input", 500: "Internal error"}
    return {c: {"model": ProblemDetails, "description": text.get(c, "Error"),
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            for c in codes}
