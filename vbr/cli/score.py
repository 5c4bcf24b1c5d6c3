"""``vbr score``: score a stored campaign, or a CSV of answers, against a value rubric.

A campaign is scored from its stored, redacted answers and the scores are stored (append-only,
logged). A CSV is redacted and scored without storing anything; the output carries each value's
level, confidence, review flags and evidence, so a recruiter can see why.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vbr.cli.common import DbOption, console, err_console, resolve_db
from vbr.errors import NotFound, ValidationFailed


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console)


def score_command(
    campaign: Optional[str] = typer.Argument(None, help="Campaign id to score from the store (or use --csv)."),
    csv_file: Optional[Path] = typer.Option(None, "--csv", exists=True, dir_okay=False,
                                            help="Score a CSV of answers instead (nothing is stored)."),
    rubric_id: str = typer.Option("nhs-constitution", "--rubric", help="Rubric for --csv."),
    question: Optional[str] = typer.Option(None, "--question", help="Question id for every row of --csv "
                                           "(or use --question-col)."),
    question_col: Optional[str] = typer.Option(None, "--question-col", help="Column holding the question id."),
    text_col: str = typer.Option("answer", "--text-col", help="Answer text column of --csv."),
    id_col: str = typer.Option("application_id", "--id-col", help="Application id column of --csv."),
    scorer: str = typer.Option("evidence", "--scorer", help="Scorer id (see `vbr plugins`); with --model, "
                               "it scores the values no model covers."),
    models: list[Path] = typer.Option([], "--model", exists=True, dir_okay=False, metavar="<file>",
                                      help="A trained model (`vbr scorer train --rubric --question --value`) "
                                      "to score its question's value with; repeat for more."),
    fmt: str = typer.Option("table", "--format", help="table, json (one object) or jsonl (one line per answer)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write json/jsonl here instead of stdout."),
    actor: str = typer.Option("vbr-cli", "--as", help="Who is scoring (recorded in the log)."),
    rescore: bool = typer.Option(False, "--rescore", help="A campaign: score every answer again (after a new "
                                 "scorer or model), not only those not scored yet. People's scores stay current."),
    db: Optional[str] = DbOption,
) -> None:
    """Score answers against a value rubric, with evidence and review flags, showing progress."""
    if fmt not in ("table", "json", "jsonl"):
        raise ValidationFailed(f"--format must be table, json or jsonl, not {fmt!r}", field="format")
    if (campaign is None) == (csv_file is None):
        raise ValidationFailed("give either a CAMPAIGN id or --csv FILE", hint="see `vbr score --help`")
    chooser = _Chooser(scorer, models)
    if csv_file is not None:
        results = _score_csv(csv_file, rubric_id=rubric_id, question=question, question_col=question_col,
                             text_col=text_col, id_col=id_col, chooser=chooser)
    else:
        results = _score_campaign(campaign, chooser=chooser, actor=actor, db=db, rescore=rescore)
    _emit(results, fmt=fmt, output=output)


class _Chooser:
    """The scorer a run uses: the registered one named by --scorer, or the --model files with it
    as fallback. Built once the rubric is known (models are checked against it)."""

    def __init__(self, scorer_id: str, models: list[Path]) -> None:
        self.scorer_id, self.models = scorer_id, models

    def __call__(self, rubric, scorers: dict):
        if self.scorer_id not in scorers:
            raise NotFound(f"no scorer '{self.scorer_id}'", field="scorer",
                           hint=f"installed: {', '.join(sorted(scorers))}")
        if not self.models:
            return scorers[self.scorer_id]
        from vbr.scoring.model_scorer import ModelScorer, load_models

        trained = load_models(self.models, rubric)
        chosen = ModelScorer(trained, rubric, scorers[self.scorer_id])
        covered = ", ".join(f"{q}/{v}" for q, v in chosen.covers())
        err_console.print(f"Models score {covered}; other values by '{self.scorer_id}'.", highlight=False)
        return chosen


def _score_campaign(campaign: str, *, chooser: _Chooser, actor: str, db: str | None,
                    rescore: bool = False) -> list[dict]:
    from vbr.engine import Engine

    engine = Engine(resolve_db(db))
    engine.store.campaign(campaign)  # NotFound names an unknown campaign
    n = len(engine.answers_to_score(campaign, rescore=rescore))
    if n == 0:
        if not engine.store.responses(campaign):
            raise ValidationFailed(f"campaign '{campaign}' has no answers to score",
                                   hint="submit applications first (`vbr import applications`)")
        err_console.print(f"Every answer of campaign '{campaign}' has been scored already; nothing to do "
                          "(--rescore scores them all again).", highlight=False)
        return []
    _, rubric = engine.campaign_rubric(campaign)
    chosen = chooser(rubric, engine.plugins.registry("scorers"))  # models checked before anything is scored
    with _progress() as progress:
        task = progress.add_task(f"Scoring {campaign}", total=n)
        scores = engine.score(campaign, scorer=chosen, actor=actor, rescore=rescore,
                              progress=lambda done: progress.update(task, completed=done))
    answers: dict[tuple[str, str], dict] = {}  # one item per answer, its values' scores together
    for s in scores:
        item = answers.setdefault((s.application_id, s.question_id), {
            "application_id": s.application_id, "question_id": s.question_id, "scores": [], "flags": []})
        item["scores"].append(s.model_dump(mode="json"))
    return list(answers.values())


def _score_csv(path: Path, *, rubric_id: str, question: str | None, question_col: str | None, text_col: str,
               id_col: str, chooser: _Chooser) -> list[dict]:
    from vbr.formats.csvio import norm, read_rows
    from vbr.models import Response
    from vbr.plugins import get_plugins
    from vbr.scoring.pipeline import score_answers

    plugins = get_plugins()
    rubrics, scorers = plugins.registry("rubrics"), plugins.registry("scorers")
    if rubric_id not in rubrics:
        raise NotFound(f"no rubric '{rubric_id}'", field="rubric", hint=f"known: {', '.join(sorted(rubrics))}")
    rubric = rubrics[rubric_id]
    chosen = chooser(rubric, scorers)
    if (question is None) == (question_col is None):
        raise ValidationFailed("give either --question ID or --question-col NAME", field="question")
    known_q = {q.id for q in rubric.questions}
    if question is not None and question not in known_q:
        raise ValidationFailed(f"rubric {rubric.ref} has no question '{question}'", field="question",
                               hint=f"see `vbr rubrics show {rubric_id}`")
    header, rows = read_rows(path, what="answers")
    names = [norm(h) for h in header]

    def col(name: str, option: str) -> int:
        if norm(name) not in names:
            raise ValidationFailed(f"no column named '{name}'", file=str(path), row=1, field=name,
                                   hint=f"the columns are {', '.join(header)}; pass the right name with {option}")
        return names.index(norm(name))

    ti, ii = col(text_col, "--text-col"), col(id_col, "--id-col")
    qi = col(question_col, "--question-col") if question_col else None
    items, seen = [], set()
    for rowno, fields in rows:
        fields = fields + [""] * (len(header) - len(fields))
        app_id = fields[ii].strip()
        qid = question if qi is None else fields[qi].strip()
        if not app_id:
            raise ValidationFailed("the application id is blank", file=str(path), row=rowno, field=id_col)
        if qid not in known_q:
            raise ValidationFailed(f"question '{qid}' is not in rubric {rubric.ref}", file=str(path), row=rowno,
                                   field=question_col or "question")
        if (app_id, qid) in seen:
            raise ValidationFailed(f"application '{app_id}' answers question '{qid}' twice", file=str(path),
                                   row=rowno, field=id_col, hint="keep one row per application and question")
        seen.add((app_id, qid))
        text = fields[ti]
        if len(text) > 50_000:
            raise ValidationFailed(f"the answer is {len(text):,} characters; the limit is 50,000", file=str(path),
                                   row=rowno, field=text_col, hint="check the export: was a column merged?")
        items.append(Response(application_id=app_id, question_id=qid, text=text))
    if not items:
        raise ValidationFailed("the file has no answers", file=str(path), hint="one row per answer under the header")
    with _progress() as progress:
        task = progress.add_task(f"Scoring {path.name}", total=len(items))
        results = score_answers(rubric, items, chosen,
                                list(plugins.registry("redactors").values()),
                                progress=lambda done: progress.update(task, completed=done))
    return [{k: v for k, v in r.to_dict().items() if k != "original_text"} for r in results]


def _emit(results: list[dict], *, fmt: str, output: Path | None) -> None:
    if fmt == "table":
        table = Table(title=f"{len(results)} answers scored")
        for c in ("application", "question", "value", "level", "confidence", "evidence", "flags"):
            table.add_column(c)
        for r in results[:200]:
            flags = ", ".join(f["code"] for f in r.get("flags", []))
            if not r["scores"]:
                table.add_row(r["application_id"], r["question_id"], "-", "-", "-", "-", flags or "-")
            for s in r["scores"]:
                ev = ", ".join(sorted({e["indicator_id"] for e in s["evidence"]}))
                table.add_row(r["application_id"], r["question_id"], s["value_id"], str(s["level"]),
                              f"{s['confidence']:.2f}", ev or "-",
                              ", ".join([flags] + [f["code"] for f in s["flags"]]).strip(", ") or "-")
        console.print(table)
        if len(results) > 200:
            console.print(f"(first 200 of {len(results)}; use --format jsonl -o FILE for all)")
        codes = Counter(f["code"] for r in results for f in r.get("flags", []))
        codes.update(f["code"] for r in results for s in r["scores"] for f in s["flags"])
        if codes:
            console.print("Review flags: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
        return
    text = (json.dumps({"answers": results}, indent=2) + "\n" if fmt == "json"
            else "".join(json.dumps(r) + "\n" for r in results))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {len(results)} answers to {output}")


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
