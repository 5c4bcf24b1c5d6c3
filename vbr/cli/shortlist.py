"""``vbr shortlist``: propose a shortlist through the gate, see its status, release it.

Exit codes: 0 released (or shown), 2 invalid input, 4 not found, 6 held by the gate (REVIEW or
BLOCK, or a release refused for want of a valid justification), 7 permission denied (a held
shortlist released by someone without the equality-officer role).
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from vbr.cli.common import DbOption, console, err_console, print_json, resolve_db
from vbr.errors import GateHeld, ValidationFailed, VbrError

shortlist_app = typer.Typer(
    help="Propose a shortlist through the adverse-impact gate, check its status, release it. "
    "Exit codes: 0 released, 6 held by the gate (REVIEW/BLOCK), 7 permission denied.",
    no_args_is_help=True,
)

EqualityDbOption = typer.Option(
    None, "--equality-db", envvar="VBR_EQUALITY_DB",
    help="Equality database (default: beside the main store, e.g. vbr-equality.sqlite).")
ConfigOption = typer.Option(None, "--config", exists=True, dir_okay=False,
                            help="Gate configuration YAML (regime, grouping, thresholds).")
FormatOption = typer.Option("table", "--format", help="table or json.")


@contextlib.contextmanager
def vbr_errors() -> Iterator[None]:
    """Report a vbr error with its exit code (also when the app is invoked without run_guarded)."""
    try:
        yield
    except VbrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def open_engine(db: str | None, equality_db: str | None, config: Path | None, regime: str | None = None):
    """The :class:`vbr.engine.Engine` over the main store and its equality store, with the gate config."""
    from vbr.engine import Engine
    from vbr.fairness.equality import equality_url_for
    from vbr.fairness.gate import GateConfig

    url = resolve_db(db)
    cfg = GateConfig.from_yaml(config) if config else GateConfig()
    if regime:
        cfg = cfg.model_copy(update={"regime": regime})
    eq_url = resolve_db(equality_db) if equality_db else equality_url_for(url)
    return Engine(url, gate_config=cfg, equality_db=eq_url)


def read_ids(path: Path) -> list[str]:
    """Application ids, one per line, or a CSV whose first column (or ``application_id``) holds them.
    Order is kept: it is the shortlist's order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read the id file: {exc}", file=str(path)) from exc
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValidationFailed("the id file is empty", file=str(path), hint="one application id per line")
    col = 0
    header = [c.strip().lower() for c in rows[0]]
    if "application_id" in header or header[0] in ("id", "application id"):
        col = header.index("application_id") if "application_id" in header else 0
        rows = rows[1:]
    ids = []
    for n, row in enumerate(rows, start=1):
        if col >= len(row) or not row[col].strip():
            raise ValidationFailed("no application id", file=str(path), line=n, hint="one application id per line")
        ids.append(row[col].strip())
    return ids


def cut_off_notes(ranked: list[tuple[str, float]], n: int, scored: set[str]) -> list[str]:
    """Notes to show about a top-N cut: unscored applications, ties across the cut-off."""
    notes = []
    unscored = [a for a, _ in ranked if a not in scored]
    if unscored:
        notes.append(f"{len(unscored)} application(s) have no scores and rank last")
    if len(ranked) > n and ranked[n - 1][1] == ranked[n][1]:
        tied = sum(1 for _, m in ranked if m == ranked[n - 1][1])
        notes.append(f"{tied} applications share the cut-off mean level {ranked[n - 1][1]:g}; the tie was broken by "
                     "application id, not by any characteristic: review the cut-off")
    return notes


@shortlist_app.command("propose")
def propose(
    campaign: str = typer.Argument(..., help="Campaign id."),
    ids: Optional[Path] = typer.Option(None, "--ids", exists=True, dir_okay=False,
                                       help="File of application ids in shortlist order (one per line or CSV)."),
    top: Optional[int] = typer.Option(
        None, "--top", help="Shortlist the N highest mean score levels instead (ties by id; Disability "
        "Confident applicants meeting the minimum are added)."),
    actor: str = typer.Option(..., "--as", help="Who is proposing (recorded in the log)."),
    regime: Optional[str] = typer.Option(None, "--regime", help="Audit regime (default from config: ugesp)."),
    config: Optional[Path] = ConfigOption,
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = EqualityDbOption,
    fmt: str = FormatOption,
) -> None:
    """Propose a shortlist and run the gate on it. Exits 0 when released (PASS), 6 when held."""
    with vbr_errors():
        if (ids is None) == (top is None):
            raise ValidationFailed("give exactly one of --ids FILE or --top N", field="ids")
        engine = open_engine(db, equality_db, config, regime)
        gate = engine.gate
        notes: list[str] = []
        if ids is not None:
            result = engine.propose_shortlist(campaign, application_ids=read_ids(ids), actor=actor)
        else:
            if top < 1:
                raise ValidationFailed("--top must be at least 1", field="top")
            engine.store.campaign(campaign)
            scored = {r["application_id"] for r in engine.store.current_scores(campaign)}
            notes = cut_off_notes(engine.rank(campaign), top, scored)
            to_mark = engine.to_mark(campaign)
            if to_mark:
                apps = len({r["application_id"] for r in to_mark})
                notes.append(f"{len(to_mark)} answer(s) of {apps} application(s) have values the scorer could not "
                             "score and no one has marked yet; those applications' mean levels leave them out: "
                             "mark them on the review pages first")
            result = engine.propose_shortlist(campaign, top=top, actor=actor)
            if len(result.application_ids) > top:
                notes.append(f"{len(result.application_ids) - top} Disability Confident applicant(s) meeting the "
                             "minimum were added after the top N (guaranteed interview)")
        if fmt == "json":
            print_json({**result.to_dict(), "notes": notes})
        else:
            for note in notes:
                console.print(f"[yellow]note:[/] {note}", highlight=False)
            _show_decision(gate.status(result.shortlist_id), result.warnings)
    if not result.released:
        raise typer.Exit(GateHeld.exit_code)


