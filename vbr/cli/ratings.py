"""``vbr ratings``: import assessors' ratings and check the scorer against them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from vbr.cli.common import DbOption, console, print_json, resolve_db

ratings_app = typer.Typer(help="Human raters: import their ratings, compare the scorer with them.",
                          no_args_is_help=True)


@ratings_app.command("import")
def import_ratings(
    campaign: str = typer.Argument(..., help="Campaign the rated answers belong to."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="CSV: application_id, question_id, value_id, rater, level."),
    actor: str = typer.Option(..., "--as", help="Who is importing (recorded in the log)."),
    db: Optional[str] = DbOption,
) -> None:
    """Import ratings (one or many raters per answer), all or nothing; errors name the row."""
    from vbr.engine import Engine

    engine = Engine(resolve_db(db))
    _, rubric = engine.campaign_rubric(campaign)
    answers = {(r["application_id"], r["question_id"]) for r in engine.store.responses(campaign)}
    from vbr.scoring.ratings import read_ratings_csv

    rows = read_ratings_csv(file, scale=(rubric.scale.min, rubric.scale.max), known_answers=answers,
                            value_ids={v.id for v in rubric.values})
    n = engine.store.add_human_ratings(rows, actor=actor, source=file.name)
    console.print(f"imported {n} ratings from {len({r[3] for r in rows})} rater(s)")


@ratings_app.command("report")
def report(
    campaign: str = typer.Argument(..., help="Campaign to check."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Optional[str] = DbOption,
) -> None:
    """Compare the scorer's own scores (not overrides) with the human raters, per domain.md."""
    from vbr.scoring.ratings import compare_with_raters
    from vbr.store import open_store

    store = open_store(resolve_db(db))
    model = []
    for row in store.current_scores(campaign):
        history = store.score_history(row["application_id"], row["question_id"], row["value_id"])
        scored = [h for h in history if h["source"] == "scorer"]
        if scored:
            model.append(scored[-1])
    result = compare_with_raters(model, store.human_ratings(campaign))
    if json_out:
        print_json(result)
        return
    rep = result["report"]
    table = Table(title=f"Scorer vs human raters: {campaign} ({result['items']} ratings, "
                        f"{result['double_marked']} double-marked)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    mh = rep["model_human"]
    table.add_row("model-human QWK", f"{mh['qwk']['estimate']:.3f}")
    if rep.get("human_human"):
        table.add_row("human-human QWK", f"{rep['human_human']['qwk']['estimate']:.3f}")
    table.add_row("standardised mean difference", f"{rep['smd']:.3f}")
    if "raters_krippendorff_alpha" in result:
        table.add_row("raters' Krippendorff alpha (ordinal)", f"{result['raters_krippendorff_alpha']['estimate']:.3f}")
    console.print(table)
    console.print(f"[bold]Verdict: {rep['verdict']}[/]")
    for reason in rep["reasons"]:
        console.print(f"- {reason}")


def register(app: typer.Typer) -> None:
    app.add_typer(ratings_app, name="ratings")
