"""What the equality officer's dashboard shows, and the publishable summary with suppression.

Aggregates only: the gate's stored decision and figures (``ShortlistGate.status``), the funnel,
impact ratios per group, and the audit log about the campaign. Nothing here reads answers.

Publishable summary: people reaching each stage by group (and unknown), the selection rate and
the impact ratio. Counts under 5 are suppressed (primary suppression); then, because every
stage's total is published, a column with exactly one suppressed cell has its next smallest cell
suppressed too (secondary suppression), so no suppressed count can be recovered by subtraction.
A rate or ratio is withheld whenever a count it is computed from is.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Mapping, Sequence

from vbr.fairness.report import DECISION_WORDS, view as report_view

SUPPRESSED = "[c]"
THRESHOLD = 5
UNKNOWN = "Unknown"


def latest_shortlist(engine, campaign_id: str, shortlist_id: int | None = None) -> dict[str, Any] | None:
    """The requested shortlist (of this campaign) or the newest one that has a decision, or None."""
    shortlists = engine.store.shortlists(campaign_id)
    if shortlist_id is not None:
        return next((s for s in shortlists if s["id"] == shortlist_id), None)
    for s in reversed(shortlists):
        if engine.store.decisions(s["id"]):
            return s
    return None


def dashboard_view(engine, campaign: Mapping[str, Any], shortlist: Mapping[str, Any] | None) -> dict[str, Any]:
    shortlists = [{"id": s["id"], "n": len(s["application_ids"]), "at": s["created_at"][:16].replace("T", " ")}
                  for s in engine.store.shortlists(campaign["id"])]
    out: dict[str, Any] = {"shortlists": shortlists, "status": None, "audit": None}
    if shortlist is None:
        return out
    status = engine.status(shortlist["id"])
    out["status"] = status
    figures = status.get("figures") or {}
    audit = figures.get("audit")
    threshold = ((figures.get("config") or {}).get("audit") or {}).get("ratio_threshold", 0.80)
    if status["decision"] is None:
        return out
    out["decision_words"] = DECISION_WORDS.get(status["decision"], "")
    out["held"] = not status["released"] and status["decision"] != "PASS"
    out["blocked_data"] = bool(figures.get("reconciliation") or figures.get("audit_error"))
    out["min_justification"] = (figures.get("config") or {}).get("min_justification_chars", 20)
    out["decision_id"] = max((h["id"] for h in status["history"]), default=0)
    out["released_row"] = next((h for h in status["history"] if h["released"]), None)
    if audit:
        out["audit"] = report_view(audit, decision=status["decision"], reasons=status["reasons"],
                                   threshold=threshold)
        out["summary"] = publishable_summary(audit)
    out["figures"] = {k: figures.get(k) for k in ("applied", "shortlisted", "regime", "grouping")}
    out["equality_records"] = figures.get("equality_records")
    out["reconciliation"] = figures.get("reconciliation") or []
    out["audit_error"] = figures.get("audit_error")
    return out


# ---------------------------------------------------------------------------- the campaign's log


ACTION_WORDS = {
    "campaign.created": "Campaign created", "scores.added": "Scores added", "score.accepted": "Score accepted",
    "score.overridden": "Score changed", "score.marked": "Score given by a person (scorer gave none)",
    "shortlist.proposed": "Shortlist proposed",
    "shortlist.review": "Held for review", "shortlist.block": "Held (blocked)", "shortlist.pass": "Passed",
    "shortlist.released": "Shortlist released", "pages.refused": "Access refused",
    "pages.summary_exported": "Summary exported", "gate.hook_failed": "Plugin failed after a decision",
}


def campaign_log(engine, campaign_id: str, shortlist_ids: Sequence[int], limit: int = 200) -> list[dict[str, Any]]:
    """Log entries about this campaign, its shortlists and its scores, newest first (figures summarised).

    Reads only the campaign's own entries (the log's campaign index), newest first, a batch at a
    time, until ``limit`` are found. An entry of a score is indexed by its application's campaign,
    so every ``score:`` entry read here is about one of this campaign's applications."""
    exact = {f"campaign:{campaign_id}"} | {f"shortlist:{s}" for s in shortlist_ids}
    rows: list[dict[str, Any]] = []
    before = None
    batch_size = max(limit, 50)
    while len(rows) < limit:
        batch = list(engine.store.log.entries(campaign_id=campaign_id, before=before, newest_first=True,
                                              limit=batch_size))
        for e in batch:
            if e.subject in exact or e.subject.startswith("score:"):
                rows.append(_log_row(e))
                if len(rows) == limit:
                    break
        if len(batch) < batch_size:
            break
        before = batch[-1].seq
    return rows


def _log_row(e) -> dict[str, Any]:
    payload = {k: v for k, v in e.payload.items() if k not in ("figures", "reasons")}
    return {"seq": e.seq, "ts": e.ts[:19].replace("T", " "), "actor": e.actor, "action": e.action,
            "words": ACTION_WORDS.get(e.action, e.action), "subject": e.subject, "reason": e.reason,
            "hash": e.hash[:12],
            "details": ", ".join(f"{k}: {v}" for k, v in sorted(payload.items())
                                 if k not in ("campaign", "score_id", "reviewer_key") and v is not None)}


