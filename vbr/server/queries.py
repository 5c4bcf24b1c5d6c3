"""Paged reads the service needs that the store answers only whole (read-only SQL).

``current_scores`` pages in SQL, so a page of a large campaign costs a page, not the campaign.
It returns the same rows as :meth:`vbr.store.Store.current_scores` (the latest score row per
application, question and value), in the same order.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, text

from vbr.store.db import one_statement
from vbr.store.records import latest_scores_sql


_CURRENT_SCORES = {one: text(latest_scores_sql("s.*", one) + " LIMIT :limit OFFSET :offset") for one in (False, True)}


def current_scores(engine: Engine, campaign_id: str, *, application_id: str | None = None,
                   offset: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], bool]:
    """One page of current scores and whether there are more."""
    sql = _CURRENT_SCORES[application_id is not None]
    with one_statement(engine) as conn:
        rows = conn.execute(sql, {"c": campaign_id, "a": application_id, "limit": limit + 1,
                                  "offset": offset}).mappings().all()
    out = [{"score_id": r["id"], "application_id": r["application_id"], "question_id": r["question_id"],
            "value_id": r["value_id"], "level": r["level"], "confidence": r["confidence"],
            "evidence": json.loads(r["evidence"]), "anchor": r["anchor"], "scorer_id": r["scorer_id"],
            "scorer_version": r["scorer_version"], "rubric_ref": r["rubric_ref"], "flags": json.loads(r["flags"]),
            "source": r["source"], "created_by": r["created_by"], "reason": r["reason"],
            "created_at": str(r["created_at"])} for r in rows[:limit]]
    return out, len(rows) > limit
