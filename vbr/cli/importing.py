"""``vbr import`` and ``vbr export``: the file adapters from the command line.

* ``vbr import applications FILE --campaign ID [--mapping FILE] [--vacancy REF] [--skip-rejected]``
  (CSV or JSON lines, by suffix or ``--format``): checked whole, then written in batches;
  resumable: run the same command again after an interruption.
* ``vbr import mapping``: print the default column mapping (YAML) to start a ``--mapping`` file.
* ``vbr import equality FILE``: all rows or none, into the equality store only.
* ``vbr export scores CAMPAIGN -o FILE`` (CSV, or JSON lines for ``.jsonl``).
* ``vbr export wres CAMPAIGN... --appointed FILE -o FILE --as NAME``.

Rejected rows go to ``FILE.rejected.csv`` with a reason. Exit codes: 0 done, 2 invalid input
(nothing stored), 4 not found. ``vbr webhooks`` is registered from here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vbr.cli.common import DbOption, console, err_console, print_json, resolve_db
from vbr.cli.shortlist import EqualityDbOption, read_ids, vbr_errors

import_app = typer.Typer(help="Import applications and answers, or equality-monitoring data, from files.",
                         no_args_is_help=True)
export_app = typer.Typer(help="Export scores with evidence, or the WRES indicator-2 extract.", no_args_is_help=True)


def _engine(db: str | None, equality_db: str | None = None):
    from vbr.engine import Engine
    from vbr.fairness.equality import equality_url_for

    url = resolve_db(db)
    return Engine(url, equality_db=resolve_db(equality_db) if equality_db else equality_url_for(url))


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)


@import_app.command("applications")
def import_applications(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (NHS Jobs-style) or JSON lines."),
    campaign: str = typer.Option(..., "--campaign", "-c", help="Campaign the applications belong to."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", exists=True, dir_okay=False,
                                           help="Column mapping (YAML/JSON); see vbr.formats.nhsjobs."),
    vacancy: Optional[str] = typer.Option(None, "--vacancy", help="Only this Vacancy Reference is accepted."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Importer id (default: by file suffix)."),
    skip_rejected: bool = typer.Option(False, "--skip-rejected",
                                       help="Import the good rows even if some are rejected."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Applications per transaction."),
    actor: str = typer.Option("vbr-import", "--as", help="Who is importing (recorded in the log)."),
    db: Optional[str] = DbOption,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import applications and answers; names only redact the answers and are then dropped."""
    from vbr.formats import import_applications as run

    with vbr_errors():
        engine = _engine(db)
        with Progress(TextColumn("[bold]import[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err_console, transient=True,
                      disable=as_json or not err_console.is_terminal) as bar:
            task = bar.add_task(file.name, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run(engine, file, campaign, actor=actor, importer=fmt, mapping=mapping, vacancy=vacancy,
                         skip_rejected=skip_rejected, batch_size=batch_size, progress=progress)
    if as_json:
        print_json(report.as_dict())
        return
    _warn(report.warnings)
    console.print(f"{file}: {report.imported} application(s) imported into '{campaign}', "
                  f"{report.already_stored} already stored, {report.rejected} rejected", highlight=False, soft_wrap=True)
    if report.rejected_file:
        console.print(f"rejected rows with reasons: {report.rejected_file}", highlight=False, soft_wrap=True)


@import_app.command("mapping")
def print_mapping() -> None:
    """Print the default NHS Jobs-style column mapping (YAML) to start a --mapping file from."""
    import yaml

    from vbr.formats.nhsjobs import ColumnMapping

    data = ColumnMapping().model_dump()
    data["questions"] = {"<column header>": "<question id>"}
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")


@import_app.command("equality")
def import_equality(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    id_col: str = typer.Option("application_id", "--id-col"),
    ethnic_col: str = typer.Option("ethnic_code", "--ethnic-col"),
    sex_col: str = typer.Option("sex", "--sex-col"),
    disability_col: str = typer.Option("disability", "--disability-col"),
    actor: str = typer.Option("vbr-import", "--as", help="Who is importing (recorded)."),
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = EqualityDbOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import equality-monitoring data into its own store: every row or none."""
    from vbr.fairness.equality import EqualityStore, equality_url_for
    from vbr.formats.equality_csv import EqualityCsvImporter

    with vbr_errors():
        url = resolve_db(equality_db) if equality_db else equality_url_for(resolve_db(db))
        report = EqualityCsvImporter().import_file(EqualityStore(url), file, actor=actor, id_col=id_col,
                                                   ethnic_col=ethnic_col, sex_col=sex_col,
                                                   disability_col=disability_col)
    if as_json:
        print_json(report.as_dict())
        return
    _warn(report.warnings)
    console.print(f"{file}: {report.rows} equality record(s): {report.inserted} new, {report.updated} updated",
                  highlight=False, soft_wrap=True)


@export_app.command("scores")
def export_scores(
    campaign: str = typer.Argument(...),
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="CSV, or JSON lines for .jsonl."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Exporter id (default: by suffix)."),
    db: Optional[str] = DbOption,
) -> None:
    """Current scores (after overrides) with the evidence behind each level."""
    from vbr.formats import find_adapter
    from vbr.formats.scores import score_rows

    with vbr_errors():
        engine = _engine(db)
        exporter = find_adapter(engine.plugins.registry("exporters"), "scores", output, fmt)
        n = exporter.write(score_rows(engine, campaign), output)
    console.print(f"{n} score(s) of '{campaign}' written to {output}", highlight=False, soft_wrap=True)


@export_app.command("wres")
def export_wres(
    campaigns: list[str] = typer.Argument(..., help="Campaign id(s): e.g. a year's vacancies."),
    appointed: Path = typer.Option(..., "--appointed", exists=True, dir_okay=False,
                                   help="Appointed application ids: one per line, or a CSV with application_id."),
    shortlisted: Optional[Path] = typer.Option(None, "--shortlisted", exists=True, dir_okay=False,
                                               help="Shortlisted ids (default: the released shortlists)."),
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False),
    actor: str = typer.Option(..., "--as", help="Who reads the equality data (recorded)."),
    db: Optional[str] = DbOption,
    equality_db: Optional[str] = EqualityDbOption,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """WRES indicator 2: White/BME/Unknown counts shortlisted and appointed, and the relative likelihood."""
    from vbr.formats.wres import WresIndicator2Exporter, wres_counts, wres_rows

    with vbr_errors():
        engine = _engine(db, equality_db)
        figures = wres_counts(engine, campaigns, read_ids(appointed), actor=actor,
                              shortlisted=read_ids(shortlisted) if shortlisted else None)
        WresIndicator2Exporter().write(wres_rows(figures), output)
    if as_json:
        print_json(figures)
        return
    rl = figures["relative_likelihood"]
    value = "undefined" if rl.get("relative_likelihood") is None else f"{rl['relative_likelihood']:.2f}"
    console.print(f"WRES indicator 2 written to {output}: relative likelihood (White vs BME appointed from "
                  f"shortlisting) {value}; {rl.get('verdict_text', '')}", highlight=False, soft_wrap=True)
    if figures["codes_not_in_nhs_list"]:
        _warn([f"ethnic code(s) {figures['codes_not_in_nhs_list']} are not NHS codes: counted as Unknown"])


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    from vbr.cli import webhooks

    webhooks.register(app)
