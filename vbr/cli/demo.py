"""``vbr demo``: the walking skeleton - a synthetic campaign scored, audited and gated, with its report."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from vbr.cli.common import console


def demo_command(
    applicants: int = typer.Option(300, "--applicants", "-n", min=20, max=200_000, help="How many applicants."),
    rubric_id: str = typer.Option("nhs-constitution", "--rubric", help="Rubric to score against."),
    shortlist: int = typer.Option(60, "--shortlist", min=1, help="How many to shortlist by score."),
    regime: str = typer.Option("ugesp", help="Audit regime: ugesp, ll144 or wres."),
    grouping: str = typer.Option("broad", help="Ethnic grouping for the audit: detailed, broad or wres."),
    seed: int = typer.Option(7, help="Random seed for the synthetic campaign."),
    out: Path = typer.Option(Path("vbr-demo"), "--out", help="Folder for the demo database and report."),
) -> None:
    """Run a demo campaign end to end: generate, redact, score with evidence, audit, gate, report.

    Everything is written under --out (replaced on each run), so the demo never touches your real
    vbr database.
    """
    from vbr.demo import generate
    from vbr.engine import Engine
    from vbr.fairness.gate import GateConfig
    from vbr.fairness.report import render_html

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    engine = Engine(out / "demo.sqlite", gate_config=GateConfig(regime=regime, grouping=grouping))
    rubric = engine.rubric(rubric_id)
    data = generate(rubric, n=applicants, seed=seed)
    campaign = engine.create_campaign("demo", f"Healthcare support worker (demo, {applicants} applicants)",
                                      rubric_id, question_ids=data.question_ids, actor="demo-ats")
    with _progress() as progress:
        task = progress.add_task("Submitting and redacting answers", total=1)
        engine.submit(campaign.id, data.applications, data.responses, names=data.names)
        progress.update(task, completed=1)
        engine.add_equality_records(data.equality, actor="demo-ats")
        task = progress.add_task("Scoring answers with evidence", total=len(data.responses))
        scores = engine.score(campaign.id, progress=lambda n: progress.update(task, completed=n))
    _show_scores(engine, rubric, scores)
    result = engine.propose_shortlist(campaign.id, top=shortlist, actor="demo-recruiter")
    audit = result.figures.get("audit", {})
    report = out / "audit-report.html"
    report.write_text(render_html(audit, decision=result.decision.value, reasons=result.reasons,
                                  title=f"Adverse-impact audit: {campaign.title}"), encoding="utf-8")
    _show_gate(result)
    verified = engine.store.log.verify()
    console.print(f"Audit log: {verified.rows} entries, chain {'intact' if verified.ok else 'BROKEN'}")
    console.print(f"Report: [bold]{report.resolve()}[/]")
    console.print(f"Database: {out.resolve() / 'demo.sqlite'} (equality data kept apart in demo-equality.sqlite)")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _show_scores(engine, rubric, scores) -> None:
    table = Table(title=f"Scores by value ({rubric.name}, evidence scorer)")
    table.add_column("value")
    for lvl in range(rubric.scale.min, rubric.scale.max + 1):
        table.add_column(f"level {lvl}", justify="right")
    table.add_column("flagged for review", justify="right")
    for value in rubric.values:
        mine = [s for s in scores if s.value_id == value.id]
        if not mine:
            continue
        levels = Counter(s.level for s in mine)
        table.add_row(value.name, *[str(levels.get(lvl, 0)) for lvl in range(rubric.scale.min, rubric.scale.max + 1)],
                      str(sum(1 for s in mine if s.flags)))
    console.print(table)
    flags = Counter(f.code for s in scores for f in s.flags)
    if flags:
        console.print("Review flags: " + ", ".join(f"{code} {n}" for code, n in flags.most_common()))
    example = max((s for s in scores if s.evidence), key=lambda s: (len(s.evidence), s.level), default=None)
    if example is None:
        return
    texts = {(r["application_id"], r["question_id"]): r["redacted_text"]
             for r in engine.store.responses("demo", application_id=example.application_id)}
    answer = texts.get((example.application_id, example.question_id)) or ""
    shown = Text(answer)
    for span in example.evidence:
        style = "bold green" if span.polarity.value == "positive" and not span.negated else "bold red"
        shown.stylize(style, span.start, span.end)
    indicators = ", ".join(sorted({e.indicator_id for e in example.evidence}))
    console.print(Panel(shown, title=f"Evidence for {example.value_id} = {example.level} "
                        f"(candidate {example.application_id}, redacted answer)",
                        subtitle=f"matched: {indicators}"))
    if example.anchor:
        console.print(f"[dim]Anchor for level {example.level}:[/] {example.anchor}")


def _show_gate(result) -> None:
    colour = {"PASS": "green", "REVIEW": "yellow", "BLOCK": "red"}[result.decision.value]
    body = "\n".join(f"- {r}" for r in result.reasons) or "No group shows adverse impact; the data reconcile."
    if result.released:
        body += f"\n\nReleased: {len(result.application_ids)} candidates."
    else:
        body += (f"\n\nHeld. An equality officer may release it with a written justification:\n"
                 f"  vbr shortlist release {result.shortlist_id} --db vbr-demo/demo.sqlite --as NAME "
                 f"--role equality_officer --justification \"...\"")
    console.print(Panel(body, title=f"Shortlist gate: [bold {colour}]{result.decision.value}[/]",
                        border_style=colour))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
