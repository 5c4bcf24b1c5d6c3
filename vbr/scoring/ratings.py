"""Human ratings: read assessors' marks and compare the scorer with them.

Assessors' ratings arrive as a CSV (one row per rater, answer and value; any number of raters).
The comparison follows domain.md section 3: model-human QWK against human-human QWK and the
standardised mean difference, with a verdict on whether the scorer may be used unsupervised,
with review, or not at all; raters' own agreement is reported as ICC(2,1) and Krippendorff's alpha.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vbr.errors import ValidationFailed

COLUMNS = ("application_id", "question_id", "value_id", "rater", "level")


def read_ratings_csv(path: str | Path, *, scale: tuple[int, int], known_answers: set[tuple[str, str]],
                     value_ids: set[str]) -> list[tuple[str, str, str, str, int]]:
    """Rows ``(application, question, value, rater, level)``; the first bad row is an error naming it."""
    from vbr.formats.csvio import norm, read_rows

    header, rows = read_rows(path, what="ratings")
    names = [norm(h) for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValidationFailed(f"no column named {missing[0]!r}", file=str(path), row=1, field=missing[0],
                               hint=f"a ratings file has the columns {', '.join(COLUMNS)}")
    idx = {c: names.index(c) for c in COLUMNS}
    out, seen = [], set()
    for rowno, fields in rows:
        fields = fields + [""] * (len(header) - len(fields))
        a, q, v, r, raw = (fields[idx[c]].strip() for c in COLUMNS)
        if (a, q) not in known_answers:
            raise ValidationFailed(f"no stored answer for application '{a}' and question '{q}'", file=str(path),
                                   row=rowno, field="application_id", hint="import the applications first")
        if v not in value_ids:
            raise ValidationFailed(f"unknown value '{v}'", file=str(path), row=rowno, field="value_id",
                                   hint=f"the rubric's values are {', '.join(sorted(value_ids))}")
        if not r:
            raise ValidationFailed("the rater is blank", file=str(path), row=rowno, field="rater",
                                   hint="name or code each assessor, so their agreement can be measured")
        try:
            level = int(raw)
        except ValueError:
            raise ValidationFailed(f"level {raw!r} is not a whole number", file=str(path), row=rowno,
                                   field="level") from None
        if not scale[0] <= level <= scale[1]:
            raise ValidationFailed(f"level {level} is outside the rubric scale {scale[0]}-{scale[1]}",
                                   file=str(path), row=rowno, field="level")
        if (a, q, v, r) in seen:
            raise ValidationFailed(f"rater '{r}' rates application '{a}', question '{q}', value '{v}' twice",
                                   file=str(path), row=rowno, field="rater")
        seen.add((a, q, v, r))
        out.append((a, q, v, r, level))
    if not out:
        raise ValidationFailed("the ratings file has no rows", file=str(path))
    return out


def compare_with_raters(model_scores: Sequence[dict[str, Any]], ratings: Sequence[dict[str, Any]],
                        *, n_boot: int = 1000) -> dict[str, Any]:
    """Scorer vs human raters on the answers both marked; JSON-safe figures and a verdict.

    ``model_scores``: rows with application_id, question_id, value_id, level (the scorer's own
    score, not an override). ``ratings``: rows with the same keys plus rater.
    """
    from vbr.scoring.agreement import icc, krippendorff_alpha, validation_report

    by_item: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for r in ratings:
        by_item[(r["application_id"], r["question_id"], r["value_id"])][r["rater"]] = int(r["level"])
    model = {(s["application_id"], s["question_id"], s["value_id"]): int(s["level"]) for s in model_scores}
    items = [k for k in by_item if k in model]
    if not items:
        raise ValidationFailed("no answer has both a scorer's score and a human rating",
                               hint="score the campaign and import ratings for the same answers")
    raters = sorted({r for k in items for r in by_item[k]})
    first = [by_item[k][sorted(by_item[k])[0]] for k in items]
    second_items = [k for k in items if len(by_item[k]) >= 2]
    report = validation_report([model[k] for k in items], first, n_boot=n_boot) if len(second_items) < 2 else \
        validation_report([model[k] for k in second_items], [by_item[k][sorted(by_item[k])[0]] for k in second_items],
                          [by_item[k][sorted(by_item[k])[1]] for k in second_items], n_boot=n_boot)
    out: dict[str, Any] = {"items": len(items), "raters": raters, "double_marked": len(second_items),
                           "report": report.model_dump(mode="json")}
    if len(raters) >= 2 and len(second_items) >= 2:
        table = np.array([[by_item[k].get(r, np.nan) for r in raters] for k in items], dtype=float)
        alpha = krippendorff_alpha(table, metric="ordinal", n_boot=n_boot)
        out["raters_krippendorff_alpha"] = alpha.model_dump(mode="json")
        complete = table[~np.isnan(table).any(axis=1)]
        if complete.shape[0] >= 3:
            result = icc(complete)
            out["raters_icc"] = result.model_dump(mode="json")
    return out
