"""What the recruiter review page shows: answers by anonymous reference, scores with their
evidence, flags first, progress, and the rubber-stamp warning.

Nothing here reads equality data or candidates' names: the page is built from the redacted
answer text, the current score rows and the audit log. A score counts as *reviewed* when its
current row is a person's override or was accepted by a person (a ``score.accepted`` log entry
naming that row). Accepting writes that entry with who accepted, when (the service clock, so
tests can move time) and how fast the reviewer has been accepting.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from markupsafe import Markup, escape

from vbr.models import ReviewFlag, Rubric

ACCEPTED = "score.accepted"

FLAG_WORDS = {
    "too_short": "Answer too short to judge",
    "off_topic": "Answer may be off the question",
    "near_duplicate": "Answer very like another candidate's",
    "not_english": "Answer may not be in English",
    "low_confidence": "Scorer unsure",
    "empty": "No answer given",
    "too_long": "Answer unusually long",
    "copied_question": "Answer repeats the question",
    "scorer_error": "The scorer failed on this answer",
}


@dataclass(frozen=True)
class RubberStampPolicy:
    """Warn when the median gap between a reviewer's last ``window`` accepts is under ``min_seconds``.

    Reading an answer, its evidence and the rubric anchor takes more than a few seconds; a run
    of accepts faster than that is not meaningful human review (UK GDPR Art. 22)."""

    window: int = 5
    min_seconds: float = 10.0


def reference(app: Mapping[str, Any]) -> str:
    """How a candidate is shown: the application's anonymous reference (or its id)."""
    return str(app.get("reference") or app["id"])


# ---------------------------------------------------------------------------- evidence


def highlight(text: str, spans: Sequence[Mapping[str, Any]]) -> tuple[Markup, list[dict[str, Any]]]:
    """The redacted ``text`` as HTML with each evidence span in a numbered ``<mark>``.

    ``spans`` are dicts with start, end, label, polarity ('positive'/'negative'), negated.
    Spans of structured items (``key:``) and spans that overlap an earlier one, fall outside the
    text or do not match it are not highlighted; each span gets the number of the mark that
    shows it (or None)."""
    out: list[str] = []
    notes: list[dict[str, Any]] = []
    pos = 0
    n = 0
    for sp in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        start, end = sp["start"], sp["end"]
        if str(sp.get("indicator_id", "")).startswith("key:") or start < pos or end > len(text) or end <= start:
            continue
        n += 1
        negative = (sp["polarity"] == "negative") != bool(sp.get("negated"))
        kind = "neg" if negative else "pos"
        label = ("Not: " if sp.get("negated") else "") + sp["label"]
        out.append(str(escape(text[pos:start])))
        out.append(f'<mark class="ev ev-{kind}" id="{sp["anchor_id"]}-{n}" title="{escape(label)}">'
                   f'{escape(text[start:end])}<sup class="ev-n" aria-hidden="true">{n}</sup>'
                   f'<span class="visually-hidden"> (evidence {n}, {"against" if negative else "for"}: '
                   f'{escape(label)})</span></mark>')
        notes.append({"n": n, "kind": kind, "label": label, "text": text[start:end], "key": sp["key"]})
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out)), notes


# ---------------------------------------------------------------------------- the review model


def accepted_rows(log, campaign_id: str) -> dict[int, Any]:
    """Score row id -> its ``score.accepted`` entry, for the campaign (read from the campaign's
    entries only, through the log's campaign index)."""
    out: dict[int, Any] = {}
    for e in log.entries(action=ACCEPTED, campaign_id=campaign_id):
        if e.payload.get("campaign") == campaign_id and e.payload.get("score_id") is not None:
            out.setdefault(int(e.payload["score_id"]), e)
    return out


def is_reviewed(row: Mapping[str, Any], accepted: Mapping[int, Any]) -> bool:
    return row["source"] == "override" or row["id"] in accepted


