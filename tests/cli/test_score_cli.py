"""`vbr score`: a CSV of answers (nothing stored) and a stored campaign (scores stored and logged)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vbr.cli import _register_all, app

STRONG = ("I sat with the patient's son, listened to his worries and explained honestly what was "
          "happening. I involved him in the plan, checked he understood and escalated to the nurse in charge.")


def _run(*args):
    _register_all()
    return CliRunner().invoke(app, list(args))


def test_score_csv_gives_evidence_and_flags_and_redacts(tmp_path):
    f = tmp_path / "answers.csv"
    f.write_text("application_id,answer\n"
                 f"a1,\"{STRONG} My email is jo@example.org.\"\n"
                 "a2,\n", encoding="utf-8")
    r = _run("score", "--csv", str(f), "--question", "nhs-compassion-1", "--format", "json")
    assert r.exit_code == 0, r.output
    answers = {a["application_id"]: a for a in json.loads(r.stdout)["answers"]}
    a1 = answers["a1"]
    assert "[EMAIL]" in a1["redacted_text"] and "original_text" not in a1
    [s] = a1["scores"]
    assert s["value_id"] == "compassion" and s["level"] >= 2 and s["evidence"]
    assert answers["a2"]["scores"] == [] and [f["code"] for f in answers["a2"]["flags"]] == ["empty"]


def test_score_csv_bad_input_names_file_row_and_column(tmp_path):
    f = tmp_path / "answers.csv"
    f.write_text("application_id,answer\na1,hello\na1,again\n", encoding="utf-8")
    r = _run("score", "--csv", str(f), "--question", "nhs-compassion-1")
    assert r.exit_code == 2 and "row 3" in r.output and "twice" in r.output
    r = _run("score", "--csv", str(f), "--question", "nhs-compassion-1", "--text-col", "text")
    assert r.exit_code == 2 and "no column named 'text'" in r.output
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("application_id,answer\na1,caf\xe9\n".encode("latin-1"))
    r = _run("score", "--csv", str(bad), "--question", "nhs-compassion-1")
    assert r.exit_code == 2 and "not UTF-8" in r.output


def test_score_campaign_stores_scores(tmp_path):
    from vbr.engine import Engine

    db = tmp_path / "c.sqlite"
    engine = Engine(db)
    engine.create_campaign("c1", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    engine.submit("c1", [{"id": "a1", "campaign_id": "c1"}],
                  [{"application_id": "a1", "question_id": "nhs-compassion-1", "text": STRONG}])
    r = _run("score", "c1", "--db", str(db), "--format", "jsonl")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["scores"][0]["value_id"] == "compassion"
    assert len(engine.store.current_scores("c1")) == 1
    r = _run("score", "c1", "--db", str(db), "--format", "jsonl")
    assert r.exit_code == 0 and r.stdout == "" and "has been scored already" in r.stderr
    r = _run("score", "c1", "--db", str(db), "--format", "jsonl", "--rescore")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1
    assert len(engine.store.score_history("a1", "nhs-compassion-1", "compassion")) == 2
    r = _run("score", "nope", "--db", str(db))
    assert r.exit_code == 4 and "no campaign 'nope'" in r.output


def test_shortlist_top_n_notes_answers_still_to_mark(tmp_path):
    from vbr.engine import Engine

    db = tmp_path / "c.sqlite"
    engine = Engine(db)
    engine.create_campaign("c1", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    engine.submit("c1", [{"id": f"a{i}", "campaign_id": "c1"} for i in range(3)],
                  [{"application_id": f"a{i}", "question_id": "nhs-compassion-1", "text": STRONG if i else " "}
                   for i in range(3)])
    engine.score("c1")
    r = _run("shortlist", "propose", "c1", "--top", "1", "--as", "rec", "--db", str(db), "--format", "json")
    assert r.exit_code in (0, 6), r.output
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("1 answer(s) of 1 application(s) have values the scorer could not score") for n in notes)
    engine.override("a0", "nhs-compassion-1", "compassion", 0, actor="rec", reason="Nothing was written.")
    r = _run("shortlist", "propose", "c1", "--top", "1", "--as", "rec", "--db", str(db), "--format", "json")
    assert not any("could not score" in n for n in json.loads(r.stdout)["notes"])