# ---------------------------------------------------------------------------- suppression


def stage_counts(audit: Mapping[str, Any]) -> tuple[list[str], dict[str, dict[str, int]], dict[str, str]]:
    """Stages, group -> stage -> people (summed over strata), and group labels, from the audit counts."""
    counts = audit.get("counts") or {}
    stages = list(counts.get("stages") or [])
    table: dict[str, dict[str, int]] = {}
    for stratum in counts.get("reached") or []:
        for group, per_stage in stratum.items():
            row = table.setdefault(group, {s: 0 for s in stages})
            for s, n in zip(stages, per_stage):
                row[s] += int(n or 0)
    labels = {UNKNOWN: "Unknown / not stated"}
    results = [r for r in audit.get("results") or [] if isinstance(r, Mapping)]
    first_table = results[0].get("table") if results else None
    for res in results:
        if res.get("table") != first_table:  # e.g. LL144's sex table: its group ids are not these groups
            continue
        for g in res.get("groups") or []:
            labels.setdefault(str(g.get("group")), str(g.get("label") or g.get("group")))
    table = {g: row for g, row in table.items() if any(row.values())}  # groups nobody belongs to are left out
    return stages, table, labels


def suppress(table: Mapping[str, Mapping[str, int]], stages: Sequence[str],
             threshold: int = THRESHOLD) -> tuple[set[tuple[str, str]], dict[str, bool]]:
    """Cells to suppress: ``(group, stage)`` under ``threshold``, then complementary cells.

    Each stage's column total is published. A column with exactly one suppressed cell gets its
    smallest remaining cell suppressed as well (ties: by group name); a column where nothing
    else is left to suppress has its total suppressed. Returns the cells and, per stage, whether
    the total is suppressed."""
    hidden = {(g, s) for g, row in table.items() for s in stages if row[s] < threshold}
    total_hidden = {s: sum(row[s] for row in table.values()) < threshold for s in stages}
    changed = True
    while changed:
        changed = False
        for s in stages:
            if total_hidden[s]:
                continue
            in_col = [g for g in table if (g, s) in hidden]
            if len(in_col) != 1:
                continue
            others = sorted((table[g][s], g) for g in table if (g, s) not in hidden)
            if others:
                hidden.add((others[0][1], s))
            else:
                total_hidden[s] = True
            changed = True
    return hidden, total_hidden


def publishable_summary(audit: Mapping[str, Any], threshold: int = THRESHOLD) -> dict[str, Any]:
    stages, table, labels = stage_counts(audit)
    hidden, total_hidden = suppress(table, stages, threshold)
    reference = next((str(r.get("reference")) for r in audit.get("results") or [] if r.get("reference")), None)
    rows = []
    order = sorted(table, key=lambda g: (g == UNKNOWN, labels.get(g, g)))
    for g in order:
        cells = [SUPPRESSED if (g, s) in hidden else str(table[g][s]) for s in stages]
        rates, ratios = [], []
        for i in range(1, len(stages)):
            prev, cur = stages[i - 1], stages[i]
            ok = (g, prev) not in hidden and (g, cur) not in hidden and table[g][prev] > 0
            rate = table[g][cur] / table[g][prev] if ok else None
            rates.append(f"{100 * rate:.1f}%" if rate is not None else SUPPRESSED)
            ref_ok = (reference in table and (reference, prev) not in hidden and (reference, cur) not in hidden
                      and table[reference][prev] > 0 and table[reference][cur] > 0)
            if g == UNKNOWN:
                ratios.append("not compared")
            elif rate is not None and ref_ok:
                ratios.append(f"{rate / (table[reference][cur] / table[reference][prev]):.2f}")
            else:
                ratios.append(SUPPRESSED)
        rows.append({"group": labels.get(g, g), "cells": cells, "rates": rates, "ratios": ratios,
                     "is_reference": g == reference})
    totals = [SUPPRESSED if total_hidden[s] else str(sum(r[s] for r in table.values())) for s in stages]
    transitions = [f"{stages[i - 1]} → {stages[i]}" for i in range(1, len(stages))]
    return {"stages": stages, "transitions": transitions, "rows": rows, "totals": totals,
            "suppressed": len(hidden), "threshold": threshold}


def summary_csv(summary: Mapping[str, Any], *, campaign_id: str, decision: str | None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    header = ["group", *[f"people: {s}" for s in summary["stages"]]]
    for t in summary["transitions"]:
        header += [f"selection rate: {t}", f"impact ratio: {t}"]
    w.writerow(header)
    for r in summary["rows"]:
        line = [r["group"] + (" (comparison)" if r["is_reference"] else ""), *r["cells"]]
        for rate, ratio in zip(r["rates"], r["ratios"]):
            line += [rate, ratio]
        w.writerow(line)
    w.writerow(["Total", *summary["totals"], *([""] * (2 * len(summary["transitions"])))])
    w.writerow([])
    w.writerow([f"Campaign {campaign_id}; gate decision {decision or 'none'}. {SUPPRESSED} = suppressed: counts "
                f"under {summary['threshold']}, and further cells so that none can be worked out from the totals. "
                "Rates and ratios are withheld where a count they use is suppressed."])
    return buf.getvalue()