def rubber_stamp(log, campaign_id: str, reviewer_key: str, policy: RubberStampPolicy,
                 extra: dt.datetime | None = None) -> dict[str, Any] | None:
    """The warning to show, or None: this reviewer's last accepts came too fast to be a review.

    Times are the ``at`` of the reviewer's ``score.accepted`` entries (the service clock);
    ``extra`` adds an accept about to be recorded."""
    times = [e.payload.get("at") for e in log.entries(action=ACCEPTED, campaign_id=campaign_id)
             if e.payload.get("campaign") == campaign_id and e.payload.get("reviewer_key") == reviewer_key]
    parsed = [dt.datetime.fromisoformat(t) for t in times if t] + ([extra] if extra is not None else [])
    return fast_accepts(parsed, policy)


def fast_accepts(times: Sequence[dt.datetime], policy: RubberStampPolicy) -> dict[str, Any] | None:
    last = sorted(times)[-policy.window:]
    if len(last) < policy.window:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(last, last[1:])]
    median = statistics.median(gaps)
    if median >= policy.min_seconds:
        return None
    return {"count": len(last), "median_seconds": round(median, 1), "min_seconds": policy.min_seconds}


def _levels(rubric: Rubric, value_id: str) -> dict[int, Any]:
    value = next((v for v in rubric.values if v.id == value_id), None)
    anchors = (value.anchors if value is not None and value.anchors else None) or rubric.scale.levels
    return {lvl.level: lvl for lvl in anchors}


def _choices(levels: Mapping[int, Any]) -> list[dict[str, Any]]:
    """The levels a person can give, for a change or mark form."""
    return [{"level": lvl, "label": levels[lvl].label, "anchor": levels[lvl].anchor} for lvl in sorted(levels)]


def _structured_text(raw: str | None) -> str | None:
    if not raw:
        return None
    data = json.loads(raw)
    parts = []
    if data.get("ranking"):
        parts.append("Ranking: " + ", ".join(f"{k} → {v if v is not None else '—'}" for k, v in data["ranking"].items()))
    if data.get("choices"):
        parts.append("Chosen: " + ", ".join(data["choices"]))
    if data.get("rating") is not None:
        parts.append(f"Rating: {data['rating']}")
    return "; ".join(parts) or None


def _stored_flag_dicts(raw: str | None) -> list[dict[str, Any]]:
    """A score row's flags as stored (JSON); most rows have none, so skip parsing those."""
    return [] if not raw or raw == "[]" else json.loads(raw)


def _stored_flags(raw: str | None) -> list[ReviewFlag]:
    return [ReviewFlag(**f) for f in _stored_flag_dicts(raw)]


def scorer_flags(engine, row: Mapping[str, Any]) -> list[Any]:
    """The flags of a score row (a current score, or a :meth:`~vbr.store.Store.score_states`
    row); for a person's override, the flags of the scorer's row it replaced (so a flagged score
    stays marked, and stays in place, after someone has dealt with it)."""
    if row["source"] != "override":
        return list(row["score"].flags) if "score" in row else _stored_flags(row["flags"])
    history = engine.store.score_history(row["application_id"], row["question_id"], row["value_id"])
    scored = [h for h in history if h["source"] != "override"]
    return _stored_flags(scored[-1]["flags"]) if scored else []


def _flag_codes(engine, row: Mapping[str, Any]) -> list[str]:
    """The codes of :func:`scorer_flags`, without building the flags (the list shows codes only)."""
    if row["source"] == "override" or "flags" not in row:
        return [f.code for f in scorer_flags(engine, row)]
    return [f["code"] for f in _stored_flag_dicts(row["flags"])]


UNSURE = FLAG_WORDS["low_confidence"]


def list_rank(flag_words: Iterable[str]) -> int:
    """Where a candidate stands in the review list: 0 when an answer itself needs a person (too
    short, off the question, very like another candidate's, ...), 1 when the scorer is only unsure
    of its reading, 2 when nothing is flagged. The low-confidence flag is by far the most common
    (every value an answer shows no indicator for), so "flagged first" alone would bury the answers
    that cannot be scored at all among those that can."""
    words = set(flag_words)
    return 2 if not words else 1 if words == {UNSURE} else 0