@shortlist_app.command("status")
def status(
    shortlist_id: int = typer.Argument(..., help="Shortlist number."),
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = EqualityDbOption,
    fmt: str = typer.Option("table", "--format", help="table, json, or html (the stored audit report)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write json/html to this file."),
) -> None:
    """Show a shortlist's gate decision, reasons, whether it was released, by whom and why.
    With --format html, re-renders the audit report from the figures stored with the decision."""
    with vbr_errors():
        info = open_engine(db, equality_db, None).status(shortlist_id)
        if fmt in ("json", "html"):
            if fmt == "json":
                import json

                text = json.dumps(info, indent=2, default=str) + "\n"
            else:
                from vbr.fairness.report import render_html

                figures = info["figures"] or {}
                threshold = (((figures.get("config") or {}).get("audit") or {}).get("ratio_threshold")) or 0.80
                text = render_html(figures.get("audit") or {}, decision=info["decision"] or "BLOCK",
                                   reasons=info["reasons"], threshold=threshold,
                                   title=f"Adverse-impact audit: shortlist {shortlist_id}, campaign {info['campaign_id']}")
            if output is not None:
                output.write_text(text, encoding="utf-8")
                err_console.print(f"wrote {output}", highlight=False)
            else:
                typer.echo(text, nl=False)
        else:
            _show_decision(info)


@shortlist_app.command("release")
def release(
    shortlist_id: int = typer.Argument(..., help="Shortlist number."),
    actor: str = typer.Option(..., "--as", help="Who is releasing (recorded in the log)."),
    role: Optional[str] = typer.Option(None, "--role", help="Your role; a held shortlist needs equality_officer."),
    justification: Optional[str] = typer.Option(
        None, "--justification", help="Why a held shortlist may be released (at least 20 characters)."),
    config: Optional[Path] = ConfigOption,
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = EqualityDbOption,
    fmt: str = FormatOption,
) -> None:
    """Release a shortlist. A held one (REVIEW/BLOCK) needs --role equality_officer and a justification;
    exits 7 for another role, 6 without a valid justification."""
    with vbr_errors():
        engine = open_engine(db, equality_db, config)
        released = engine.release(shortlist_id, actor=actor, role=role, justification=justification)
        if fmt == "json":
            print_json({"shortlist_id": shortlist_id, "released": True, "application_ids": released})
        else:
            console.print(f"[green]released[/] shortlist {shortlist_id} ({len(released)} applications) by {actor}",
                          highlight=False)
            for app_id in released:
                console.print(f"  {app_id}", highlight=False)


def _show_decision(info: dict[str, Any], warnings: list[str] = ()) -> None:
    colour = {"PASS": "green", "REVIEW": "yellow", "BLOCK": "red"}.get(info["decision"] or "", "white")
    state = "released" if info["released"] else "held"
    console.print(f"shortlist {info['shortlist_id']} for campaign {info['campaign_id']}: "
                  f"[bold {colour}]{info['decision'] or 'not audited'}[/] ({state}), "
                  f"{len(info['application_ids'])} applications", highlight=False)
    for reason in info["reasons"]:
        console.print(f"  - {reason}", highlight=False)
    if info["released"] and info.get("justification"):
        console.print(f"released by {info['released_by']}: {info['justification']}", highlight=False)
    table = Table(title="gate decisions")
    for col in ("#", "decision", "released", "by", "justification", "when"):
        table.add_column(col)
    for row in info["history"]:
        table.add_row(str(row["id"]), row["decision"], "yes" if row["released"] else "no",
                      row.get("released_by") or "", row.get("justification") or "", str(row["decided_at"])[:19])
    console.print(table)
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if not info["released"] and info["decision"] in ("REVIEW", "BLOCK"):
        console.print(f"held: an equality officer may release it with `vbr shortlist release "
                      f"{info['shortlist_id']} --as NAME --role equality_officer --justification TEXT`",
                      highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(shortlist_app, name="shortlist")
