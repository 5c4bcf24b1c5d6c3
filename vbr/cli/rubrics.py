"""``vbr rubrics``: list, show and validate value rubrics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.tree import Tree

from vbr.cli.common import console, print_json
from vbr.errors import NotFound, ValidationFailed

rubrics_app = typer.Typer(help="List, show and validate value rubrics.", no_args_is_help=True)


def use_rubric_dir(rubric_dir: Optional[Path]) -> None:
    """Add ``--rubric-dir`` to the rubric search path before plugins are built."""
    if rubric_dir is None:
        return
    from vbr.plugins import reset_plugins
    from vbr.rubrics import RUBRIC_PATH_ENV

    current = os.environ.get(RUBRIC_PATH_ENV, "")
    os.environ[RUBRIC_PATH_ENV] = os.pathsep.join(p for p in (str(rubric_dir), current) if p)
    reset_plugins()


def get_rubric(rubric_id: str):
    from vbr.plugins import get_plugins

    found = get_plugins().registry("rubrics")
    if rubric_id not in found:
        raise NotFound(f"no rubric '{rubric_id}'", hint=f"known rubrics: {', '.join(sorted(found)) or 'none'}")
    return found[rubric_id]


RubricDir = typer.Option(None, "--rubric-dir", help="Extra folder of rubric YAML files (also VBR_RUBRIC_PATH).",
                         file_okay=False, exists=True)


@rubrics_app.command("list")
def list_rubrics(
    rubric_dir: Optional[Path] = RubricDir,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the rubrics that are available (built in, from --rubric-dir, and from plugins)."""
    from vbr.plugins import get_plugins

    use_rubric_dir(rubric_dir)
    found = get_plugins().registry("rubrics")
    if json_out:
        print_json([{"id": r.id, "version": r.version, "name": r.name, "framework": r.framework,
                     "values": [v.id for v in r.values], "questions": len(r.questions)}
                    for r in found.values()])
        return
    table = Table(title="Value rubrics")
    for col in ("id", "version", "name", "values", "questions"):
        table.add_column(col)
    for r in sorted(found.values(), key=lambda r: r.id):
        table.add_row(r.id, r.version, r.name, f"{len(r.values)}: " + ", ".join(v.name for v in r.values),
                      str(len(r.questions)))
    console.print(table)


@rubrics_app.command("show")
def show_rubric(
    rubric_id: str = typer.Argument(..., help="Rubric id, e.g. 6cs or nhs-constitution."),
    rubric_dir: Optional[Path] = RubricDir,
    yaml_out: bool = typer.Option(False, "--yaml", help="Print the rubric as YAML."),
) -> None:
    """Show one rubric: values, indicators, anchors and questions."""
    from vbr.rubrics import dump_rubric

    use_rubric_dir(rubric_dir)
    rubric = get_rubric(rubric_id)
    if yaml_out:
        typer.echo(dump_rubric(rubric))
        return
    tree = Tree(f"[bold]{rubric.name}[/] ({rubric.ref}) - {rubric.framework}")
    for value in rubric.values:
        node = tree.add(f"[bold cyan]{value.name}[/] ({value.id}): {value.description}")
        pos = node.add("[green]positive indicators[/]")
        for i in value.positive:
            pos.add(f"{i.text} [dim]({', '.join(i.phrases)})[/]")
        neg = node.add("[red]negative indicators[/]")
        for i in value.negative:
            neg.add(f"{i.text} [dim]({', '.join(i.phrases)})[/]")
        anchors = node.add("anchors")
        for lvl in rubric.anchors_for(value.id):
            anchors.add(f"{lvl.level} {lvl.label}: {lvl.anchor}")
        qs = node.add("questions")
        for q in rubric.questions:
            if value.id in q.values:
                qs.add(f"[{q.type.value}] {q.text}")
    console.print(tree)


@rubrics_app.command("validate")
def validate(files: list[Path] = typer.Argument(..., help="Rubric YAML file(s) to check.", exists=True,
                                                 dir_okay=False)) -> None:
    """Validate rubric files; exits 2 and lists file, line and field for every problem."""
    from vbr.rubrics import load_rubric_file

    failed = False
    for path in files:
        try:
            rubric = load_rubric_file(path)
        except ValidationFailed as exc:
            failed = True
            console.print(f"[red]✗[/] {exc}", highlight=False, soft_wrap=True)
            continue
        console.print(f"[green]✓[/] {path}: {rubric.ref}, {len(rubric.values)} values, "
                      f"{len(rubric.questions)} questions", highlight=False)
    if failed:
        raise typer.Exit(ValidationFailed.exit_code)


def register(app: typer.Typer) -> None:
    app.add_typer(rubrics_app, name="rubrics")