def unmarked(engine, campaign_id: str, states: Iterable[Mapping[str, Any]],
             application_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """:meth:`vbr.engine.Engine.to_mark` by application."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in engine.to_mark(campaign_id, application_id=application_id, current=states):
        out.setdefault(row["application_id"], []).append(row)
    return out


def candidate_summaries(engine, campaign_id: str, accepted: Mapping[int, Any],
                        states: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per application: reference, scores, flags, reviewed, values still to mark by a
    person; those needing a person first, then by reference.

    ``states`` are the campaign's :meth:`~vbr.store.Store.score_states`, when the caller has
    them already (a page shows the list and the progress from one read)."""
    apps = {a["id"]: a for a in engine.store.applications(campaign_id)}
    rows: dict[str, dict[str, Any]] = {
        a: {"id": a, "ref": reference(app), "scores": 0, "flagged": 0, "reviewed": 0, "flags": set(), "unmarked": 0}
        for a, app in apps.items()}
    states = engine.store.score_states(campaign_id) if states is None else states
    for app_id, answers in unmarked(engine, campaign_id, states).items():
        r = rows.get(app_id)
        if r is not None:
            r["unmarked"] += sum(len(a["values"]) for a in answers)
            r["flags"].update(FLAG_WORDS.get(f.code, f.code) for a in answers for f in a["flags"])
    for row in states:
        r = rows.get(row["application_id"])
        if r is None:
            continue
        r["scores"] += 1
        r["reviewed"] += is_reviewed(row, accepted)
        codes = _flag_codes(engine, row)
        if codes:
            r["flagged"] += 1
            r["flags"].update(FLAG_WORDS.get(code, code) for code in codes)
    # the answer itself is doubtful (empty, copied, near another's...) before the scorer is only unsure
    # of its reading, and only then the rest; stable while reviewing (an override keeps its flags)
    out = sorted(rows.values(), key=lambda r: (list_rank(r["flags"]), r["ref"]))
    for r in out:
        r["flags"] = sorted(r["flags"])
        r["done"] = r["scores"] > 0 and r["reviewed"] == r["scores"] and not r["unmarked"]
    return out


def _progress(done: int, total: int) -> dict[str, int]:
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}


def progress(engine, campaign_id: str, accepted: Mapping[int, Any],
             states: Sequence[Mapping[str, Any]] | None = None) -> dict[str, int]:
    """Reviewed of the campaign's current scores, from rows in hand (a page that lists them)."""
    rows = engine.store.score_states(campaign_id) if states is None else states
    return _progress(sum(is_reviewed(r, accepted) for r in rows), len(rows))


def counted_progress(engine, campaign_id: str) -> dict[str, int]:
    """The same as :func:`progress`, counted by the database (two numbers read, not every row and
    accept): for pages that show the progress of campaigns without listing their scores."""
    counts = engine.store.review_counts(campaign_id, accepted_action=ACCEPTED)
    return _progress(counts["reviewed"], counts["total"])


