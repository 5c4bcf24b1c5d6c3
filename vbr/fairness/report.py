"""Render an audit for an equality officer: a terminal table and a self-contained HTML page.

Both renderers work on the audit's JSON form (``AuditResult.to_dict()``, also what the gate
stores with each decision), so a stored decision can be re-rendered later exactly as it was
decided. The HTML page has no network assets: styles are inline and the impact-ratio chart is
an inline SVG with the four-fifths line drawn on it.

Missing figures are shown as an em dash with the reason the audit gave (``why_missing``),
never as NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from importlib import resources
from typing import Any, Mapping, Sequence

from markupsafe import escape

DECISION_WORDS = {
    "PASS": "no group shows adverse impact on the evidence available, and the data reconcile: the shortlist may be released",
    "REVIEW": "held for review: an equality officer must look at the figures and may release it with a written justification",
    "BLOCK": "held: significant adverse impact or figures that do not reconcile; investigate before any release",
}
DASH = "—"


# ---------------------------------------------------------------------------- formatting


def fmt_rate(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}%"


def fmt_ratio(x: float | None) -> str:
    return DASH if x is None else f"{x:.3f}"


def fmt_p(x: float | None) -> str:
    if x is None:
        return DASH
    return "<0.0001" if x < 0.0001 else f"{x:.4f}"


def fmt_ci(ci: Sequence[float | None] | None, fmt) -> str:
    if not ci:
        return ""
    lo, hi = (list(ci) + [None, None])[:2]
    return f" [{fmt(lo) if lo is not None else DASH}, {fmt(hi) if hi is not None else '∞'}]"


def _missing(g: Mapping[str, Any], key: str) -> str:
    """A dash; the reason a figure is missing is in the verdict words next to it."""
    return DASH


# ---------------------------------------------------------------------------- the view


def _parts(audit: Mapping[str, Any]) -> dict[str, Any]:
    """Stage results, findings, notes and titles from ``AuditResult.to_dict()``."""
    audit = audit or {}
    regime = audit.get("regime")
    grouping = audit.get("grouping")
    return {
        "stages": [s for s in audit.get("results") or [] if isinstance(s, Mapping)],
        "findings": [f for f in audit.get("findings") or [] if isinstance(f, Mapping)],
        "notes": list(audit.get("notes") or []),
        "title": regime.get("title") or regime.get("id") if isinstance(regime, Mapping) else (regime or ""),
        "grouping": (grouping.get("title") or grouping.get("id")) if isinstance(grouping, Mapping) else grouping,
        "fairlearn": audit.get("fairlearn_note"),
        "wres": _wres_rows(audit.get("tables") or {}),
        "scores": _score_rows(audit.get("scores")),
        "min_group_size": (audit.get("config") or {}).get("min_group_size"),
        "funnel": funnel(audit),
    }


def funnel(audit: Mapping[str, Any]) -> list[dict[str, Any]]:
    """People reaching each stage (all strata, every group and unknowns), with the declaration rate."""
    counts = (audit or {}).get("counts") or {}
    stages = list(counts.get("stages") or [])
    totals = [0] * len(stages)
    unknown = [0] * len(stages)
    for stratum in counts.get("reached") or []:
        for group, per_stage in stratum.items():
            for i, n in enumerate(per_stage[:len(stages)]):
                totals[i] += int(n or 0)
                if group == "Unknown":
                    unknown[i] += int(n or 0)
    decl = ((audit or {}).get("data_quality") or {}).get("declaration_rate") or {}
    out = []
    for i, name in enumerate(stages):
        out.append({"stage": name, "n": totals[i], "unknown": unknown[i], "declaration": fmt_rate(decl.get(name)),
                    "of_previous": fmt_rate(totals[i] / totals[i - 1]) if i and totals[i - 1] else None,
                    "percent": round(100 * totals[i] / totals[0]) if totals and totals[0] else 0})
    return out


def _num(x: Any, digits: int = 2) -> str:
    return DASH if x is None else f"{x:.{digits}f}"


def _score_rows(scores: Any) -> dict[str, Any] | None:
    """Per-group score distributions and standardised mean differences, groups with scores only."""
    if not isinstance(scores, Mapping) or not scores.get("groups"):
        return None
    rows = []
    for g in scores["groups"]:
        if not g.get("n") and not g.get("unscored"):
            continue
        rows.append({
            "label": str(g.get("label") or g.get("group")), "n": g.get("n", 0), "unscored": g.get("unscored", 0),
            "mean": _num(g.get("mean")), "sd": _num(g.get("sd")),
            "median": _num(g.get("median")), "iqr": f"{_num(g.get('q1'))}–{_num(g.get('q3'))}" if g.get("q1") is not None else DASH,
            "scoring_rate": fmt_rate(g.get("scoring_rate")), "smd": _num(g.get("smd")),
            "is_reference": g.get("group") == scores.get("reference"),
        })
    return {"rows": rows, "median": _num(scores.get("median")),
            "comparison": scores.get("comparison") or "", "reference": scores.get("reference")}


def _wres_rows(tables: Mapping[str, Any]) -> list[dict[str, str]]:
    """WRES indicator 2 relative likelihood per stage transition, if the regime produced it."""
    rows = tables.get("relative_likelihood_by_stage") or ([tables["indicator_2"]] if tables.get("indicator_2") else [])
    out = []
    for r in rows:
        if not isinstance(r, Mapping):
            continue
        rl = r.get("relative_likelihood")
        band = r.get("band") or (0.8, 1.25)
        out.append({
            "transition": f"{r.get('from_stage', '?')} → {r.get('stage', '?')}",
            "white": f"{r.get('white_selected', 0)} of {r.get('white_base', 0)} ({fmt_rate(r.get('white_rate'))})",
            "bme": f"{r.get('bme_selected', 0)} of {r.get('bme_base', 0)} ({fmt_rate(r.get('bme_rate'))})",
            "rl": (fmt_ratio(rl) + fmt_ci((r.get("ci_low"), r.get("ci_high")), fmt_ratio)) if rl is not None else DASH,
            "band": f"{band[0]:.2f}–{band[1]:.2f}",
            "verdict": r.get("verdict_text") or str(r.get("verdict", "")).replace("_", " "),
            "outcome": _value(r.get("outcome")),
        })
    return out


def group_view(g: Mapping[str, Any]) -> dict[str, Any]:
    rate = g.get("rate")
    ratio = g.get("impact_ratio")
    return {
        "label": str(g.get("label") or g.get("group")),
        "group": str(g.get("group")),
        "applicants": g.get("applicants", 0),
        "selected": g.get("selected", 0),
        "rate": (fmt_rate(rate) + fmt_ci(g.get("rate_ci"), fmt_rate)) if rate is not None else _missing(g, "rate"),
        "ratio": (fmt_ratio(ratio) + fmt_ci(g.get("ratio_ci"), fmt_ratio)) if ratio is not None
        else _missing(g, "impact_ratio"),
        "rate_main": fmt_rate(rate) if rate is not None else DASH,
        "rate_ci": fmt_ci(g.get("rate_ci"), fmt_rate).strip() if rate is not None else "",
        "ratio_main": fmt_ratio(ratio) if ratio is not None else DASH,
        "ratio_ci_text": fmt_ci(g.get("ratio_ci"), fmt_ratio).strip() if ratio is not None else "",
        "ratio_value": ratio,
        "ratio_lo": (g.get("ratio_ci") or [None, None])[0],
        "ratio_hi": (list(g.get("ratio_ci") or [None, None]) + [None])[1],
        "rate_value": rate,
        "p": fmt_p(g.get("p_value")) if g.get("p_value") is not None else DASH,
        "p_adj": fmt_p(g.get("p_adjusted")) if g.get("p_adjusted") is not None else DASH,
        "detectable": fmt_ratio(g.get("detectable_ratio")) if g.get("detectable_ratio") is not None else DASH,
        "shortfall": str(g["shortfall"]) if g.get("shortfall") else "",
        "verdict": _verdict(g),
        "outcome": _value(g.get("outcome")),
        "is_reference": bool(g.get("is_reference")),
        "flip_flop": g.get("flip_flop"),
    }


def _verdict(g: Mapping[str, Any]) -> str:
    words = g.get("verdict_text") or str(g.get("verdict", "")).replace("_", " ")
    if g.get("excluded") and g["excluded"] not in words:
        words = f"{words} ({g['excluded']})" if words else str(g["excluded"])
    return words


def _value(x: Any) -> str:
    return str(getattr(x, "value", x) or "")


def stage_view(st: Mapping[str, Any], *, threshold: float, min_group_size: int | None = None) -> dict[str, Any]:
    everyone = [group_view(g) for g in st.get("groups", [])]
    groups = [g for g in everyone if g["applicants"] or g["is_reference"]]
    empty = [g["label"] for g in everyone if not (g["applicants"] or g["is_reference"])]
    decl = st.get("declaration_rate")
    has_unknown = any(g["group"] == "Unknown" for g in groups)
    method = st.get("method") or {}
    return {
        "heading": f"{st.get('table', 'ethnicity')}: {st.get('from_stage', 'applied')} → {st.get('stage', 'selected')}",
        "table": st.get("table", "ethnicity"),
        "from_stage": st.get("from_stage", "applied"),
        "stage": st.get("stage", "selected"),
        "total": st.get("total", sum(g["applicants"] for g in groups)),
        "unknown": st.get("unknown", 0),
        "declaration": fmt_rate(decl),
        "reference": next((g["label"] for g in everyone if g["group"] == st.get("reference")), st.get("reference")),
        "reference_rate": fmt_rate(st.get("reference_rate")) if st.get("reference_rate") is not None else None,
        "groups": groups,
        "empty": empty,
        "reasons": list(st.get("reasons") or []),
        "outcome": _value(st.get("outcome")),
        "method": ", ".join(f"{k}: {v}" for k, v in method.items()) if isinstance(method, Mapping) else str(method),
        "small": [g["label"] for g in groups if min_group_size and not g["is_reference"]
                  and g["applicants"] < min_group_size],
        "svg": impact_svg(groups, threshold=threshold, min_group_size=min_group_size,
                          unknown=0 if has_unknown else (st.get("unknown") or 0), table=str(st.get("table", "group")),
                          chart_id=f"chart-{st.get('table', 'group')}-{st.get('from_stage', '')}-{st.get('stage', '')}"),
        "unknown_row": not has_unknown,
    }


def view(audit: Mapping[str, Any], *, decision: str, reasons: Sequence[str] = (), title: str | None = None,
         threshold: float = 0.80, grouping: str | None = None) -> dict[str, Any]:
    """Everything a renderer shows, as plain strings and numbers."""
    parts = _parts(audit)
    findings = []
    for f in parts["findings"]:
        where = ", ".join(f"{k} {f[k]}" for k in ("stage", "group", "count", "row") if f.get(k) is not None)
        findings.append({"severity": f.get("severity", "info"), "message": f.get("message", ""), "where": where})
    notes = parts["notes"] + ([parts["fairlearn"]] if parts["fairlearn"] else [])
    return {
        "title": title or "Adverse-impact audit",
        "regime_title": parts["title"],
        "grouping": parts["grouping"] or grouping,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "decision": decision,
        "decision_words": DECISION_WORDS.get(decision, ""),
        "reasons": list(reasons),
        "stages": [stage_view(s, threshold=threshold, min_group_size=parts["min_group_size"])
                   for s in parts["stages"]],
        "funnel": parts["funnel"],
        "min_group_size": parts["min_group_size"],
        "findings": findings,
        "notes": notes,
        "wres": parts["wres"],
        "scores": parts["scores"],
        "threshold": f"{threshold:.2f}",
    }


# ---------------------------------------------------------------------------- SVG chart

CHART_COLOURS = {"below": "#d5281b", "above": "#007f3b", "reference": "#768692", "ink": "#212b32",
                 "grid": "#d8dde0", "muted": "#4c6272"}


def _axis_max(rows: Sequence[Mapping[str, Any]], threshold: float) -> float:
    """The axis runs from 0 to at least 1.25, far enough for every ratio and most intervals (max 3)."""
    top = max([1.25, threshold] + [g["ratio_value"] for g in rows if g.get("ratio_value") is not None]
              + [g["ratio_hi"] for g in rows if g.get("ratio_hi") is not None])
    return min(3.0, math.ceil(top * 4) / 4)


def impact_svg(groups: Sequence[Mapping[str, Any]], *, threshold: float = 0.80, width: int = 760,
               min_group_size: int | None = None, unknown: int | None = None, table: str = "group",
               chart_id: str = "chart") -> str:
    """Impact ratio per group as a bar with its confidence interval, and a dashed line at ``threshold``.

    Every group with applicants gets a row: groups without a ratio say why, groups smaller than
    ``min_group_size`` are hatched and labelled "small group", and ``unknown`` (people with no
    usable category) is a row of its own, counted but not compared. Colour is never the only
    cue: each bar carries its value and "below 0.80" where it is. Self-contained SVG (no
    scripts, no external references), sized by its viewBox so it scales and prints."""
    rows = [g for g in groups if g.get("applicants") or g.get("is_reference")]
    if not rows and not unknown:
        return ""
    bar_h, gap, left, right, top = 20, 10, 250, 200, 44
    axis_max = _axis_max(rows, threshold)
    plot_w = width - left - right
    scale = plot_w / axis_max
    n_rows = len(rows) + (1 if unknown else 0)
    height = top + n_rows * (bar_h + gap) + 34
    x = lambda v: left + min(v, axis_max) * scale  # noqa: E731
    c = CHART_COLOURS
    cid = "".join(ch if ch.isalnum() else "-" for ch in chart_id)
    desc = "; ".join(
        f"{g['label']}: " + (f"{g['ratio_value']:.2f}" if g.get("ratio_value") is not None else "no ratio")
        for g in rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-t {cid}-d" '
           f'font-family="Frutiger, \'Frutiger W01\', Arial, Helvetica, sans-serif" font-size="13">',
           f'<title id="{cid}-t">Impact ratio by {escape(table)} group, with 95% intervals and the '
           f'{threshold:.2f} line</title><desc id="{cid}-d">{escape(desc)}</desc>',
           f'<defs><pattern id="{cid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="{c["muted"]}" stroke-width="3"/></pattern></defs>',
           f'<text x="4" y="16" fill="{c["ink"]}" font-weight="bold">Impact ratio (selection rate ÷ '
           'comparison group rate)</text>']
    # grid and ticks
    tick = 0.25 if axis_max <= 2 else 0.5
    t = 0.0
    while t <= axis_max + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" y2="{height - 26}" stroke="{c["grid"]}"/>'
                   f'<text x="{x(t):.1f}" y="{height - 10}" text-anchor="middle" fill="{c["muted"]}">{t:.2f}</text>')
        t += tick
    for i, g in enumerate(rows):
        y = top + i * (bar_h + gap)
        label = str(g["label"])
        short = label if len(label) <= 34 else label[:33] + "…"
        small = (min_group_size is not None and not g.get("is_reference")
                 and (g.get("applicants") or 0) < min_group_size)
        name = f"{short} (n={g.get('applicants', 0)})"
        out.append(f'<text x="{left - 8}" y="{y + bar_h - 6}" text-anchor="end" fill="{c["ink"]}">'
                   f'<title>{escape(label)}</title>{escape(name)}</text>')
        r = g.get("ratio_value")
        if r is None:
            why = g.get("verdict") or "no ratio"
            why = why if len(why) <= 48 else why[:47] + "…"
            out.append(f'<text x="{left + 4}" y="{y + bar_h - 6}" fill="{c["muted"]}" font-style="italic">'
                       f'no ratio: {escape(why)}</text>')
            continue
        colour = c["reference"] if g.get("is_reference") else (c["below"] if r < threshold else c["above"])
        fill = f"url(#{cid}-hatch)" if small else colour
        w = max(r * scale, 2) if r <= axis_max else plot_w
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}" stroke="{colour}" '
                   f'stroke-width="{2 if small else 0}"><title>{escape(label)}: {r:.3f}</title></rect>')
        lo, hi = g.get("ratio_lo"), g.get("ratio_hi")
        end_x = x(r)
        if lo is not None:
            hi_x = x(hi) if hi is not None else left + plot_w
            ym = y + bar_h / 2
            out.append(f'<line x1="{x(lo):.1f}" y1="{ym}" x2="{hi_x:.1f}" y2="{ym}" stroke="{c["ink"]}" '
                       'stroke-width="1.5"/>'
                       f'<line x1="{x(lo):.1f}" y1="{ym - 6}" x2="{x(lo):.1f}" y2="{ym + 6}" stroke="{c["ink"]}" '
                       'stroke-width="1.5"/>')
            if hi is not None and hi <= axis_max:
                out.append(f'<line x1="{hi_x:.1f}" y1="{ym - 6}" x2="{hi_x:.1f}" y2="{ym + 6}" '
                           f'stroke="{c["ink"]}" stroke-width="1.5"/>')
            else:  # the interval runs off the axis: an arrow head
                out.append(f'<path d="M{hi_x - 7:.1f},{ym - 5} L{hi_x:.1f},{ym} L{hi_x - 7:.1f},{ym + 5}" '
                           f'fill="none" stroke="{c["ink"]}" stroke-width="1.5"/>')
            end_x = max(end_x, hi_x if hi is not None else end_x)
        note = " comparison" if g.get("is_reference") else (f" below {threshold:.2f}" if r < threshold else "")
        note += " · small group" if small else ""
        out.append(f'<text x="{left + plot_w + 8}" y="{y + bar_h - 6}" fill="{c["ink"]}">'
                   f'<tspan font-weight="bold">{r:.2f}</tspan>{escape(note)}</text>')
    if unknown:
        y = top + len(rows) * (bar_h + gap)
        out.append(f'<text x="{left - 8}" y="{y + bar_h - 6}" text-anchor="end" fill="{c["ink"]}">'
                   f'Unknown / not stated (n={unknown})</text>'
                   f'<text x="{left + 4}" y="{y + bar_h - 6}" fill="{c["muted"]}" font-style="italic">'
                   'counted, not compared</text>')
    xl = x(threshold)
    out.append(f'<line x1="{xl:.1f}" y1="{top - 12}" x2="{xl:.1f}" y2="{height - 26}" stroke="{c["ink"]}" '
               'stroke-width="2" stroke-dasharray="6,4"/>'
               f'<text x="{xl:.1f}" y="{top - 16}" text-anchor="middle" fill="{c["ink"]}" font-weight="bold">'
               f'{threshold:.2f}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------- renderers


def _template():
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    text = resources.files("vbr.fairness").joinpath("templates", "audit.html.j2").read_text("utf-8")
    return env.from_string(text)


def render_html(audit: Mapping[str, Any], *, decision: str, reasons: Sequence[str] = (), title: str | None = None,
                threshold: float = 0.80, grouping: str | None = None) -> str:
    """A self-contained HTML page (no scripts, no network assets)."""
    return _template().render(**view(audit, decision=decision, reasons=reasons, title=title,
                                     threshold=threshold, grouping=grouping))


def render_console(console, audit: Mapping[str, Any], *, decision: str, reasons: Sequence[str] = (),
                   title: str | None = None, threshold: float = 0.80, grouping: str | None = None) -> None:
    """Print the audit as rich tables: counts, rates, ratios with intervals, p-values, verdicts."""
    from rich.table import Table

    v = view(audit, decision=decision, reasons=reasons, title=title, threshold=threshold, grouping=grouping)
    console.print(f"[bold]{v['title']}[/] — {v['regime_title']}"
                  + (f", grouping {v['grouping']}" if v["grouping"] else ""), highlight=False)
    for st in v["stages"]:
        table = Table(title=st["heading"], title_justify="left", show_lines=False)
        for col, just in (("group", "left"), ("applicants", "right"), ("selected", "right"),
                          ("rate [95% CI]", "right"), ("impact ratio [95% CI]", "right"), ("p", "right"),
                          ("p adj.", "right"), ("detectable", "right"), ("shortfall", "right"),
                          ("verdict", "left")):
            table.add_column(col, justify=just, overflow="fold")
        for g in st["groups"]:
            style = {"BLOCK": "red", "REVIEW": "yellow"}.get(g["outcome"], "")
            table.add_row(g["label"] + (" (comparison)" if g["is_reference"] else ""), str(g["applicants"]),
                          str(g["selected"]), g["rate"], g["ratio"], g["p"], g["p_adj"], g["detectable"],
                          g["shortfall"], g["verdict"], style=style)
        console.print(table)
        if st["empty"]:
            console.print(f"  no applicants at this stage: {', '.join(st['empty'])}", highlight=False)
        console.print(f"  {st['total']} at '{st['from_stage']}', {st['unknown']} of unknown {st['table']} "
                      f"(declaration rate {st['declaration']})"
                      + (f"; comparison group {st['reference']}" if st["reference"] else ""), highlight=False)
        for r in st["reasons"]:
            console.print(f"  - {r}", highlight=False)
    if v["wres"]:
        table = Table(title="WRES indicator 2: relative likelihood (White rate ÷ BME rate)", title_justify="left")
        for col in ("transition", "White", "BME", "RL [95% CI]", "band", "verdict"):
            table.add_column(col, overflow="fold")
        for r in v["wres"]:
            table.add_row(r["transition"], r["white"], r["bme"], r["rl"], r["band"], r["verdict"],
                          style={"BLOCK": "red", "REVIEW": "yellow"}.get(r["outcome"], ""))
        console.print(table)
    if v["scores"]:
        sc = v["scores"]
        table = Table(title=f"Scores by group (whole-sample median {sc['median']}; SMD against the "
                      f"{sc['comparison'] or 'comparison group'})", title_justify="left")
        for col in ("group", "scored", "unscored", "mean", "SD", "median", "IQR", "above median", "SMD"):
            table.add_column(col, justify="left" if col == "group" else "right")
        for r in sc["rows"]:
            table.add_row(r["label"] + (" (comparison)" if r["is_reference"] else ""), str(r["n"]),
                          str(r["unscored"]), r["mean"], r["sd"], r["median"], r["iqr"], r["scoring_rate"], r["smd"])
        console.print(table)
    if v["findings"]:
        console.print("[bold]Findings[/]")
        for f in v["findings"]:
            colour = {"block": "red", "review": "yellow"}.get(f["severity"], "dim")
            console.print(f"  [{colour}]{f['severity']}[/]: {f['message']}"
                          + (f" ({f['where']})" if f["where"] else ""), highlight=False)
    for n in v["notes"]:
        console.print(f"  note: {n}", highlight=False)
    console.print("  'detectable' is the smallest impact ratio the group's numbers could show as significant "
                  "(with 80% power by default): a higher ratio found 'not significant' is not evidence of no impact.",
                  highlight=False)
    colour = {"PASS": "green", "REVIEW": "yellow", "BLOCK": "red"}.get(decision, "white")
    console.print(f"\n[bold]Gate decision: [{colour}]{decision}[/][/] — {v['decision_words']}", highlight=False)
    for r in v["reasons"]:
        console.print(f"  - {r}", highlight=False)


__all__ = ["render_html", "render_console", "impact_svg", "view", "DECISION_WORDS"]
