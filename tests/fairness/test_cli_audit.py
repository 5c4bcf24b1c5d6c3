"""`vbr audit` and `vbr shortlist` end to end through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vbr.fairness.equality import EqualityStore
from vbr.store import Store

from tests.fairness.test_gate import BLOCKING, JUSTIFICATION, PASSING, REVIEWING, make_campaign

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    """Rich wraps tables to the terminal width; fix it so assertions do not depend on the terminal."""
    from vbr.cli.common import console

    monkeypatch.setattr(console, "width", 200)


@pytest.fixture(scope="module")
def cli():
    from vbr.cli import app, _register_all

    try:
        _register_all()
    except ModuleNotFoundError:  # a command module listed in vbr.cli that is not built yet
        import vbr.cli.audit
        import vbr.cli.shortlist

        names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
        if "audit" not in names:
            vbr.cli.audit.register(app)
        if "shortlist" not in names:
            vbr.cli.shortlist.register(app)
    return app


def write_files(tmp_path, groups: dict[str, tuple[int, int]], *, later: dict[str, int] | None = None):
    """outcomes.csv (application_id,shortlisted[,appointed]) and equality.csv for ``{code: (n, k)}``."""
    out = ["application_id,shortlisted" + (",appointed" if later else "")]
    eq = ["application_id,ethnic_code"]
    for code, (n, k) in groups.items():
        for i in range(n):
            app_id = f"{code or 'blank'}-{i:03d}"
            row = f"{app_id},{int(i < k)}"
            if later:
                row += f",{int(i < min(k, later.get(code, 0)))}"
            out.append(row)
            eq.append(f"{app_id},{code}")
    (tmp_path / "outcomes.csv").write_text("\n".join(out) + "\n")
    (tmp_path / "equality.csv").write_text("\n".join(eq) + "\n")
    return str(tmp_path / "outcomes.csv"), str(tmp_path / "equality.csv")


def audit(cli, o, e, *extra):
    return runner.invoke(cli, ["audit", "--outcomes", o, "--equality", e, *extra])


def test_help_documents_exit_codes(cli):
    result = runner.invoke(cli, ["audit", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output and "6" in result.output


def test_pass_table(cli, tmp_path):
    o, e = write_files(tmp_path, PASSING)
    result = audit(cli, o, e)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Gate decision: PASS" in out
    assert "Black or Black British" in out or "N" in out
    assert "declaration rate" in out and "40.0%" in out  # 20 of 50 selected
    assert "nan" not in out.lower()


def test_review_json_one_object(cli, tmp_path):
    o, e = write_files(tmp_path, REVIEWING)
    result = audit(cli, o, e, "--format", "json")
    assert result.exit_code == 6, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "REVIEW" and data["reasons"] and data["rows"] == 399
    assert "NaN" not in result.stdout


def test_block_html_self_contained(cli, tmp_path):
    o, e = write_files(tmp_path, BLOCKING)
    target = tmp_path / "report.html"
    result = audit(cli, o, e, "--format", "html", "-o", str(target))
    assert result.exit_code == 6, result.output
    html = target.read_text()
    assert html.startswith("<!doctype html>") and "BLOCK" in html
    assert "<svg" in html and ">0.80<" in html  # the four-fifths line on the chart
    assert "0.500" in html  # the textbook impact ratio, 12/40 vs 48/80
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<script" not in html


def test_ids_missing_from_either_side_block(cli, tmp_path):
    o, e = write_files(tmp_path, PASSING)
    with open(e, "a") as fh:
        fh.write("ghost-1,A\n")
    lines = open(e).read().splitlines()
    open(e, "w").write("\n".join(lines[:1] + lines[2:]) + "\n")  # drop one applicant's equality row
    result = audit(cli, o, e, "--format", "json")
    assert result.exit_code == 6
    data = json.loads(result.stdout)
    assert data["decision"] == "BLOCK"
    assert any("have no row in equality.csv" in r for r in data["reasons"])
    assert any("ghost-1" in r for r in data["reasons"])


@pytest.mark.parametrize("edit, words", [
    (lambda rows: rows + [rows[1]], "already appears in row 2"),
    (lambda rows: rows[:1] + [rows[1].rsplit(",", 1)[0] + ",yes"] + rows[2:], "'yes' is not 0/1"),
])
def test_malformed_outcomes_are_errors_naming_file_row_column(cli, tmp_path, edit, words):
    o, e = write_files(tmp_path, PASSING)
    rows = open(o).read().splitlines()
    open(o, "w").write("\n".join(edit(rows)) + "\n")
    result = audit(cli, o, e)
    assert result.exit_code == 2
    assert words in result.output and "outcomes.csv" in result.output and "row" in result.output


def test_stage_columns_and_unknown_regime(cli, tmp_path):
    o, e = write_files(tmp_path, PASSING, later={"A": 5, "N": 5, "H": 4})
    result = audit(cli, o, e, "--stage", "shortlisted", "--stage", "appointed", "--format", "json")
    assert result.exit_code in (0, 6), result.output
    data = json.loads(result.stdout)
    assert data["rows"] == 140
    assert "appointed" in result.stdout
    result = audit(cli, o, e, "--stage", "interviewed")
    assert result.exit_code == 2 and "no stage column 'interviewed'" in result.output
    result = audit(cli, o, e, "--regime", "astrology")
    assert result.exit_code == 2 and "no audit regime" in result.output


# ---------------------------------------------------------------------------- vbr shortlist


@pytest.fixture()
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'vbr.sqlite'}"
    store = Store(url)
    equality = EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")  # the default sibling
    return tmp_path / "vbr.sqlite", store, equality


def test_shortlist_review_override_end_to_end(cli, db, tmp_path):
    path, store, equality = db
    ids = make_campaign(store, equality, "c-cli", REVIEWING)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    base = ["--db", str(path)]
    result = runner.invoke(cli, ["shortlist", "propose", "c-cli", "--ids", str(tmp_path / "ids.txt"),
                                 "--as", "recruiter@trust", *base])
    assert result.exit_code == 6, result.output
    assert "REVIEW" in result.output and "held" in result.output
    sid = "1"

    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "recruiter@trust", "--role", "recruiter",
                                 "--justification", JUSTIFICATION, *base])
    assert result.exit_code == 7, result.output
    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "officer@trust", "--role",
                                 "equality_officer", "--justification", "ok", *base])
    assert result.exit_code == 6, result.output
    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "officer@trust", "--role",
                                 "equality_officer", "--justification", JUSTIFICATION, "--format", "json", *base])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["application_ids"] == ids

    result = runner.invoke(cli, ["shortlist", "status", sid, "--format", "json", *base])
    status = json.loads(result.stdout)
    assert status["released"] and status["decision"] == "REVIEW" and status["released_by"] == "officer@trust"
    assert len(status["history"]) == 2
    result = runner.invoke(cli, ["shortlist", "status", sid, "--format", "html", "-o", str(tmp_path / "s.html"), *base])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "s.html").read_text()
    assert "REVIEW" in html and "<svg" in html and "0.665" in html  # fairness.md small shortlist: 2/10 vs 117/389
    actions = [e.action for e in store.log.entries(subject="shortlist:1")]
    assert actions == ["shortlist.proposed", "shortlist.review", "shortlist.released"]
    assert store.log.verify().ok
    result = runner.invoke(cli, ["log", "verify", *base])
    assert result.exit_code == 0, result.output


def test_shortlist_top_n_pass(cli, db):
    from vbr.models import Score

    path, store, equality = db
    make_campaign(store, equality, "c-top", PASSING)
    apps = store.application_ids("c-top")
    # scores that do not depend on ethnicity: every 5th applicant in id order is strong
    store.add_scores([Score(application_id=a, question_id="q1", value_id="compassion", level=4 if i % 5 < 2 else 1,
                            confidence=0.9, scorer_id="t", scorer_version="1", rubric_ref="nhs-constitution@1.0")
                      for i, a in enumerate(apps)], actor="scorer")
    result = runner.invoke(cli, ["shortlist", "propose", "c-top", "--top", "56", "--as", "recruiter",
                                 "--db", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "PASS" and data["released"] and len(data["application_ids"]) == 56


def test_shortlist_block_and_bad_input(cli, db, tmp_path):
    path, store, equality = db
    ids = make_campaign(store, equality, "c-blk", BLOCKING)
    (tmp_path / "clean.csv").write_text("application_id\n" + "\n".join(ids) + "\n")
    result = runner.invoke(cli, ["shortlist", "propose", "c-blk", "--ids", str(tmp_path / "clean.csv"),
                                 "--as", "r", "--db", str(path), "--format", "json"])
    assert result.exit_code == 6 and json.loads(result.stdout)["decision"] == "BLOCK"
    sid = str(json.loads(result.stdout)["shortlist_id"])
    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "r", "--db", str(path)])
    assert result.exit_code == 6 and "equality_officer" in result.output  # no justification: held
    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "r", "--role", "recruiter",
                                 "--justification", JUSTIFICATION, "--db", str(path)])
    assert result.exit_code == 7  # a justification from the wrong role: permission denied
    result = runner.invoke(cli, ["shortlist", "release", sid, "--as", "officer", "--role", "equality_officer",
                                 "--justification", JUSTIFICATION, "--db", str(path), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["application_ids"] == ids
    assert store.log.verify().ok

    (tmp_path / "ids.txt").write_text("\n".join(ids + ["stranger"]) + "\n")
    result = runner.invoke(cli, ["shortlist", "propose", "c-blk", "--ids", str(tmp_path / "ids.txt"),
                                 "--as", "r", "--db", str(path), "--format", "json"])
    assert result.exit_code == 6
    data = json.loads(result.stdout)
    assert data["decision"] == "BLOCK" and any("stranger" in r for r in data["reasons"])
    result = runner.invoke(cli, ["shortlist", "propose", "c-blk", "--as", "r", "--db", str(path)])
    assert result.exit_code == 2 and "exactly one of --ids" in result.output
    result = runner.invoke(cli, ["shortlist", "status", "99", "--db", str(path)])
    assert result.exit_code == 4


def test_wres_relative_likelihood_worked_case(cli, tmp_path):
    """fairness.md: White 117 of 389 and BME 2 of 10 appointed from shortlisting: RL 1.504."""
    rows = ["application_id,shortlisted,appointed"]
    eq = ["application_id,ethnic_code"]
    for code, n, k in (("A", 389, 117), ("N", 10, 2)):
        for i in range(n):
            rows.append(f"{code}-{i},1,{int(i < k)}")
            eq.append(f"{code}-{i},{code}")
    (tmp_path / "o.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "e.csv").write_text("\n".join(eq) + "\n")
    result = audit(cli, str(tmp_path / "o.csv"), str(tmp_path / "e.csv"), "--regime", "wres", "--grouping", "wres")
    assert "WRES indicator 2" in result.output and "1.504" in result.output, result.output
    html = tmp_path / "w.html"
    audit(cli, str(tmp_path / "o.csv"), str(tmp_path / "e.csv"), "--regime", "wres", "--grouping", "wres",
          "--format", "html", "-o", str(html))
    assert "1.504" in html.read_text()


def test_user_grouping_file(cli, tmp_path):
    o, e = write_files(tmp_path, PASSING)
    g = tmp_path / "trust.csv"
    g.write_text("code,group\nA,White\nN,Black\nH,Asian\n")
    result = audit(cli, o, e, "--grouping", str(g), "--format", "json")
    assert result.exit_code == 0, result.output
    groups = {row["group"] for row in json.loads(result.stdout)["audit"]["results"][0]["groups"]}
    assert {"White", "Black", "Asian"} <= groups
    result = audit(cli, o, e, "--grouping", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 4


def test_empty_selection_and_broken_funnel_block(cli, tmp_path):
    o, e = write_files(tmp_path, {"A": (20, 0), "N": (20, 0)}, later={"A": 0, "N": 0})
    rows = open(o).read().splitlines()
    rows[3] = rows[3][:-1] + "1"  # appointed without being shortlisted
    open(o, "w").write("\n".join(rows) + "\n")
    result = audit(cli, o, e, "--format", "json")
    assert result.exit_code == 6, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "BLOCK"
    assert any("nobody was selected at 'shortlisted'" in r for r in data["reasons"])
    assert any("reached 'appointed' without 'shortlisted'" in r and "A-002" in r for r in data["reasons"])


def test_scores_column_gives_distributions_and_ll144_scoring_rates(cli, tmp_path):
    o, e = write_files(tmp_path, PASSING)
    rows = open(o).read().splitlines()
    rows = [rows[0] + ",score"] + [r + f",{(i * 7) % 5}" for i, r in enumerate(rows[1:])]
    rows[6] = rows[6].rsplit(",", 1)[0] + ","  # one applicant not scored: blank
    open(o, "w").write("\n".join(rows) + "\n")
    result = audit(cli, o, e, "--score-col", "score", "--regime", "ll144", "--format", "json")
    assert result.exit_code in (0, 6), result.output
    data = json.loads(result.stdout)
    assert data["audit"]["scores"]["groups"] and sum(g["unscored"] for g in data["audit"]["scores"]["groups"]) == 1
    assert any("scoring rate" in r["table"] for r in data["audit"]["results"])
    assert "score" not in data["audit"]["stages"]  # the score column is not a funnel stage
    result = audit(cli, o, e, "--score-col", "score")
    assert "Scores by group" in result.output and "SMD" in result.output
    rows[7] = rows[7].rsplit(",", 1)[0] + ",high"
    open(o, "w").write("\n".join(rows) + "\n")
    result = audit(cli, o, e, "--score-col", "score")
    assert result.exit_code == 2 and "'high' is not a number" in result.output
