"""Tenant isolation: every campaign belongs to a tenant, and so does everything under it.

Another tenant's campaign, application or shortlist answers exactly like one that does not
exist (404 with the same message), so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from vbr.engine import Engine
from vbr.errors import NotFound
from vbr.server.keys import Principal


def campaign(engine: Engine, who: Principal, campaign_id: str) -> dict[str, Any]:
    try:
        row = engine.store.campaign(campaign_id)
    except NotFound:
        row = None
    if row is None or row["tenant"] != who.tenant:
        raise NotFound(f"no campaign '{campaign_id}'", hint="list your campaigns with GET /v1/campaigns")
    return row


def application(engine: Engine, who: Principal, application_id: str) -> dict[str, Any]:
    try:
        row = engine.store.application(application_id)
        campaign(engine, who, row["campaign_id"])
    except NotFound:
        raise NotFound(f"no application '{application_id}'") from None
    return row


def shortlist(engine: Engine, who: Principal, shortlist_id: int) -> dict[str, Any]:
    try:
        row = engine.store.shortlist(shortlist_id)
        campaign(engine, who, row["campaign_id"])
    except NotFound:
        raise NotFound(f"no shortlist {shortlist_id}") from None
    return row
