"""``vbr import`` / ``vbr export`` from the command line: reports, error lines, exit codes."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from tests.formats.conftest import HEADER, QUESTIONS, row, write_csv


def cli():
    from vbr.cli import app
    from vbr.cli import importing

    if not any(g.name == "import" for g in app.registered_groups):
        importing.register(app)
    return app


def setup_db(tmp_path):
    from vbr.engine import Engine

    db = tmp_path / "cli.sqlite"
    Engine(db).create_campaign("c1", "Nurse", "6cs", question_ids=QUESTIONS, actor="r")
    return str(db)


def test_import_export_round_trip(tmp_path):
    db, runner, app = setup_db(tmp_path), CliRunner(), cli()
    f = write_csv(tmp_path / "apps.csv", HEADER + ["Religion"], [row("A1") + ["x"], row("A2") + ["y"]])
    r = runner.invoke(app, ["import", "applications", str(f), "--campaign", "c1", "--db", db])
    assert r.exit_code == 0, r.output
    assert "2 application(s) imported into 'c1', 0 already stored, 0 rejected" in r.output
    assert "Religion" in r.output and "vbr import equality" in r.output
    r = runner.invoke(app, ["import", "applications", str(f), "--campaign", "c1", "--db", db, "--json"])
    assert json.loads(r.output)["already_stored"] == 2
    eq = write_csv(tmp_path / "eq.csv", ["application_id", "ethnic_code"], [["A1", "A"], ["A2", "Q7"]])
    r = runner.invoke(app, ["import", "equality", str(eq), "--db", db, "--as", "officer"])
    assert r.exit_code == 0, r.output
    assert "2 equality record(s): 2 new, 0 updated" in r.output and "Q7" in r.output
    from vbr.engine import Engine

    Engine(db).score("c1")
    r = runner.invoke(app, ["export", "scores", "c1", "-o", str(tmp_path / "s.csv"), "--db", db])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "s.csv", encoding="utf-8") as fh:
        assert {x["application_id"] for x in csv.DictReader(fh)} == {"A1", "A2"}
    r = runner.invoke(app, ["export", "scores", "c1", "-o", str(tmp_path / "s.jsonl"), "--db", db])
    assert r.exit_code == 0 and (tmp_path / "s.jsonl").read_text().count("\n") >= 2
    r = runner.invoke(app, ["export", "scores", "c1", "-o", str(tmp_path / "s.xml"), "--db", db])
    assert r.exit_code == 4 and "--format" in r.output


def test_bad_file_gives_error_lines_and_exit_2(tmp_path):
    db, runner, app = setup_db(tmp_path), CliRunner(), cli()
    f = write_csv(tmp_path / "bad.csv", HEADER, [row("A1"), row("A2", dc="perhaps")])
    r = runner.invoke(app, ["import", "applications", str(f), "--campaign", "c1", "--db", db])
    assert r.exit_code == 2
    assert "row 3, field 'Disability Confident': 'perhaps' is not yes or no" in r.output
    assert "bad.csv.rejected.csv" in r.output
    win = tmp_path / "win.csv"
    win.write_bytes("Application ID,6cs-care-1\nA1,caf\u00e9\n".encode("latin-1"))
    r = runner.invoke(app, ["import", "applications", str(win), "--campaign", "c1", "--db", db])
    assert r.exit_code == 2 and "not UTF-8" in r.output and "row 2" in r.output
    r = runner.invoke(app, ["import", "applications", str(f), "--campaign", "c1", "--db", db, "--skip-rejected"])
    assert r.exit_code == 0 and "1 application(s) imported" in r.output and "1 rejected" in r.output


def test_wres_export_from_cli(tmp_path):
    from vbr.engine import Engine

    db, runner, app = setup_db(tmp_path), CliRunner(), cli()
    ids = [f"A{i}" for i in range(20)]
    f = write_csv(tmp_path / "apps.csv", HEADER, [row(a) for a in ids])
    runner.invoke(app, ["import", "applications", str(f), "--campaign", "c1", "--db", db])
    eq = write_csv(tmp_path / "eq.csv", ["application_id", "ethnic_code"],
                   [[a, "A" if i % 2 else "H"] for i, a in enumerate(ids)])
    runner.invoke(app, ["import", "equality", str(eq), "--db", db])
    eng = Engine(db)
    res = eng.propose_shortlist("c1", application_ids=ids[:10], actor="r")
    if not res.released:
        eng.release(res.shortlist_id, actor="o", role="equality_officer",
                    justification="Reviewed the figures with the panel and HR, all fine.")
    (tmp_path / "appointed.txt").write_text("A0\nA1\nA3\n", encoding="utf-8")
    r = runner.invoke(app, ["export", "wres", "c1", "--appointed", str(tmp_path / "appointed.txt"), "-o",
                            str(tmp_path / "wres.csv"), "--as", "officer", "--db", db])
    assert r.exit_code == 0, r.output
    assert "relative likelihood" in r.output
    with open(tmp_path / "wres.csv", encoding="utf-8") as fh:
        rows = {x["group"]: x for x in csv.DictReader(fh)}
    assert rows["White"]["shortlisted"] == "5" and rows["White"]["appointed"] == "2"
    assert rows["BME"]["appointed"] == "1" and rows["Total"]["shortlisted"] == "10"
    (tmp_path / "bad.txt").write_text("A15\n", encoding="utf-8")
    r = runner.invoke(app, ["export", "wres", "c1", "--appointed", str(tmp_path / "bad.txt"), "-o",
                            str(tmp_path / "w2.csv"), "--as", "officer", "--db", db])
    assert r.exit_code == 2 and "never on a released shortlist" in r.output
    assert not (tmp_path / "w2.csv").exists()


def test_print_mapping_gives_a_file_that_loads(tmp_path):
    from vbr.formats.nhsjobs import ColumnMapping

    r = CliRunner().invoke(cli(), ["import", "mapping"])
    assert r.exit_code == 0 and "application_id: Application ID" in r.output
    (tmp_path / "m.yaml").write_text(r.output.replace("<column header>: <question id>", "Q1: 6cs-care-1"),
                                     encoding="utf-8")
    assert ColumnMapping.load(tmp_path / "m.yaml").questions == {"Q1": "6cs-care-1"}
