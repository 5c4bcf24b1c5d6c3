"""``vbr audit``: an adverse-impact audit from two files joined on application id.

The outcomes file holds the funnel (one 0/1 column per stage, in funnel order); the equality
file holds the ethnic category codes (and optionally sex). They are joined here, in memory,
and never written anywhere. Ids present in only one file are reported and send the decision to
BLOCK (applicants without an equality row are still counted, as unknown); malformed input
(duplicate ids, outcome values other than 0/1/true/false) is an error naming file, row and column.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from vbr.cli.common import console, err_console
from vbr.errors import GateHeld, ValidationFailed, VbrError

# options shared with `vbr audit-scale` (vbr/cli/scale.py)
RegimeOption = typer.Option("ugesp", "--regime", help="ugesp, ll144, wres, or a plugin's regime.")
ReferenceOption = typer.Option(None, "--reference", help="Comparison group (default: highest rate).")
GroupingOption = typer.Option("detailed", "--grouping", help="detailed, broad, wres, or a grouping file.")
ConfigOption = typer.Option(None, "--config", exists=True, dir_okay=False,
                            help="Gate configuration YAML (thresholds under 'audit').")
FormatOption = typer.Option("table", "--format", help="table, json or html.")
OutputOption = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout.")

_TRUE = {"1", "true"}
_FALSE = {"0", "false"}

def read_outcomes(path: Path, *, id_col: str, stages: list[str] | None, score_col: str | None = None
                  ) -> tuple[list[str], dict[str, list[bool]], list[float] | None]:
    """Ids in file order, ``{stage: [bool, ...]}`` in funnel order and the scores (NaN = not
    scored) when ``score_col`` is given; or a ValidationFailed naming file, row and column."""
    fname = str(path)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(f"cannot read the outcomes file: {exc.strerror or exc}", file=fname) from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the outcomes file is not UTF-8 text", file=fname,
                               hint="save it as 'CSV UTF-8'") from exc
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not any(header):
        raise ValidationFailed("the outcomes file is empty: it needs a header row", file=fname, row=1)
    lower = [h.lower() for h in header]
    if id_col.lower() not in lower:
        raise ValidationFailed(f"no column '{id_col}' in the header (found: {', '.join(header)})", file=fname,
                               row=1, field=id_col, hint="name the id column with --id-col")
    id_i = lower.index(id_col.lower())
    score_i = None
    if score_col:
        if score_col.lower() not in lower:
            raise ValidationFailed(f"no score column '{score_col}' (found: {', '.join(header)})", file=fname,
                                   row=1, field=score_col)
        score_i = lower.index(score_col.lower())
    if stages:
        cols = []
        for s in stages:
            if s.lower() not in lower:
                raise ValidationFailed(f"no stage column '{s}' (found: {', '.join(header)})", file=fname, row=1,
                                       field=s, hint="pass the outcome columns with --stage, in funnel order")
            cols.append(lower.index(s.lower()))
    else:
        cols = [i for i, h in enumerate(header) if i not in (id_i, score_i) and h]
        if not cols:
            raise ValidationFailed("no outcome columns besides the id column", file=fname, row=1,
                                   hint="add a 0/1 column such as 'shortlisted'")
    names = [header[i] for i in cols]
    ids: list[str] = []
    scores: list[float] = []
    out: dict[str, list[bool]] = {n: [] for n in names}
    seen: dict[str, int] = {}
    problems: list[VbrError] = []
    rowno = 1
    for fields in reader:
        rowno += 1
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(problems) >= 20:
            break
        if len(fields) != len(header):
            problems.append(VbrError(f"{len(fields)} fields, the header has {len(header)}", file=fname, row=rowno))
            continue
        app_id = fields[id_i].strip()
        if not app_id:
            problems.append(VbrError("no application id", file=fname, row=rowno, field=header[id_i]))
            continue
        if app_id in seen:
            problems.append(VbrError(f"application id '{app_id}' already appears in row {seen[app_id]}",
                                     file=fname, row=rowno, field=header[id_i], hint="keep one row per application"))
            continue
        seen[app_id] = rowno
        values = []
        for i, name in zip(cols, names):
            v = fields[i].strip().lower()
            if v in _TRUE:
                values.append(True)
            elif v in _FALSE:
                values.append(False)
            else:
                problems.append(VbrError(f"outcome {fields[i]!r} is not 0/1 or true/false", file=fname, row=rowno,
                                         field=name, hint="every stage column holds 0/1 or true/false"))
                break
        else:
            score = math.nan
            if score_i is not None and fields[score_i].strip():
                try:
                    score = float(fields[score_i])
                except ValueError:
                    score = None
                if score is None or not math.isfinite(score):
                    problems.append(VbrError(f"score {fields[score_i]!r} is not a number", file=fname, row=rowno,
                                             field=header[score_i], hint="leave it blank if not scored"))
                    continue
            ids.append(app_id)
            scores.append(score)
            for name, v in zip(names, values):
                out[name].append(v)
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in the outcomes file; nothing was audited", file=fname,
                               problems=problems)
    if not ids:
        raise ValidationFailed("the outcomes file has no rows", file=fname, hint="one row per applicant")
    return ids, out, (scores if score_i is not None else None)


def join(ids: list[str], records: dict[str, Any], *, outcomes_file: str, equality_file: str) -> tuple[
        list[str | None], list[str | None] | None, list[str]]:
    """Codes (and sex) aligned with ``ids``; findings for ids found in only one file."""
    findings = []
    missing = [i for i in ids if i not in records]
    if missing:
        findings.append(f"the files do not match: {len(missing)} application id(s) in {outcomes_file} have no row in {equality_file} "
                        f"(counted as unknown): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    idset = set(ids)
    extra = [i for i in records if i not in idset]
    if extra:
        findings.append(f"the files do not match: {len(extra)} application id(s) in {equality_file} are not in {outcomes_file} "
                        f"(not audited): {', '.join(extra[:5])}{' …' if len(extra) > 5 else ''}")
    codes = [records[i].ethnic_code if i in records else None for i in ids]
    sexes = [records[i].sex if i in records else None for i in ids]
    return codes, (sexes if any(s is not None for s in sexes) else None), findings


def funnel_findings(ids: list[str], stages: dict[str, list[bool]], *, outcomes_file: str) -> list[str]:
    """Stages nobody reached, and applicants who reached a stage without the one before it (by id)."""
    out = []
    names = list(stages)
    for k, name in enumerate(names):
        if not any(stages[name]):
            out.append(f"nobody was selected at '{name}' in {outcomes_file}: an audit of an empty selection "
                       "says nothing (drop the column if that stage has not happened yet)")
        if k:
            prev = stages[names[k - 1]]
            bad = [i for i, a, b in zip(ids, prev, stages[name]) if b and not a]
            if bad:
                out.append(f"the funnel does not reconcile: {len(bad)} application(s) reached '{name}' without '{names[k - 1]}' in "
                           f"{outcomes_file}: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}")
    return out


def audit_command(
    outcomes: str = typer.Option(..., "--outcomes",
                                 help="CSV: application id and one 0/1 column per funnel stage. With --engine dask: "
                                      "a glob, folder or file of Parquet/CSV rows that also carry the ethnic code."),
    equality: Optional[Path] = typer.Option(None, "--equality", exists=True, dir_okay=False,
                                            help="CSV: application_id, ethnic_code[, sex, disability] "
                                                 "(required unless --engine dask)."),
    id_col: str = typer.Option("application_id", "--id-col", help="Id column name in both files."),
    ethnic_col: str = typer.Option("ethnic_code", "--ethnic-col", help="Ethnic code column in the equality file."),
    stage: Optional[list[str]] = typer.Option(
        None, "--stage", help="Outcome column, repeat in funnel order (default: every non-id column)."),
    score_col: Optional[str] = typer.Option(
        None, "--score-col", help="Numeric score column in the outcomes file (blank = not scored): score "
        "distributions, standardised mean differences and LL144 scoring rates."),
    regime: str = RegimeOption,
    reference: Optional[str] = ReferenceOption,
    grouping: str = GroupingOption,
    config: Optional[Path] = ConfigOption,
    fmt: str = FormatOption,
    output: Optional[Path] = OutputOption,
    engine: str = typer.Option("memory", "--engine",
                               help="memory (join the two files here) or dask (count a large joined extract "
                                    "on a Dask cluster; see `vbr audit-scale` for its options)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", envvar="VBR_DASK_SCHEDULER",
                                            help="Dask scheduler address (default: a local cluster on 127.0.0.1)."),
) -> None:
    """Audit adverse impact across ethnic groups from an outcomes file and an equality file.

    Shows counts, selection rates, impact ratios with intervals, p-values, the verdict per group
    in words, unknowns and the declaration rate, and the gate decision (PASS, REVIEW or BLOCK).

    Exit codes: 0 PASS; 6 the gate would hold the shortlist (REVIEW or BLOCK); 2 invalid input
    (the message names file, row and column); 4 file or grouping not found.
    """
    from vbr.fairness.equality import read_equality_csv
    from vbr.fairness.gate import clean, decide, run_audit

    if fmt not in ("table", "json", "html"):
        err_console.print(f"[bold red]error:[/] --format must be table, json or html, not {fmt!r}")
        raise typer.Exit(2)
    if engine != "memory":
        from vbr.cli.scale import audit_scale_command

        if equality is not None:
            err_console.print("[bold red]error:[/] --engine dask audits one joined extract: give --outcomes rows "
                              "that carry the ethnic code column (--ethnic-col) and leave out --equality")
            raise typer.Exit(2)
        audit_scale_command(source=outcomes, stage=list(stage or []), ethnic_col=ethnic_col, strata_col=None,
                            sex_col=None, engine=engine, scheduler=scheduler, workers=2, regime=regime,
                            reference=reference, grouping=grouping, config=config, fmt=fmt, output=output,
                            progress=False)
        return
    outcomes_path = Path(outcomes)
    if not outcomes_path.is_file() or equality is None:
        what = f"outcomes file '{outcomes}' does not exist" if not outcomes_path.is_file() else "--equality is required"
        err_console.print(f"[bold red]error:[/] {what}", highlight=False)
        raise typer.Exit(2)
    try:
        cfg = gate_config(config, regime=regime, grouping=grouping, reference=reference)
        ids, stages, scores = read_outcomes(outcomes_path, id_col=id_col, stages=stage, score_col=score_col)
        records_list, _ = read_equality_csv(equality, id_col=id_col, ethnic_col=ethnic_col)
        records = {r.application_id: r for r in records_list}
        codes, sexes, join_findings = join(ids, records, outcomes_file=outcomes_path.name,
                                           equality_file=equality.name)
        join_findings += funnel_findings(ids, stages, outcomes_file=outcomes_path.name)
        result = run_audit(stages, codes, config=cfg, sex=sexes, scores=scores)
        decision, reasons = decide(result, join_findings)
        figures = clean(result.to_dict())
    except VbrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None

    emit_audit(figures, decision=decision.value, reasons=reasons, title=f"Adverse-impact audit: {outcomes_path.name}",
               threshold=cfg.audit.ratio_threshold, grouping=grouping, fmt=fmt, output=output,
               summary={"regime": regime, "grouping": grouping, "reference": reference, "rows": len(ids),
                        "reconciliation": join_findings})


def gate_config(path: Path | None, *, regime: str, grouping: str, reference: str | None):
    """The gate configuration from ``--config`` (or defaults) with the command's choices; the
    regime must be installed."""
    from vbr.fairness.gate import GateConfig
    from vbr.plugins import get_plugins

    cfg = GateConfig.from_yaml(path) if path else GateConfig()
    cfg = cfg.model_copy(update={"regime": regime, "grouping": grouping, "reference": reference})
    regimes = get_plugins().registry("regimes")
    if regime not in regimes:
        raise ValidationFailed(f"no audit regime '{regime}'", field="regime",
                               hint=f"installed: {', '.join(sorted(regimes)) or 'none'}")
    return cfg


def emit_audit(figures: dict[str, Any], *, decision: str, reasons: Any, title: str, threshold: float,
               grouping: str, fmt: str, output: Path | None, summary: dict[str, Any]) -> None:
    """Print or write an audit as a table, JSON or HTML; exit 6 unless the decision is PASS."""
    if fmt == "json":
        import json

        text: str | None = json.dumps({"decision": decision, "reasons": list(reasons), **summary, "audit": figures},
                                      indent=2, allow_nan=False) + "\n"
    elif fmt == "html":
        from vbr.fairness.report import render_html

        text = render_html(figures, decision=decision, reasons=reasons, title=title, threshold=threshold,
                           grouping=grouping)
    else:
        from vbr.fairness.report import render_console

        if output is None:
            render_console(console, figures, decision=decision, reasons=reasons, title=title, threshold=threshold,
                           grouping=grouping)
            text = None
        else:
            from rich.console import Console

            buf = io.StringIO()
            render_console(Console(file=buf, width=160, color_system=None), figures, decision=decision,
                           reasons=reasons, title=title, threshold=threshold, grouping=grouping)
            text = buf.getvalue()
    if text is not None:
        if output is not None:
            output.write_text(text, encoding="utf-8")
            err_console.print(f"wrote {output} ({decision})", highlight=False)
        else:
            sys.stdout.write(text)
    if decision != "PASS":
        raise typer.Exit(GateHeld.exit_code)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
