"""``vbr scorer``: train a learned scorer on marked answers, and evaluate one on held-out marks.

Works on any CSV with a header, a text column and a whole-number score column (any scale).
"""

from __future__ import annotations

import json
import re
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vbr.cli.common import console, err_console
from vbr.errors import ValidationFailed

scorer_app = typer.Typer(help="Train and evaluate learned scorers on marked answers.",
                         no_args_is_help=True)

_REF = re.compile(r"^[a-z0-9][a-z0-9_.-]*@\d+\.\d+(\.\d+)?$")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def _progress(quiet_stdout: bool) -> Progress:
    """A spinner with elapsed time; on stderr when stdout carries JSON."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=err_console if quiet_stdout else console, transient=True)


def _read(path: Path, text_col: str, score_col: str, second: Optional[str] = None,
          min_rows: int = 1, second_optional: bool = False):
    from vbr.scoring.datasets import read_scored_csv

    return read_scored_csv(path, text_col, score_col, second, min_rows=min_rows,
                           second_rater_optional=second_optional)


def _check_trainable(data: Any) -> None:
    levels = np.unique(data.scores)
    if levels.size < 2:
        raise ValidationFailed(
            f"every answer has the score {int(levels[0])}; a scorer needs at least two "
            "different levels to learn from", file=data.path, field=data.score_col,
            hint="add marked answers at other levels")
    if len(data) < 10:
        raise ValidationFailed(f"only {len(data)} marked answers; at least 10 are needed to "
                               "train and cross-validate a scorer", file=data.path,
                               hint="add more marked answers (a few hundred per question is typical)")


def _second_rating(data: Any, column: str) -> np.ndarray:
    """The training file's second-rater marks (NaN where an answer was marked once), checked
    against the first rater's scale."""
    lo, hi = data.levels
    second = data.second
    bad = np.flatnonzero((second < lo) | (second > hi))  # NaN compares false: marked once is fine
    if bad.size:
        i = int(bad[0])
        raise ValidationFailed(
            f"the second rater's score {int(second[i])} is outside the scale of the scores in "
            f"'{data.score_col}' ({lo}-{hi})", file=data.path, row=data.rows[i],
            field=column,
            hint="both raters must mark on the same scale: check the row, and that "
                 "--second-rater-col names the second rater's score column")
    return second


_JOBS_HELP = ("Threads to train with (the trees grow on them): 2 on a two-core machine takes about a "
              "quarter off training. The model still predicts on one thread unless told otherwise.")


def _fit(data: Any, quiet_stdout: bool, label: str, second: Optional[np.ndarray] = None, jobs: int = 1):
    from vbr.scoring.learned import LearnedScorer

    model = LearnedScorer(n_jobs=jobs)
    with _progress(quiet_stdout) as progress:
        both = "" if second is None else ", both raters' marks"
        progress.add_task(f"{label} on {len(data):,} answers "
                          f"(levels {data.levels[0]}-{data.levels[1]}{both}) ...", total=None)
        start = time.perf_counter()
        try:
            model.fit(data.texts, data.scores, second_rating=second)
        except ValueError as exc:
            raise ValidationFailed(f"cannot train on this file: {exc}", file=data.path) from None
        seconds = time.perf_counter() - start
    model.set_params(n_jobs=None)  # threads for training only: where it predicts decides its own
    return model, seconds


def _rubric_ref(rubric: Optional[str]) -> Optional[str]:
    if rubric is None:
        return None
    if "@" in rubric:
        if not _REF.match(rubric):
            raise ValidationFailed(f"'{rubric}' is not a rubric reference", field="--rubric",
                                   hint="use a rubric id such as 'nhs-values' or id@version "
                                        "such as 'nhs-values@1.0'")
        return rubric
    from vbr.cli.rubrics import get_rubric

    return get_rubric(rubric).ref


