"""Who may call what: ``Authorization: Bearer <key>`` and a role check per route.

A missing, malformed, unknown, revoked or expired key is a 401 problem saying which; a key whose
role may not use a route is a 403 naming the roles that may. Tenant checks (404 for another
tenant's resources, so their existence does not leak) are in :mod:`vbr.server.scope`.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vbr.server.keys import ROLES, KeyRejected, Principal
from vbr.server.problems import Problem

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                    description="An API key made with `vbr keys create --role ... --tenant ...`")

ATS, RECRUITER, OFFICER, ADMIN = ROLES
EVERYONE = ROLES


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, kind="unauthorized", headers={"WWW-Authenticate": "Bearer"},
                   hint="send Authorization: Bearer <key>; make a key with `vbr keys create`")


async def principal(request: Request,
                    credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> Principal:
    if credentials is None:
        raise _unauthorized("no API key: the Authorization header is missing or not a Bearer token")
    keys = request.app.state.keys
    try:
        # a key verified within the last second needs no database read, so no thread-pool hop
        return keys.authenticate_cached(credentials.credentials) or \
            await run_in_threadpool(keys.authenticate, credentials.credentials)
    except KeyRejected as exc:
        raise _unauthorized(exc.reason) from None


def allow(*roles: str) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and lets only ``roles`` through."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"

    async def check(who: Principal = Depends(principal)) -> Principal:
        if who.role not in roles:
            raise Problem(403, "Forbidden", f"the '{who.role}' role may not do this",
                          kind="forbidden", hint=f"roles allowed here: {', '.join(roles)}")
        return who

    check.__name__ = "allow_" + "_".join(roles)
    return check
