"""``vbr audit-scale`` and ``vbr score-batch``: audits and batch scoring at national scale, on Dask.

``vbr audit-scale 'extract/*.parquet' --stage shortlisted --stage appointed --engine dask``
audits one dataset (a glob, a directory or files; Parquet or CSV) holding the outcome columns,
the ethnic code and optionally site/campaign and sex, joined already. With ``--engine dask``
the rows are counted on a Dask cluster (``--scheduler tcp://host:8786``, or a local cluster of
two worker processes on 127.0.0.1) and the counts are audited by the same code as ``vbr audit``;
``--engine memory`` reads the files into this process instead (for small extracts, or to compare).

``vbr score-batch 'answers/*.parquet' -o scores/ --model care.vbrmodel --rubric 6cs`` scores every
answer with a saved learned scorer (or ``--scorer evidence``), shipped to the workers once, and
writes Parquet with the scorer id and version on every row.

Exit codes as ``vbr audit``: 0 PASS; 6 held (REVIEW or BLOCK); 2 invalid input; 4 not found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vbr.cli.audit import (ConfigOption, FormatOption, GroupingOption, OutputOption, ReferenceOption,
                           RegimeOption)
from vbr.cli.common import console, err_console
from vbr.errors import ValidationFailed, VbrError

EXIT_HELP = ("Exit codes: 0 PASS; 6 the gate would hold the shortlist (REVIEW or BLOCK); "
             "2 invalid input (the message names file or partition, row and column); 4 not found.")


def _memory_frame(source: str, columns: list[str]):
    """The rows of a glob of Parquet/CSV files in this process, read as the Dask engine reads them."""
    import pandas as pd

    from vbr.fairness.distributed import expand_source

    files, kind = expand_source(source)
    if kind == "parquet":
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)
    return pd.concat([pd.read_csv(f, usecols=columns, dtype=str, keep_default_na=False, na_values=[""],
                                  encoding="utf-8-sig") for f in files], ignore_index=True)


def run_audit_scale(source: str, *, stages: list[str], ethnic_col: str, strata_col: str | None,
                    sex_col: str | None, engine: str, scheduler: str | None, cfg: Any,
                    workers: int = 2, progress: bool = False) -> Any:
    """The audit of ``source`` with the gate configuration ``cfg`` on the chosen engine."""
    if engine == "dask":
        from vbr.fairness.distributed import dask_client, selection_audit_dask

        with dask_client(scheduler=scheduler, n_workers=workers) as client:
            return selection_audit_dask(source, stages=stages, code_col=ethnic_col, strata_col=strata_col,
                                        sex_col=sex_col, client=client, regime=cfg.regime, grouping=cfg.grouping,
                                        reference=cfg.reference, config=cfg.audit, progress=progress)
    if engine != "memory":
        raise ValidationFailed(f"--engine must be dask or memory, not {engine!r}", field="engine")
    if scheduler:
        raise ValidationFailed("--scheduler needs --engine dask", field="scheduler")
    from vbr.fairness import selection_audit

    cols = list(dict.fromkeys(stages + [ethnic_col] + [c for c in (strata_col, sex_col) if c]))
    df = _memory_frame(source, cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValidationFailed(f"column {missing[0]!r} is missing", field=missing[0])
    return selection_audit(df[stages], df[ethnic_col], strata=df[strata_col] if strata_col else None,
                           sex=df[sex_col] if sex_col else None, regime=cfg.regime, grouping=cfg.grouping,
                           reference=cfg.reference, config=cfg.audit)


def audit_scale_command(
    source: str = typer.Argument(..., help="Glob, directory or file of Parquet or CSV rows (quote globs)."),
    stage: list[str] = typer.Option(..., "--stage", help="Outcome column (0/1), repeat in funnel order."),
    ethnic_col: str = typer.Option("ethnic_code", "--ethnic-col", help="Ethnic category code column."),
    strata_col: Optional[str] = typer.Option(None, "--strata-col", help="Site or campaign column (stratified tests)."),
    sex_col: Optional[str] = typer.Option(None, "--sex-col", help="Sex column (LL144 sex and intersection tables)."),
    engine: str = typer.Option("dask", "--engine", help="dask (count on a Dask cluster) or memory (this process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", envvar="VBR_DASK_SCHEDULER",
                                            help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 "
                                                 "(default: a local cluster on 127.0.0.1)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Worker processes of the local cluster."),
    regime: str = RegimeOption,
    reference: Optional[str] = ReferenceOption,
    grouping: str = GroupingOption,
    config: Optional[Path] = ConfigOption,
    fmt: str = FormatOption,
    output: Optional[Path] = OutputOption,
    progress: bool = typer.Option(False, "--progress/--no-progress", help="Show Dask's progress bar."),
) -> None:
    """Audit adverse impact across ethnic groups over a large dataset, counting on Dask.

    The same figures, verdicts and findings as ``vbr audit`` on the same rows (the fairlearn
    cross-check, which needs every row in one process, is not run with --engine dask).
    """
    from vbr.fairness.gate import clean, decide

    if fmt not in ("table", "json", "html"):
        err_console.print(f"[bold red]error:[/] --format must be table, json or html, not {fmt!r}")
        raise typer.Exit(2)
    try:
        from vbr.cli.audit import gate_config

        cfg = gate_config(config, regime=regime, grouping=grouping, reference=reference)
        result = run_audit_scale(source, stages=list(stage), ethnic_col=ethnic_col, strata_col=strata_col,
                                 sex_col=sex_col, engine=engine, scheduler=scheduler, cfg=cfg, workers=workers,
                                 progress=progress)
        decision, reasons = decide(result, [])
        figures = clean(result.to_dict())
    except VbrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None

    from vbr.cli.audit import emit_audit

    emit_audit(figures, decision=decision.value, reasons=reasons, title=f"Adverse-impact audit: {source}",
               threshold=cfg.audit.ratio_threshold, grouping=grouping, fmt=fmt, output=output,
               summary={"regime": regime, "grouping": grouping, "reference": reference, "engine": engine,
                        "rows": result.counts.n_rows})


def score_batch_command(
    source: str = typer.Argument(..., help="Glob, directory or file of Parquet or CSV answers (quote globs)."),
    output: Path = typer.Option(..., "-o", "--output", file_okay=False, help="Folder for the Parquet output."),
    model: Optional[Path] = typer.Option(None, "--model", exists=True, dir_okay=False,
                                         help="Saved learned scorer (vbr scorer train)."),
    scorer: Optional[str] = typer.Option(None, "--scorer", help="A registered scorer id, e.g. evidence."),
    rubric: Optional[str] = typer.Option(None, "--rubric", help="Rubric id (needed by --scorer; checked against "
                                                                 "the model's rubric with --model)."),
    question: Optional[str] = typer.Option(None, "--question", help="Question id for every row (--scorer)."),
    question_col: Optional[str] = typer.Option(None, "--question-col", help="Column with each row's question id."),
    id_col: str = typer.Option("answer_id", "--id-col", help="Answer id column."),
    text_col: str = typer.Option("answer", "--text-col", help="Answer text column (redacted)."),
    key_col: Optional[str] = typer.Option(None, "--key-col", help="Per-answer key text (models trained with keys)."),
    value_id: Optional[str] = typer.Option(None, "--value", help="Value the model scores (labels its output)."),
    redact: bool = typer.Option(False, "--redact", help="Run the built-in redactors on the workers first."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", envvar="VBR_DASK_SCHEDULER",
                                            help="Dask scheduler address (default: a local cluster on 127.0.0.1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace part files already in the output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Score every answer in SOURCE on Dask and write Parquet with scorer id and version."""
    from vbr.scoring.batch import score_batch

    try:
        if (model is None) == (scorer is None):
            raise ValidationFailed("give either --model (a saved learned scorer) or --scorer (a registered id)",
                                   field="model")
        rub = None
        if rubric:
            from vbr.cli.rubrics import get_rubric

            rub = get_rubric(rubric.split("@")[0])
        if model is not None:
            from vbr.scoring.model_io import load_model

            est, card = load_model(model, expected_rubric_ref=rub.ref if rub is not None else None)
            report = score_batch(source, output, est, scorer_id=f"learned:{model.stem}",
                                 scorer_version=card.model_sha256[:12], value_id=value_id, id_col=id_col,
                                 text_col=text_col, question_col=question_col, key_col=key_col, redact=redact,
                                 scheduler=scheduler, progress=progress, overwrite=overwrite)
        else:
            from vbr.plugins import get_plugins

            scorers = get_plugins().registry("scorers")
            if scorer not in scorers:
                raise ValidationFailed(f"no scorer '{scorer}'", field="scorer",
                                       hint=f"installed: {', '.join(sorted(scorers)) or 'none'}")
            report = score_batch(source, output, scorers[scorer], rubric=rub, question=question,
                                 question_col=question_col, id_col=id_col, text_col=text_col, redact=redact,
                                 scheduler=scheduler, progress=progress, overwrite=overwrite)
    except VbrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    console.print(f"Scored {report.rows_in:,} answers into {report.rows_out:,} rows in {report.partitions} "
                  f"Parquet file(s) under {report.output} with {report.scorer_id} {report.scorer_version} "
                  f"in {report.seconds:.1f}s.", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit-scale", epilog=EXIT_HELP)(audit_scale_command)
    app.command("score-batch")(score_batch_command)


__all__ = ["register", "run_audit_scale", "audit_scale_command", "score_batch_command"]
