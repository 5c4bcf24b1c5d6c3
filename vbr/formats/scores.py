"""Scores and evidence out: one row per current score (after overrides), CSV or JSON lines.

Columns: ``application_id, question_id, value_id, level, confidence, source`` (``scorer`` or
``override``), ``scorer`` (id@version), ``rubric, anchor, needs_review, flags, evidence``
(``+indicator "matched words" @start-end`` entries, ``-`` for negative indicators, ``(negated)``
when the words were negated; separated by `` | ``), ``evidence_count, scored_by, reason,
scored_at``. Every level can be traced to the words behind it; overrides carry who and why.

CSV cells are protected against spreadsheet formula injection (evidence is candidates' words).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from vbr.formats.csvio import write_csv

COLUMNS = ("application_id", "question_id", "value_id", "level", "confidence", "source", "scorer", "rubric",
           "anchor", "needs_review", "flags", "evidence", "evidence_count", "scored_by", "reason", "scored_at")


def score_rows(engine, campaign_id: str) -> Iterator[dict[str, Any]]:
    """Current scores of ``campaign_id`` as plain dicts (evidence and flags as lists)."""
    engine.store.campaign(campaign_id)  # NotFound for an unknown campaign
    for row in engine.store.current_scores(campaign_id):
        evidence = json.loads(row["evidence"])
        flags = json.loads(row["flags"])
        yield {
            "application_id": row["application_id"], "question_id": row["question_id"],
            "value_id": row["value_id"], "level": row["level"], "confidence": round(row["confidence"], 4),
            "source": row["source"], "scorer": f"{row['scorer_id']}@{row['scorer_version']}",
            "rubric": row["rubric_ref"], "anchor": row["anchor"], "needs_review": bool(flags),
            "flags": flags, "evidence": evidence, "scored_by": row["created_by"], "reason": row["reason"],
            "scored_at": row["created_at"],
        }


def _evidence_text(evidence: list[dict[str, Any]]) -> str:
    parts = []
    for e in evidence:
        sign = "+" if e.get("polarity") == "positive" else "-"
        neg = " (negated)" if e.get("negated") else ""
        parts.append(f"{sign}{e['indicator_id']} \"{e['text']}\" @{e['start']}-{e['end']}{neg}")
    return " | ".join(parts)


class ScoresCsvExporter:
    id = "scores-csv"
    kind = "scores"
    title = "Current scores with evidence (CSV, one row per application x question x value)"
    suffixes = (".csv",)

    def write(self, rows: Iterable[dict[str, Any]], path: str | Path) -> int:
        def lines():
            for r in rows:
                yield [r["application_id"], r["question_id"], r["value_id"], r["level"], r["confidence"],
                       r["source"], r["scorer"], r["rubric"], r["anchor"] or "", "yes" if r["needs_review"] else "no",
                       "; ".join(f"{f['code']}: {f['reason']}" for f in r["flags"]), _evidence_text(r["evidence"]),
                       len(r["evidence"]), r["scored_by"], r["reason"] or "", r["scored_at"]]
        return write_csv(path, COLUMNS, lines())