def candidate_view(engine, rubric: Rubric, campaign: Mapping[str, Any], application_id: str,
                   accepted: Mapping[int, Any]) -> dict[str, Any]:
    """The answers of one application with their scores, evidence and review state; flagged first."""
    app = engine.store.application(application_id)
    values = {v.id: v for v in rubric.values}
    indicators = {i.id: i for v in rubric.values for i in v.indicators}
    questions = {q.id: q for q in rubric.questions}
    responses = {r["question_id"]: r for r in engine.store.responses(campaign["id"], application_id=application_id)}
    by_question: dict[str, list[dict[str, Any]]] = {}
    current = engine.store.current_scores(campaign["id"], application_id=application_id)
    for row in current:
        by_question.setdefault(row["question_id"], []).append(row)
    to_mark = {a["question_id"]: a for a in
               unmarked(engine, campaign["id"], current, application_id).get(application_id, [])}
    answers = []
    for qid in campaign["question_ids"]:
        resp = responses.get(qid)
        rows = by_question.get(qid, [])
        text = (resp or {}).get("redacted_text") or ""
        spans, cards = [], []
        for row in rows:
            score = row["score"]
            key = f"{qid}/{score.value_id}"
            for e in score.evidence:
                ind = indicators.get(e.indicator_id)
                spans.append({"start": e.start, "end": e.end, "indicator_id": e.indicator_id,
                              "polarity": getattr(e.polarity, "value", e.polarity), "negated": e.negated,
                              "label": ind.text if ind else e.indicator_id, "key": key,
                              "anchor_id": f"ev-{_slug(qid)}"})
        html, notes = highlight(text, spans)
        flags_of = {row["id"]: scorer_flags(engine, row) for row in rows}
        for row in sorted(rows, key=lambda r: (not flags_of[r["id"]], r["value_id"])):
            score = row["score"]
            key = f"{qid}/{score.value_id}"
            levels = _levels(rubric, score.value_id)
            value = values.get(score.value_id)
            level = levels.get(score.level)
            override = row["source"] == "override"
            acc = accepted.get(row["id"])
            cards.append({
                "key": key, "dom_id": f"s-{_slug(qid)}-{_slug(score.value_id)}", "score_id": row["id"],
                "value_id": score.value_id, "value_name": value.name if value else score.value_id,
                "level": score.level, "level_label": level.label if level else "",
                "anchor": score.anchor or (level.anchor if level else ""),
                "confidence": round(score.confidence * 100), "scorer": scorer_words(score.scorer_id, score.scorer_version),
                "flags": [{"title": FLAG_WORDS.get(f.code, f.code), "reason": f.reason} for f in flags_of[row["id"]]],
                "evidence": [n for n in notes if n["key"] == key],
                "marking": [e.text for e in score.evidence if e.indicator_id.startswith("key:")],
                "override": override, "override_by": row["created_by"] if override else None,
                "override_reason": row["reason"] if override else None,
                "accepted_by": acc.actor if acc else None,
                "reviewed": override or acc is not None,
                "levels": _choices(levels),
            })
        if qid in to_mark:  # no score for these values: a person marks them
            why = [{"title": FLAG_WORDS.get(f.code, f.code), "reason": f.reason} for f in to_mark[qid]["flags"]]
            for vid in to_mark[qid]["values"]:
                levels = _levels(rubric, vid)
                value = values.get(vid)
                cards.append({
                    "key": f"{qid}/{vid}", "dom_id": f"s-{_slug(qid)}-{_slug(vid)}", "score_id": "",
                    "value_id": vid, "value_name": value.name if value else vid, "unmarked": True,
                    "level": None, "level_label": "", "anchor": "", "confidence": None, "flags": why,
                    "evidence": [], "marking": [], "override": False, "override_by": None,
                    "override_reason": None, "accepted_by": None, "reviewed": False,
                    "levels": _choices(levels),
                })
        answers.append({
            "question_id": qid, "dom_id": f"q-{_slug(qid)}",
            "question": questions[qid].text if qid in questions else qid,
            "html": html, "empty": not text.strip(),
            "structured": _structured_text((resp or {}).get("structured")),
            "cards": cards, "flagged": sum(1 for c in cards if c["flags"]),
        })
    answers.sort(key=lambda a: a["flagged"] == 0)
    done = sum(c["reviewed"] for a in answers for c in a["cards"])
    total = sum(len(a["cards"]) for a in answers)
    return {"id": app["id"], "ref": reference(app), "answers": answers, "done": done, "total": total}


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in s)


SCORERS = {"evidence": "the rubric's indicators found in the answer (evidence scorer)",
           "learned": "a model trained on your organisation's marked answers",
           "structured": "the item's answer key"}


def scorer_words(scorer_id: str, version: str) -> str:
    """What scored a row, in a recruiter's words; a trained model is named by its digest (as
    ``vbr scorer show`` prints it), so it can be traced to its card."""
    words = SCORERS.get(scorer_id, f"the '{scorer_id}' scorer")
    return f"{words} (model {version})" if scorer_id == "learned" else words


def current_row(engine, application_id: str, question_id: str, value_id: str) -> Mapping[str, Any] | None:
    history = engine.store.score_history(application_id, question_id, value_id)
    return history[-1] if history else None


def next_unreviewed(summaries: Iterable[Mapping[str, Any]], after: str | None = None) -> str | None:
    """The next application (in page order) with scores still to review, after ``after`` if given."""
    items = list(summaries)
    if after is not None:
        ids = [s["id"] for s in items]
        if after in ids:
            i = ids.index(after)
            items = items[i + 1:] + items[:i]
    return next((s["id"] for s in items if (s["scores"] or s.get("unmarked")) and not s["done"]), None)