@scorer_app.command("train")
def train(
    train_csv: Path = typer.Argument(..., help="CSV of marked answers to learn from."),
    text_col: str = typer.Option(..., "--text-col", help="Column holding the answer text."),
    score_col: str = typer.Option(..., "--score-col", help="Column holding the whole-number score."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write."),
    rubric: Optional[str] = typer.Option(
        None, "--rubric", help="Rubric id (or id@version) the marks follow; loading the model "
        "for another rubric version is then refused."),
    second_rater_col: Optional[str] = typer.Option(
        None, "--second-rater-col", help="Column with a second human's score of the same "
        "answers, same scale: the scorer then learns from both raters' marks (the mean of "
        "the two, disagreements at half weight each). Leave a cell blank for an answer "
        "marked once."),
    question: Optional[str] = typer.Option(
        None, "--question", help="Question id the marks are for (with --value and --rubric): the "
        "model can then score that value in campaigns (`vbr score CAMPAIGN --model FILE`)."),
    value: Optional[str] = typer.Option(
        None, "--value", help="Value id the marks are for (with --question); e.g. 'compassion'."),
    tenant: Optional[str] = typer.Option(
        None, "--tenant", help="The organisation (API tenant) whose candidates' answers these are: a service "
        "shared by several (VBR_MODELS) then uses the model for that tenant's campaigns only. Default: "
        "every tenant's."),
    jobs: int = typer.Option(1, "--jobs", min=1, help=_JOBS_HELP),
) -> None:
    """Train a learned scorer on TRAIN_CSV and save it with its model card."""
    from vbr.scoring.model_io import save_model

    ref = _rubric_ref(rubric)
    _check_target(rubric, question, value)
    data = _read(train_csv, text_col, score_col, second_rater_col)
    _check_trainable(data)
    second = None if second_rater_col is None else _second_rating(data, second_rater_col)
    _check_scale(data, ref, second_rater_col)
    model, seconds = _fit(data, False, "Training", second, jobs)
    notes = {"train_file": train_csv.name, "text_col": text_col, "score_col": score_col,
             "train_seconds": round(seconds, 2)}
    if second_rater_col is not None:
        notes["second_rater_col"] = second_rater_col
    card = save_model(model, output, rubric_ref=ref, data_sha256=data.sha256, notes=notes,
                      question_id=question, value_id=value, tenant=tenant)
    both = (f", {card.n_double_marked:,} of them double-marked ('{score_col}' and "
            f"'{second_rater_col}')" if card.second_rater else "")
    console.print(
        f"Trained on {card.n_train:,} answers{both} (levels {card.levels[0]}-{card.levels[1]}) "
        f"in {seconds:.1f}s; cross-validated QWK {card.cv_qwk:.3f}. Saved to {output}"
        + (f" for rubric {ref}" if ref else "")
        + (f", question '{question}', value '{value}'." if question else "."), highlight=False)


def _check_scale(data: Any, ref: Optional[str], second_col: Optional[str]) -> None:
    """Marks for an installed rubric must be on its scale (a model is refused in campaigns
    otherwise): the first mark outside it is named by file, row and column, before training."""
    if ref is None:
        return
    from vbr.plugins import get_plugins

    found = get_plugins().registry("rubrics").get(ref.split("@")[0])
    if found is None or found.ref != ref:
        return  # a rubric version not installed here: its scale is not known
    lo, hi = found.scale.min, found.scale.max
    for col, marks in ((data.score_col, data.scores), (second_col, data.second)):
        if col is None or marks is None:
            continue
        bad = np.flatnonzero((np.asarray(marks, dtype=float) < lo) | (np.asarray(marks, dtype=float) > hi))
        if bad.size:
            i = int(bad[0])
            raise ValidationFailed(f"the score {int(marks[i])} is outside rubric {ref}'s scale {lo}-{hi}",
                                   file=data.path, row=data.rows[i], field=col,
                                   hint="mark on the rubric's scale, or leave out --rubric for a model used "
                                        "outside campaigns")


def _check_target(rubric: Optional[str], question: Optional[str], value: Optional[str]) -> None:
    """--question and --value come together, with an installed --rubric that has them; checked
    before training, so a typo does not cost a training run."""
    if question is None and value is None:
        return
    if question is None or value is None:
        raise ValidationFailed("give --question and --value together", field="--question" if question is None
                               else "--value", hint="the model scores one value of one question")
    if rubric is None:
        raise ValidationFailed("--question needs --rubric", field="--rubric",
                               hint="name the rubric the question belongs to, e.g. --rubric nhs-constitution")
    from vbr.cli.rubrics import get_rubric

    found = get_rubric(rubric.split("@")[0])
    if "@" in rubric and rubric != found.ref:
        raise ValidationFailed(f"installed rubric is {found.ref}, not {rubric}", field="--rubric",
                               hint="questions can be checked only against the installed version")
    from vbr.scoring.model_scorer import target_problem

    problem = target_problem(found, question, value)
    if problem is not None:
        raise ValidationFailed(problem.message, field=f"--{problem.field}", hint=problem.hint)


@scorer_app.command("show")
def show(
    model_file: Path = typer.Argument(..., help="A model file written by `vbr scorer train`."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Show a model's card (what it scores, what it was trained on, how it agreed with the marks in
    cross-validation), after checking the file is intact; the model itself is not loaded."""
    from vbr.scoring.model_io import read_card

    card = read_card(model_file)
    if fmt is OutputFormat.json:
        print(card.model_dump_json(indent=2))
        return
    rows = [
        ("rubric", card.rubric_ref or "none (not usable in campaigns)"),
        ("scores", f"question '{card.question_id}', value '{card.value_id}'" if card.question_id
         else "no question named (train with --question and --value to use it in campaigns)"),
        ("tenant", card.tenant or "every tenant's campaigns"),
        ("trained", f"{card.created:%Y-%m-%d %H:%M} UTC on {card.n_train:,} answers, levels "
                    f"{card.levels[0]}-{card.levels[1]}"
         + (f", {card.n_double_marked:,} double-marked (both raters' marks)" if card.second_rater else "")),
        ("cross-validated QWK", f"{card.cv_qwk:.3f}" if card.cv_qwk is not None else "-"),
        ("cross-validated exact agreement", f"{card.cv_exact:.3f}" if card.cv_exact is not None else "-"),
        ("training data SHA-256", card.data_sha256 or "-"),
        ("model SHA-256 (scores carry the first 12)", card.model_sha256),
        ("features", ", ".join(card.feature_set) or "-"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(card.libraries.items()))),
    ]
    rows += [(f"note: {k}", str(v)) for k, v in sorted(card.notes.items())]
    table = Table(title=f"{model_file.name}: model card (file intact)", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def _baseline(train: Any, test: Any) -> np.ndarray:
    """Plain TF-IDF + ridge regression, rounded and clipped to the training scale."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    vec = TfidfVectorizer()
    X = vec.fit_transform(train.texts)
    reg = Ridge().fit(X, train.scores)
    lo, hi = train.levels
    return np.clip(np.rint(reg.predict(vec.transform(test.texts))), lo, hi).astype(np.int64)


@scorer_app.command("evaluate")
def evaluate(
    train_csv: Path = typer.Argument(..., help="CSV of marked answers to learn from."),
    test_csv: Path = typer.Argument(..., help="CSV of marked answers to score and compare."),
    text_col: str = typer.Option(..., "--text-col", help="Column holding the answer text."),
    score_col: str = typer.Option(..., "--score-col", help="Column holding the whole-number score."),
    second_rater_col: Optional[str] = typer.Option(
        None, "--second-rater-col", help="Column with a second human's score (blank for an "
        "answer marked once). TEST_CSV's gives the human-human agreement on the answers both "
        "humans marked; when TRAIN_CSV has the column too, the scorer is trained on both "
        "raters' marks (the mean of the two, disagreements at half weight each). The scorer "
        "is always compared with --score-col."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    jobs: int = typer.Option(1, "--jobs", min=1, help=_JOBS_HELP),
) -> None:
    """Train on TRAIN_CSV, score TEST_CSV, and compare with its human marks."""
    from vbr.scoring.agreement import (adjacent_agreement, exact_agreement,
                                       quadratic_weighted_kappa, standardised_mean_difference,
                                       validation_report)

    as_json = fmt is OutputFormat.json
    train_data = _read(train_csv, text_col, score_col, second_rater_col, second_optional=True)
    _check_trainable(train_data)
    second = None if train_data.second is None else _second_rating(train_data, second_rater_col)
    test_data = _read(test_csv, text_col, score_col, second_rater_col)
    model, seconds = _fit(train_data, as_json, "Training", second, jobs)
    start = time.perf_counter()
    pred, conf = model.predict_with_confidence(test_data.texts)
    predict_seconds = time.perf_counter() - start
    base = _baseline(train_data, test_data)
    human = test_data.scores
    report = validation_report(pred, human, test_data.second, n_boot=500)
    out: dict[str, Any] = {
        "qwk": quadratic_weighted_kappa(human, pred),
        "qwk_ci": [report.model_human.qwk.lower, report.model_human.qwk.upper],
        "baseline_qwk": quadratic_weighted_kappa(human, base),
        "exact": exact_agreement(human, pred),
        "adjacent": adjacent_agreement(human, pred),
        "smd": standardised_mean_difference(pred, human),
        "n_train": len(train_data),
        "trained_on_second_rater": bool(model.second_rater_),
        "n_double_marked": int(model.n_double_marked_),
        "n_test": len(test_data),
        "train_levels": list(train_data.levels),
        "test_levels": list(test_data.levels),
        "cv_qwk": model.cv_qwk_,
        "mean_confidence": float(np.mean(conf)),
        "train_seconds": round(seconds, 3),
        "predict_seconds": round(predict_seconds, 3),
        "verdict": report.verdict,
        "reasons": list(report.reasons),
    }
    if test_data.second is not None:
        marked = ~np.isnan(test_data.second)  # the answers the second rater marked too
        out["n_human_pairs"] = int(marked.sum())
        if marked.any():
            h1, h2 = human[marked], test_data.second[marked].astype(np.int64)
            out["human_qwk"] = quadratic_weighted_kappa(h1, h2)
            out["human_exact"] = exact_agreement(h1, h2)
            out["human_adjacent"] = adjacent_agreement(h1, h2)
            out["human_smd"] = standardised_mean_difference(h2, h1)
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return

    table = Table(title=f"{test_csv.name}: learned scorer vs human marks ({score_col})")
    table.add_column("measure")
    table.add_column("learned scorer", justify="right")
    table.add_column("TF-IDF + ridge baseline", justify="right")
    if "human_qwk" in out:
        table.add_column(f"second rater ({second_rater_col})", justify="right")

    def row(name: str, model_v: float, base_v: float | None, human_v: float | None) -> None:
        cells = [name, f"{model_v:.3f}", "" if base_v is None else f"{base_v:.3f}"]
        if "human_qwk" in out:
            cells.append("" if human_v is None else f"{human_v:.3f}")
        table.add_row(*cells)

    row("QWK", out["qwk"], out["baseline_qwk"], out.get("human_qwk"))
    row("exact agreement", out["exact"], exact_agreement(human, base), out.get("human_exact"))
    row("adjacent agreement", out["adjacent"], adjacent_agreement(human, base),
        out.get("human_adjacent"))
    row("standardised mean difference", out["smd"], standardised_mean_difference(base, human),
        out.get("human_smd"))
    console.print(table)
    both = (f", {out['n_double_marked']:,} double-marked: trained on both raters' marks "
            f"('{score_col}' and '{second_rater_col}')" if out["trained_on_second_rater"] else "")
    if second_rater_col and train_data.second is None:
        both = f" (marked once: {train_csv.name} has no '{second_rater_col}' column)"
    if out.get("n_human_pairs") not in (None, out["n_test"]):
        console.print(f"The second rater marked {out['n_human_pairs']:,} of the {out['n_test']:,} "
                      "test answers; the human-human figures are on those.", highlight=False)
    console.print(f"Trained on {out['n_train']:,} answers{both} in {seconds:.1f}s "
                  f"(cross-validated QWK {out['cv_qwk']:.3f}); scored {out['n_test']:,} "
                  f"against '{score_col}'. QWK 95% interval "
                  f"{out['qwk_ci'][0]:.3f}-{out['qwk_ci'][1]:.3f}.", highlight=False)
    console.print(f"[bold]Verdict: {report.verdict}[/]")
    for reason in report.reasons[1:]:
        console.print(f"  - {reason}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(scorer_app, name="scorer")
