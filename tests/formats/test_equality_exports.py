"""Equality CSV import (delegated to the equality store), scores export, WRES indicator-2 extract."""

from __future__ import annotations

import csv
import json

import pytest

from tests.formats.conftest import HEADER, row, write_csv
from vbr.errors import NotFound, ValidationFailed
from vbr.formats import import_applications
from vbr.formats.equality_csv import EqualityCsvImporter
from vbr.formats.jsonl import ScoresJsonLinesExporter
from vbr.formats.scores import ScoresCsvExporter, score_rows
from vbr.formats.wres import WresIndicator2Exporter, wres_counts, wres_rows


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_equality_import_reports_unknown_codes_and_keeps_them(engine, tmp_path):
    f = write_csv(tmp_path / "eq.csv", ["application_id", "ethnic_code", "sex"],
                  [["A1", "a", "F"], ["A2", "X9", "M"], ["A3", "Z", ""], ["A4", "", "F"]])
    report = EqualityCsvImporter().import_file(engine.equality, f, actor="officer")
    assert (report.rows, report.inserted, report.updated) == (4, 4, 0)
    assert report.unknown_codes == {"X9": 1}
    assert any("X9" in w and "unknown" in w for w in report.warnings)
    recs = engine.equality.records_for(["A1", "A2", "A3"], purpose="test")
    assert recs["A1"].ethnic_code == "A" and recs["A2"].ethnic_code == "X9"


def test_equality_import_malformed_rows_all_or_nothing_with_rejected_file(engine, tmp_path):
    f = write_csv(tmp_path / "eq.csv", ["application_id", "ethnic_code"],
                  [["A1", "A"], ["", "B"], ["A3", "White British"], ["A1", "C"]])
    with pytest.raises(ValidationFailed) as exc:
        EqualityCsvImporter().import_file(engine.equality, f, actor="officer")
    msg = str(exc.value)
    assert "nothing was imported" in msg and "row 3" in msg and "row 4, field 'ethnic_code'" in msg
    assert "eq.csv.rejected.csv" in msg
    assert engine.equality.count() == 0
    with open(f"{f}.rejected.csv", encoding="utf-8") as fh:
        rej = list(csv.DictReader(fh))
    assert [r["row"] for r in rej] == ["3", "4", "5"] and rej[1]["ethnic_code"] == "White British"


def test_equality_import_wrong_encoding_and_missing_column(engine, tmp_path):
    f = tmp_path / "eq.csv"
    f.write_bytes("application_id,ethnic_code,sex\nA1,A,F\u00e9minin\n".encode("cp1252"))
    with pytest.raises(ValidationFailed) as exc:
        EqualityCsvImporter().import_file(engine.equality, f, actor="officer")
    assert "not UTF-8" in str(exc.value)
    f.write_text("application_id,ethnicity\nA1,A\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        EqualityCsvImporter().import_file(engine.equality, f, actor="officer")
    assert "no column 'ethnic_code'" in str(exc.value)
    assert engine.equality.count() == 0


@pytest.fixture
def scored(engine, tmp_path):
    f = write_csv(tmp_path / "apps.csv", HEADER, [
        row("A1", care="=HYPERLINK(\"http://evil\") I listened to the patient and involved her family."),
        row("A2", care="I did not listen; I blamed my colleagues."),
    ])
    import_applications(engine, f, "c1", actor="i")
    engine.score("c1")
    return engine


def test_scores_csv_and_jsonl_export_with_evidence_and_overrides(scored, tmp_path):
    current = scored.store.current_scores("c1")
    first = current[0]
    scored.override(first["application_id"], first["question_id"], first["value_id"], 4, actor="recruiter",
                    reason="panel agreed the answer shows it")
    rows = list(score_rows(scored, "c1"))
    n = ScoresCsvExporter().write(rows, tmp_path / "scores.csv")
    assert n == len(current)
    out = read(tmp_path / "scores.csv")
    over = [r for r in out if r["source"] == "override"]
    assert len(over) == 1 and over[0]["level"] == "4" and over[0]["scored_by"] == "recruiter"
    assert over[0]["reason"] == "panel agreed the answer shows it"
    with_ev = [r for r in out if int(r["evidence_count"])]
    assert with_ev and all(r["evidence"].startswith(("+", "-", "'")) for r in with_ev)
    for r in out:  # nothing a spreadsheet would run
        for v in r.values():
            assert not v.startswith(("=", "+", "@")) or v.startswith("+") and r["evidence"] == v
    assert ScoresJsonLinesExporter().write(rows, tmp_path / "scores.jsonl") == len(current)
    lines = [json.loads(x) for x in (tmp_path / "scores.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {x["application_id"] for x in lines} == {"A1", "A2"} and isinstance(lines[0]["evidence"], list)
    with pytest.raises(NotFound):
        list(score_rows(scored, "nope"))


def test_wres_extract_counts_by_group_from_released_shortlists(engine, tmp_path):
    from vbr.fairness.equality import EqualityRecord

    codes = {**{f"W{i}": "A" for i in range(30)}, **{f"B{i}": "N" for i in range(30)},
             **{f"U{i}": c for i, c in enumerate(["Z", "99", "X9", ""])}}
    f = write_csv(tmp_path / "apps.csv", HEADER, [row(a) for a in codes])
    import_applications(engine, f, "c1", actor="i")
    engine.add_equality_records([EqualityRecord(application_id=a, ethnic_code=c) for a, c in codes.items()
                                 if a != "U3"], actor="officer")
    short = [f"W{i}" for i in range(12)] + [f"B{i}" for i in range(12)] + ["U0", "U1", "U2", "U3"]
    result = engine.propose_shortlist("c1", application_ids=short, actor="recruiter")
    if not result.released:
        engine.release(result.shortlist_id, actor="officer", role="equality_officer",
                       justification="Reviewed with the panel; figures are small, see notes.")
    appointed = ["W0", "W1", "W2", "W3", "B0", "B1", "U2"]
    figures = wres_counts(engine, ["c1"], appointed, actor="officer")
    assert figures["counts"] == {"White": {"shortlisted": 12, "appointed": 4},
                                 "BME": {"shortlisted": 12, "appointed": 2},
                                 "Unknown": {"shortlisted": 4, "appointed": 1}}
    assert figures["codes_not_in_nhs_list"] == {"X9": 1}
    assert figures["unknown_codes"] == {"Z": 1, "99": 1, "X9": 1, "(none)": 1}
    assert figures["relative_likelihood"]["relative_likelihood"] == pytest.approx((4 / 12) / (2 / 12))
    WresIndicator2Exporter().write(wres_rows(figures), tmp_path / "wres.csv")
    out = read(tmp_path / "wres.csv")
    assert [(r["group"], r["shortlisted"], r["appointed"]) for r in out] == [
        ("White", "12", "4"), ("BME", "12", "2"), ("Unknown", "4", "1"), ("Total", "28", "7")]
    reads = engine.equality.engine.connect().exec_driver_sql(
        "SELECT purpose, actor FROM equality_reads ORDER BY id DESC LIMIT 1").first()
    assert tuple(reads) == ("WRES indicator 2 extract", "officer")
    with pytest.raises(ValidationFailed) as exc:
        wres_counts(engine, ["c1"], ["W20"], actor="officer")
    assert "never on a released shortlist" in str(exc.value)
    with pytest.raises(NotFound):
        wres_counts(engine, ["nope"], [], actor="officer")
