"""NHS Jobs-style applications CSV: mapping, redaction, rejected rows, resumable re-runs, bad input."""

from __future__ import annotations

import csv
import json

import pytest

from tests.formats.conftest import HEADER, QUESTIONS, row, snapshot, write_csv
from vbr.errors import NotFound, ValidationFailed
from vbr.formats import import_applications


def rejected(path):
    with open(f"{path}.rejected.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_imports_rows_redacts_names_and_drops_them(engine, tmp_path):
    f = write_csv(tmp_path / "apps.csv", HEADER + ["Ethnic Origin"], [
        row("A1", first="Zebedee", last="Quartermain", care="Zebedee here. I listened to the patient.") + ["A"],
        row("A2", dc="Yes", date="02/03/2025 09:30") + ["N"],
    ])
    report = import_applications(engine, f, "c1", actor="importer")
    assert (report.imported, report.already_stored, report.rejected, report.batches) == (2, 0, 0, 1)
    assert any("Ethnic Origin" in w and "vbr import equality" in w for w in report.warnings)
    assert any("Email" in w for w in report.warnings)
    apps = {a["id"]: a for a in engine.store.applications("c1")}
    assert set(apps) == {"A1", "A2"} and apps["A2"]["disability_confident"] == 1
    assert apps["A2"]["submitted_at"].startswith("2025-03-02T09:30")
    resp = {(r["application_id"], r["question_id"]): r for r in engine.store.responses("c1")}
    assert len(resp) == 4
    assert "Zebedee" not in resp[("A1", "6cs-care-1")]["redacted_text"]
    # the surname column was only used for redaction: it is stored nowhere
    raw = (tmp_path / "vbr.sqlite").read_bytes() + (tmp_path / "vbr.sqlite-wal").read_bytes() \
        if (tmp_path / "vbr.sqlite-wal").exists() else (tmp_path / "vbr.sqlite").read_bytes()
    assert b"Quartermain" not in raw and b"example.org" not in raw
    log = [e for e in engine.store.log.entries(action="applications.imported")]
    assert log[0].payload["imported"] == 2 and len(log[0].payload["sha256"]) == 64


def test_rerun_skips_stored_rows_and_completes_an_interrupted_import(engine, tmp_path):
    rows = [row(f"A{i}") for i in range(10)]
    write_csv(tmp_path / "part.csv", HEADER, rows[:4])
    import_applications(engine, tmp_path / "part.csv", "c1", actor="i", batch_size=3)
    f = write_csv(tmp_path / "all.csv", HEADER, rows)
    done = []
    report = import_applications(engine, f, "c1", actor="i", batch_size=3, progress=lambda d, t: done.append((d, t)))
    assert (report.imported, report.already_stored, report.batches) == (6, 4, 2)
    assert done == [(4, 10), (7, 10), (10, 10)]
    again = import_applications(engine, f, "c1", actor="i")
    assert (again.imported, again.already_stored) == (0, 10)
    assert len(engine.store.applications("c1")) == 10 and len(engine.store.responses("c1")) == 20


def test_malformed_rows_fail_the_file_store_nothing_and_are_written_with_reasons(engine, tmp_path):
    before = snapshot(engine)
    f = write_csv(tmp_path / "bad.csv", HEADER, [
        row("A1"),
        ["A2", "V-100", "x"],                                    # too few fields
        row(""),                                                 # no id
        row("A1"),                                               # duplicate
        row("A4", dc="maybe"),                                   # not yes/no
        row("A5", date="31/31/2025"),                            # not a date
        row("A6", vacancy="V-999"),                              # another vacancy
        row("A7", care="x" * 50_001),                            # too long
        row("bad id with spaces " * 10),                         # id too long
    ])
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert snapshot(engine) == before
    msg = str(exc.value)
    assert "8 application row(s) rejected, nothing was imported" in msg
    assert f"{f}, row 3: 3 fields, the header has 9" in msg
    assert "row 4, field 'Application ID': no application id" in msg
    assert "row 5, field 'Application ID': application id 'A1' already appears in row 2" in msg
    assert "row 6, field 'Disability Confident': 'maybe' is not yes or no (write yes, no or leave it blank)" in msg
    assert "row 7, field 'Date Submitted': '31/31/2025' is not a date" in msg
    assert "row 8, field 'Vacancy Reference': vacancy 'V-999'" in msg
    assert "row 9, field '6cs-care-1': the answer has 50001 characters" in msg
    assert "row 10" in msg
    rej = rejected(f)
    assert [r["row"] for r in rej] == ["3", "4", "5", "6", "7", "8", "9", "10"]
    assert rej[0]["reason"] and rej[3]["column"] == "Disability Confident" and rej[3]["Application ID"] == "A4"
    # --skip-rejected imports the good row, still listing the others
    report = import_applications(engine, f, "c1", actor="i", skip_rejected=True)
    assert (report.imported, report.rejected) == (1, 8) and report.rejected_file.endswith("bad.csv.rejected.csv")


def test_wrong_encoding_is_refused_naming_the_row(engine, tmp_path):
    before = snapshot(engine)
    f = write_csv(tmp_path / "win.csv", HEADER, [row("A1"), row("A2", care="Ren\u00e9e\u2019s care plan")],
                  encoding="cp1252")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    msg = str(exc.value)
    assert str(f) in msg and "row 3" in msg and "not UTF-8" in msg and "CSV UTF-8" in msg
    assert snapshot(engine) == before


def test_utf8_bom_and_header_case_are_fine(engine, tmp_path):
    f = tmp_path / "bom.csv"
    f.write_text("\ufeffapplication id ,6CS-CARE-1\nA1,I listened to the patient.\n", encoding="utf-8")
    assert import_applications(engine, f, "c1", actor="i").imported == 1


def test_missing_id_column_and_no_question_column(engine, tmp_path):
    f = write_csv(tmp_path / "noid.csv", ["Candidate", "6cs-care-1"], [["A1", "text"]])
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert "no column 'Application ID' in the header (found: Candidate, 6cs-care-1)" in str(exc.value)
    assert "row 1" in str(exc.value) and "--mapping" in str(exc.value)
    f = write_csv(tmp_path / "noq.csv", ["Application ID", "Q1"], [["A1", "text"]])
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert "no column holds an answer to a question of campaign 'c1'" in str(exc.value)
    assert engine.store.applications("c1") == []


def test_mapping_file_maps_columns_by_header_and_question_text(engine, tmp_path):
    q_text = engine.rubric("6cs").question("6cs-compassion-1").text
    f = write_csv(tmp_path / "trac.csv", ["Ref No", "Forename", "Family Name", "Q1", q_text.upper()],
                  [["T-1", "Ann", "Pryce", "Ann Pryce listened to the patient.", "I held her hand."]])
    m = tmp_path / "map.yaml"
    m.write_text("application_id: Ref No\nvacancy_reference: null\nnames: [Forename, Family Name]\n"
                 "questions:\n  Q1: 6cs-care-1\n", encoding="utf-8")
    report = import_applications(engine, f, "c1", actor="i", mapping=m)
    assert report.imported == 1
    resp = {r["question_id"]: r["redacted_text"] for r in engine.store.responses("c1")}
    assert set(resp) == set(QUESTIONS) and "Pryce" not in resp["6cs-care-1"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("applicant: x\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i", mapping=bad)
    assert "column mapping" in str(exc.value) and "applicant" in str(exc.value)
    m.write_text("application_id: Ref No\nquestions:\n  Q1: no-such-question\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        import_applications(engine, f, "c1", actor="i", mapping=m)


def test_same_id_with_different_answers_or_other_campaign_is_rejected(engine, tmp_path):
    write_csv(tmp_path / "a.csv", HEADER, [row("A1")])
    import_applications(engine, tmp_path / "a.csv", "c1", actor="i")
    f = write_csv(tmp_path / "b.csv", HEADER, [row("A1", care="A different answer."), row("A2")])
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert "already stored with different answers" in str(exc.value)
    assert len(engine.store.applications("c1")) == 1
    engine.create_campaign("c2", "HCA", "6cs", question_ids=QUESTIONS, actor="recruiter")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, tmp_path / "a.csv", "c2", actor="i")
    assert "already stored in campaign 'c1'" in str(exc.value)


def test_unknown_campaign_and_format(engine, tmp_path):
    f = write_csv(tmp_path / "a.csv", HEADER, [row("A1")])
    with pytest.raises(NotFound):
        import_applications(engine, f, "nope", actor="i")
    with pytest.raises(NotFound) as exc:
        import_applications(engine, tmp_path / "a.xlsx", "c1", actor="i")
    assert "--format" in str(exc.value)


def test_jsonl_import_with_structured_answers_and_rejections(engine, tmp_path):
    engine.create_campaign("c3", "Nurse", "6cs", question_ids=["6cs-care-1", "6cs-rating-distress-at-night"],
                           actor="r")
    lines = [
        {"application_id": "J1", "names": ["Ola"], "answers": {"6cs-care-1": "Ola listened to the patient.",
                                                               "6cs-rating-distress-at-night": {"rating": 3}}},
        {"application_id": "J2", "answers": {"6cs-care-1": "I involved her family."}, "ethnicity": "A"},
        {"application_id": "J3", "answers": {"6cs-courage-1": "x"}},
    ]
    f = tmp_path / "apps.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c3", actor="i")
    msg = str(exc.value)
    assert "row 2, field 'ethnicity'" in msg and "vbr import equality" in msg
    assert "row 3, field 'answers': question(s) ['6cs-courage-1'] are not in campaign 'c3'" in msg
    assert "row 4: not valid JSON" in msg
    assert engine.store.applications("c3") == []
    report = import_applications(engine, f, "c3", actor="i", skip_rejected=True)
    assert report.imported == 1
    resp = {r["question_id"]: r for r in engine.store.responses("c3")}
    assert json.loads(resp["6cs-rating-distress-at-night"]["structured"])["rating"] == 3
    assert "Ola" not in resp["6cs-care-1"]["redacted_text"]


def test_nul_bytes_and_unclosed_quotes_are_errors_not_crashes(engine, tmp_path):
    f = tmp_path / "nul.csv"
    f.write_bytes(b"Application ID,6cs-care-1\nA1,ok\nA2,bad\x00byte\n")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert "row 3, field '6cs-care-1': the cell contains a NUL character" in str(exc.value)
    f.write_text('Application ID,6cs-care-1\nA1,"never closed\nA2,fine\n', encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, f, "c1", actor="i")
    assert "not valid CSV after row 1" in str(exc.value) and "row 2" in str(exc.value)
    assert engine.store.applications("c1") == []


def test_a_rejected_file_can_be_fixed_and_imported_as_it_is(engine, tmp_path):
    f = write_csv(tmp_path / "apps.csv", HEADER, [row("A1", care="- I listened.\n- I stayed.", dc="maybe")])
    with pytest.raises(ValidationFailed):
        import_applications(engine, f, "c1", actor="i")
    fixed = (tmp_path / "apps.csv.rejected.csv").read_text(encoding="utf-8").replace("maybe", "yes")
    (tmp_path / "fixed.csv").write_text(fixed, encoding="utf-8")
    report = import_applications(engine, tmp_path / "fixed.csv", "c1", actor="i")
    assert report.imported == 1 and any("what_to_do" in w for w in report.warnings)
    [care] = [r for r in engine.store.responses("c1") if r["question_id"] == "6cs-care-1"]
    assert care["original_text"] == "- I listened.\n- I stayed."


def test_vacancy_option(engine, tmp_path):
    f = write_csv(tmp_path / "a.csv", HEADER, [row("A1", vacancy="V-1"), row("A2", vacancy="V-2")])
    report = import_applications(engine, f, "c1", actor="i", vacancy="V-2", skip_rejected=True)
    assert (report.imported, report.rejected) == (1, 1)
    assert [a["id"] for a in engine.store.applications("c1")] == ["A2"]
    g = write_csv(tmp_path / "b.csv", ["Application ID", "6cs-care-1"], [["B1", "text"]])
    with pytest.raises(ValidationFailed) as exc:
        import_applications(engine, g, "c1", actor="i", vacancy="V-2")
    assert "no vacancy column" in str(exc.value)
