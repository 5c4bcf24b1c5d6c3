"""WRES indicator 2 extract: White / BME / unknown counts for shortlisted and appointed.

NHS trusts publish, every year, the relative likelihood of White applicants being appointed
from shortlisting compared with BME applicants. This extract gives the counts behind it, for one
or more campaigns (a year's vacancies), as CSV::

    group,shortlisted,appointed,appointment_rate
    White,120,30,0.25
    BME,80,12,0.15
    Unknown,10,2,0.2
    Total,210,44,0.209524

``shortlisted`` is every application on a *released* shortlist of the campaigns (or a list of
ids given instead); ``appointed`` is a list of application ids (the ATS knows who was
appointed). Every appointed id must have been shortlisted: an appointment from outside the
shortlist means the figures do not reconcile, and the extract refuses rather than publish them.

Groups come from the built-in ``wres`` grouping (White: A, B, C; BME: D-S). ``Z`` (not stated),
``99`` (not known), a blank, a missing record, or a code that is not an NHS code are counted as
*Unknown*, never guessed; codes that are not NHS codes at all are reported by name. The relative
likelihood and its interval come from :func:`vbr.fairness.regimes.wres.relative_likelihood`.

Equality data is read through :meth:`EqualityStore.records_for`, which records the read
(purpose "WRES indicator 2 extract", and who).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, text

from vbr.errors import ValidationFailed
from vbr.formats.csvio import write_csv

GROUPS = ("White", "BME", "Unknown")


def released_shortlisted(store, campaign_ids: Sequence[str]) -> list[str]:
    """Application ids on released shortlists of the campaigns (each id once, first seen first)."""
    q = text("SELECT s.application_ids FROM shortlists s WHERE s.campaign_id IN :c AND s.stage = 'shortlisted'"
             " AND EXISTS (SELECT 1 FROM gate_decisions g WHERE g.shortlist_id = s.id AND g.released = 1)"
             " ORDER BY s.id").bindparams(bindparam("c", expanding=True))
    out: dict[str, None] = {}
    with store.engine.connect() as conn:
        for (ids,) in conn.execute(q, {"c": list(campaign_ids)}):
            out.update(dict.fromkeys(json.loads(ids)))
    return list(out)


def wres_counts(engine, campaign_ids: Sequence[str], appointed: Iterable[str], *, actor: str,
                shortlisted: Iterable[str] | None = None) -> dict[str, Any]:
    """The extract's figures: counts per group, unknown codes, and the relative likelihood."""
    from vbr.fairness.config import AuditConfig
    from vbr.fairness.groupings import UNKNOWN, builtin_grouping, nhs_categories
    from vbr.fairness.regimes.wres import relative_likelihood

    if not campaign_ids:
        raise ValidationFailed("name at least one campaign", field="campaign")
    applicants: set[str] = set()
    for c in campaign_ids:
        engine.store.campaign(c)  # NotFound names an unknown campaign
        applicants.update(engine.store.application_ids(c))
    short = list(dict.fromkeys(shortlisted)) if shortlisted is not None else released_shortlisted(engine.store,
                                                                                                  campaign_ids)
    appt = list(dict.fromkeys(a.strip() for a in appointed if a.strip()))
    outside = [a for a in short if a not in applicants]
    if outside:
        raise ValidationFailed(f"{len(outside)} shortlisted id(s) are not applications of these campaigns: "
                               f"{outside[:5]}", field="shortlisted", hint="check the campaigns and the id list")
    not_short = [a for a in appt if a not in set(short)]
    if not_short:
        raise ValidationFailed(
            f"{len(not_short)} appointed id(s) were never on a released shortlist: {not_short[:5]}",
            field="appointed", hint="indicator 2 counts appointments from shortlisting; correct the appointed list "
                                    "or release the shortlist they came from")
    if not short:
        raise ValidationFailed("no one was shortlisted in these campaigns (no released shortlist)",
                               field="shortlisted", hint="release a shortlist first, or pass --shortlisted FILE")
    records = engine.equality.records_for(short, purpose="WRES indicator 2 extract", actor=actor)
    grouping = builtin_grouping("wres")
    names, _ = nhs_categories()
    counts = {g: [0, 0] for g in GROUPS}
    unknown_codes: Counter[str] = Counter()
    not_nhs: Counter[str] = Counter()
    appointed_set = set(appt)
    for a in short:
        code = records[a].ethnic_code if a in records else ""
        group = grouping.group_of(code)
        group = "Unknown" if group == UNKNOWN else group
        counts[group][0] += 1
        counts[group][1] += a in appointed_set
        if group == "Unknown":
            unknown_codes[code or "(none)"] += 1
            if code and code not in names:
                not_nhs[code] += 1
    rl = relative_likelihood(counts["White"][1], counts["White"][0], counts["BME"][1], counts["BME"][0],
                             AuditConfig())
    rl = {k: (v.value if hasattr(v, "value") else v) for k, v in rl.items() if k != "why_missing"}
    return {"campaigns": list(campaign_ids), "counts": {g: {"shortlisted": s, "appointed": p} for g, (s, p) in counts.items()},
            "unknown_codes": dict(unknown_codes), "codes_not_in_nhs_list": dict(not_nhs),
            "relative_likelihood": rl}


def wres_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    tot_s = tot_a = 0
    for g in GROUPS:
        s, a = figures["counts"][g]["shortlisted"], figures["counts"][g]["appointed"]
        tot_s, tot_a = tot_s + s, tot_a + a
        rows.append({"group": g, "shortlisted": s, "appointed": a, "appointment_rate": round(a / s, 6) if s else ""})
    rows.append({"group": "Total", "shortlisted": tot_s, "appointed": tot_a,
                 "appointment_rate": round(tot_a / tot_s, 6) if tot_s else ""})
    return rows


class WresIndicator2Exporter:
    id = "wres-indicator-2"
    kind = "wres"
    title = "WRES indicator 2 counts (White/BME/Unknown, shortlisted and appointed), CSV"
    suffixes = (".csv",)

    def write(self, rows: Iterable[dict[str, Any]], path: str | Path) -> int:
        cols = ("group", "shortlisted", "appointed", "appointment_rate")
        return write_csv(path, cols, ([r[c] for c in cols] for r in rows))
