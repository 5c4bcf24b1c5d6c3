"""``GET /v1/me``: which key, role and tenant the caller is."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vbr.server.auth import EVERYONE, allow
from vbr.server.keys import Principal
from vbr.server.routes.common import AUTH_ERRORS
from vbr.server.schemas import WhoAmI

router = APIRouter(tags=["meta"])


@router.get("/me", response_model=WhoAmI, responses=AUTH_ERRORS, summary="The caller's key, role and tenant")
def whoami(who: Principal = Depends(allow(*EVERYONE))) -> WhoAmI:
    return WhoAmI(key_id=who.key_id, role=who.role, tenant=who.tenant, name=who.name)
