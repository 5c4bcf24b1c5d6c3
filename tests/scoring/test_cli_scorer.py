"""``vbr scorer train`` / ``vbr scorer evaluate`` on any CSV, and clear errors on bad input."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vbr.cli import _register_all, app
from vbr.errors import ValidationFailed
from vbr.scoring.agreement import quadratic_weighted_kappa
from vbr.scoring.datasets import read_scored_csv

_registered = False


def cli():
    global _registered
    if not _registered:
        _register_all()
        _registered = True
    return app


runner = CliRunner()

CONCEPTS = ["put the patient first", "ask a senior colleague for help", "respect dignity and privacy",
            "listen to the family", "report the incident honestly", "work with the team",
            "explain the options clearly", "check understanding"]
FILLER = ["on the ward", "it was a busy shift", "I think", "at the time", "we had many tasks",
          "later that day", "in my last job", "the situation was hard"]


def rows(n: int, lo: int, hi: int, seed: int, multiline: bool = False):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        level = rng.randint(lo, hi)
        k = round((level - lo) / (hi - lo) * (len(CONCEPTS) - 1))
        parts = rng.sample(CONCEPTS, k) + rng.sample(FILLER, rng.randint(2, 4))
        rng.shuffle(parts)
        text = (".\n" if multiline and i % 3 == 0 else ". ").join(parts) + ', "quoted", done.'
        second = min(hi, max(lo, level + rng.choice([0, 0, 0, 1, -1])))
        out.append([f"id{i}", text, str(level), str(second)])
    return out


def write_csv(path: Path, data, header=("id", "answer", "mark", "mark2"), encoding="utf-8",
              delimiter=","):
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(data)
    return path


def evaluate_json(tmp_path, lo, hi, **kw):
    tr = write_csv(tmp_path / "train.csv", rows(90, lo, hi, 1, multiline=True), **kw)
    te = write_csv(tmp_path / "test.csv", rows(40, lo, hi, 2), **kw)
    res = runner.invoke(cli(), ["scorer", "evaluate", str(tr), str(te), "--text-col", "answer",
                                "--score-col", "mark", "--second-rater-col", "mark2",
                                "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("lo,hi", [(0, 2), (1, 5), (0, 10)])
def test_evaluate_json_on_any_scale(tmp_path, lo, hi):
    out = evaluate_json(tmp_path, lo, hi)
    for key in ("qwk", "n_train", "n_test", "baseline_qwk", "human_qwk", "exact", "adjacent", "smd"):
        assert key in out
    assert out["n_train"] == 90 and out["n_test"] == 40
    assert -1.0 <= out["qwk"] <= 1.0 and -1.0 <= out["baseline_qwk"] <= 1.0
    assert out["train_levels"][0] >= lo and out["train_levels"][1] <= hi
    assert out["verdict"] in ("unsupervised", "with review", "not usable")
    # the concepts decide the level, so a learned scorer must find them
    assert out["qwk"] > 0.6


def test_evaluate_trains_on_the_second_rater_and_says_so(tmp_path):
    """With --second-rater-col, evaluate trains on both raters' marks of the training file
    (the same model as LearnedScorer.fit(..., second_rating=...)), scores against the first
    rater's column, and says how many answers were double-marked."""
    from vbr.scoring.learned import LearnedScorer

    out = evaluate_json(tmp_path, 0, 3)
    assert out["trained_on_second_rater"] is True and out["n_double_marked"] == 90
    train = read_scored_csv(tmp_path / "train.csv", "answer", "mark", "mark2")
    test = read_scored_csv(tmp_path / "test.csv", "answer", "mark")
    both = LearnedScorer().fit(train.texts, train.scores, second_rating=train.second)
    assert out["qwk"] == pytest.approx(quadratic_weighted_kappa(test.scores, both.predict(test.texts)))
    assert out["cv_qwk"] == pytest.approx(both.cv_qwk_)
    one = LearnedScorer().fit(train.texts, train.scores)
    assert not np.array_equal(one.decision_function(test.texts), both.decision_function(test.texts))

    res = runner.invoke(cli(), ["scorer", "evaluate", str(tmp_path / "train.csv"),
                                str(tmp_path / "test.csv"), "--text-col", "answer",
                                "--score-col", "mark", "--format", "json"])
    assert res.exit_code == 0, res.output
    single = json.loads(res.stdout)
    assert single["trained_on_second_rater"] is False and single["n_double_marked"] == 0
    assert "human_qwk" not in single
    assert single["qwk"] == pytest.approx(quadratic_weighted_kappa(test.scores, one.predict(test.texts)))


def test_evaluate_table_names_the_second_rater_training(tmp_path):
    tr = write_csv(tmp_path / "train.csv", rows(60, 0, 3, 1))
    te = write_csv(tmp_path / "test.csv", rows(20, 0, 3, 2))
    res = runner.invoke(cli(), ["scorer", "evaluate", str(tr), str(te), "--text-col", "answer",
                                "--score-col", "mark", "--second-rater-col", "mark2"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # rich wraps lines at its own width
    assert "60 double-marked: trained on both raters' marks ('mark' and 'mark2')" in text
    assert "against 'mark'" in text
    help_text = runner.invoke(cli(), ["scorer", "evaluate", "--help"]).output
    assert "trained on both raters' marks" in " ".join(help_text.replace("│", " ").split())


def test_evaluate_handles_bom_and_semicolons(tmp_path):
    out = evaluate_json(tmp_path, 0, 3, encoding="utf-8-sig", delimiter=";")
    assert out["n_train"] == 90


def test_evaluate_table_output(tmp_path):
    tr = write_csv(tmp_path / "train.csv", rows(60, 0, 3, 1))
    te = write_csv(tmp_path / "test.csv", rows(20, 0, 3, 2))
    res = runner.invoke(cli(), ["scorer", "evaluate", str(tr), str(te), "--text-col", "answer",
                                "--score-col", "mark"])
    assert res.exit_code == 0, res.output
    assert "QWK" in res.output and "Verdict" in res.output
    assert "human_qwk" not in res.output


def test_train_writes_a_model_with_a_card(tmp_path):
    from vbr.scoring.model_io import load_model

    tr = write_csv(tmp_path / "train.csv", rows(60, 1, 4, 1))
    out = tmp_path / "model.vbr"
    res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col",
                                "mark", "-o", str(out), "--rubric", "demo-values@1.0"])
    assert res.exit_code == 0, res.output
    model, card = load_model(out, expected_rubric_ref="demo-values@1.0")
    assert card.n_train == 60 and card.levels == (1, 4)
    assert card.data_sha256 == read_scored_csv(tr, "answer", "mark").sha256
    preds = model.predict(["put the patient first. ask a senior colleague for help"])
    assert 1 <= preds[0] <= 4


def test_train_on_two_threads_gives_the_same_model_which_predicts_on_one(tmp_path):
    """--jobs grows the trees on more threads; the trees are the same (each has its own seed),
    so the saved model predicts exactly as one trained on one thread, and on one thread."""
    from vbr.scoring.model_io import load_model

    tr = write_csv(tmp_path / "train.csv", rows(80, 0, 3, 2))
    models = []
    for jobs in ("1", "2"):
        out = tmp_path / f"model{jobs}.vbr"
        res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col",
                                    "mark", "-o", str(out), "--jobs", jobs])
        assert res.exit_code == 0, res.output
        models.append(load_model(out))
    (one, card_one), (two, card_two) = models
    assert one.n_jobs is None and two.n_jobs is None and card_two.params["n_jobs"] is None
    new = [r[1] for r in rows(30, 0, 3, 7)]
    np.testing.assert_array_equal(one.decision_function(new), two.decision_function(new))
    res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                                "-o", str(tmp_path / "m0.vbr"), "--jobs", "0"])
    assert res.exit_code == 2 and not (tmp_path / "m0.vbr").exists()


def test_train_with_a_second_rater_records_it_in_the_card(tmp_path):
    from vbr.scoring.learned import LearnedScorer
    from vbr.scoring.model_io import load_model

    tr = write_csv(tmp_path / "train.csv", rows(60, 1, 4, 1))
    out = tmp_path / "model.vbr"
    res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col",
                                "mark", "--second-rater-col", "mark2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "60 of them double-marked ('mark' and 'mark2')" in " ".join(res.output.split())
    model, card = load_model(out)
    assert card.second_rater is True and card.n_double_marked == 60
    assert card.notes["second_rater_col"] == "mark2"
    data = read_scored_csv(tr, "answer", "mark", "mark2")
    assert card.data_sha256 == data.sha256
    direct = LearnedScorer().fit(data.texts, data.scores, second_rating=data.second)
    np.testing.assert_array_equal(model.decision_function(data.texts[:15]),
                                  direct.decision_function(data.texts[:15]))

    plain = tmp_path / "plain.vbr"
    res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col",
                                "mark", "-o", str(plain)])
    assert res.exit_code == 0, res.output
    assert "double-marked" not in res.output
    _, card = load_model(plain)
    assert card.second_rater is False and card.n_double_marked == 0
    assert "second_rater_col" not in card.notes


# ------------------------------------------------------------------ bad input


def expect_failure(args, *needles):
    """The command fails as invalid input (exit 2) with one message naming what is wrong."""
    res = runner.invoke(cli(), args)
    assert res.exit_code == ValidationFailed.exit_code, res.output
    assert "Traceback" not in res.output
    text = res.output
    for needle in needles:
        assert needle in text, text
    return text


def test_missing_column_names_file_and_column(tmp_path):
    tr = write_csv(tmp_path / "train.csv", rows(30, 0, 3, 1))
    exc = expect_failure(["scorer", "train", str(tr), "--text-col", "Answer", "--score-col", "mark",
                          "-o", str(tmp_path / "m")], "train.csv", "Answer", "did you mean 'answer'")
    assert "field 'Answer'" in exc  # the message names the field, as VbrError formats it
    assert not (tmp_path / "m").exists()


def test_non_utf8_file(tmp_path):
    tr = tmp_path / "latin1.csv"
    tr.write_bytes("id,answer,mark\n1,caf\xe9 au lait,2\n".encode("latin-1"))
    exc = expect_failure(["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                          "-o", str(tmp_path / "m")], "latin1.csv", "UTF-8")
    assert "line 2" in exc


@pytest.mark.parametrize("bad,needle", [("two", "'two' is not a whole number"), ("", "missing"),
                                        ("2.5", "'2.5' is not a whole number")])
def test_bad_scores_name_the_row(tmp_path, bad, needle):
    data = rows(30, 0, 3, 1)
    data[6][2] = bad
    tr = write_csv(tmp_path / "train.csv", data)
    exc = expect_failure(["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                          "-o", str(tmp_path / "m")], "row 7", "mark", needle)
    assert "row 7" in exc and "field 'mark'" in exc


def test_empty_and_whitespace_answers(tmp_path):
    data = rows(30, 0, 3, 1)
    data[3][1] = "   \n  "
    tr = write_csv(tmp_path / "train.csv", data)
    expect_failure(["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                    "-o", str(tmp_path / "m")], "row 4", "answer is empty")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    expect_failure(["scorer", "train", str(empty), "--text-col", "answer", "--score-col", "mark",
                    "-o", str(tmp_path / "m")], "empty.csv", "empty")
    header_only = write_csv(tmp_path / "header.csv", [])
    expect_failure(["scorer", "train", str(header_only), "--text-col", "answer", "--score-col",
                    "mark", "-o", str(tmp_path / "m")], "0 answer row")


def test_one_level_only_and_too_few_rows(tmp_path):
    data = rows(30, 0, 3, 1)
    for r in data:
        r[2] = "2"
    tr = write_csv(tmp_path / "train.csv", data)
    expect_failure(["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                    "-o", str(tmp_path / "m")], "at least two different levels")
    few = write_csv(tmp_path / "few.csv", rows(5, 0, 3, 1))
    expect_failure(["scorer", "train", str(few), "--text-col", "answer", "--score-col", "mark",
                    "-o", str(tmp_path / "m")], "at least 10")


@pytest.mark.parametrize("bad,needle", [("7", "second rater's score 7 is outside the scale of the "
                                                 "scores in 'mark' (0-3)"),
                                        ("-1", "score -1 is outside the scale"),
                                        ("2.5", "'2.5' is not a whole number"),
                                        ("high", "'high' is not a whole number")])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_bad_second_rater_scores_in_the_training_file_name_the_row(tmp_path, bad, needle, command):
    data = rows(30, 0, 3, 1)
    data[6][3] = bad
    tr = write_csv(tmp_path / "train.csv", data)
    te = write_csv(tmp_path / "test.csv", rows(10, 0, 3, 2))
    args = (["train", str(tr)] if command == "train" else ["evaluate", str(tr), str(te)])
    exc = expect_failure(["scorer", *args, "--text-col", "answer", "--score-col", "mark",
                          "--second-rater-col", "mark2", "-o", str(tmp_path / "m")]
                         if command == "train" else
                         ["scorer", *args, "--text-col", "answer", "--score-col", "mark",
                          "--second-rater-col", "mark2"],
                         "train.csv", "row 7", "field 'mark2'", needle)
    assert "test.csv" not in exc
    assert ("same scale" in exc) if bad in ("7", "-1") else ("or blank for an answer marked once" in exc)
    assert not (tmp_path / "m").exists()


def test_a_training_file_without_the_second_rater_column_trains_on_one_mark_and_says_so(tmp_path):
    """The second rater marked only the test answers: evaluate still gives the human-human
    agreement, trains on the first rater's marks and says why."""
    tr = write_csv(tmp_path / "train.csv", [r[:3] for r in rows(30, 0, 3, 1)],
                   header=("id", "answer", "mark"))
    te = write_csv(tmp_path / "test.csv", rows(10, 0, 3, 2))
    base = ["scorer", "evaluate", str(tr), str(te), "--text-col", "answer", "--score-col", "mark",
            "--second-rater-col", "mark2"]
    res = runner.invoke(cli(), [*base, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["trained_on_second_rater"] is False and out["n_double_marked"] == 0
    test = read_scored_csv(te, "answer", "mark", "mark2")
    assert out["human_qwk"] == pytest.approx(quadratic_weighted_kappa(test.scores, test.second))
    assert out["n_human_pairs"] == 10
    res = runner.invoke(cli(), base)
    assert res.exit_code == 0, res.output
    assert "(marked once: train.csv has no 'mark2' column)" in " ".join(res.output.split())


def test_answers_marked_once_leave_the_second_rater_blank(tmp_path):
    """Institutions double-mark a sample: a blank second-rater cell is an answer marked once, in
    training (the model is LearnedScorer.fit with NaN there) and in the test file (the
    human-human figures are on the answers both marked, and the output says how many)."""
    from vbr.scoring.learned import LearnedScorer

    train_rows, test_rows = rows(60, 0, 3, 1), rows(30, 0, 3, 2)
    for r in train_rows[::3]:
        r[3] = ""
    for r in test_rows[1::2]:
        r[3] = " "
    tr = write_csv(tmp_path / "train.csv", train_rows)
    te = write_csv(tmp_path / "test.csv", test_rows)
    train = read_scored_csv(tr, "answer", "mark", "mark2")
    assert int(np.isnan(train.second).sum()) == 20
    base = ["scorer", "evaluate", str(tr), str(te), "--text-col", "answer", "--score-col", "mark",
            "--second-rater-col", "mark2"]
    res = runner.invoke(cli(), [*base, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["trained_on_second_rater"] is True and out["n_double_marked"] == 40
    test = read_scored_csv(te, "answer", "mark", "mark2")
    both = LearnedScorer().fit(train.texts, train.scores, second_rating=train.second)
    assert out["qwk"] == pytest.approx(quadratic_weighted_kappa(test.scores, both.predict(test.texts)))
    pairs = ~np.isnan(test.second)
    assert out["n_human_pairs"] == 15 and out["n_test"] == 30
    assert out["human_qwk"] == pytest.approx(
        quadratic_weighted_kappa(test.scores[pairs], test.second[pairs].astype(int)))
    res = runner.invoke(cli(), base)
    assert res.exit_code == 0, res.output
    assert "The second rater marked 15 of the 30 test answers" in " ".join(res.output.split())
    model = tmp_path / "m.vbr"
    res = runner.invoke(cli(), ["scorer", "train", str(tr), "--text-col", "answer", "--score-col", "mark",
                                "--second-rater-col", "mark2", "-o", str(model)])
    assert res.exit_code == 0, res.output
    assert "40 of them double-marked" in " ".join(res.output.split())


def test_second_rater_column_checked_in_test_file(tmp_path):
    # the training file has the column (evaluate trains on it), the test file does not
    tr = write_csv(tmp_path / "train.csv", rows(30, 0, 3, 1), header=("id", "answer", "mark", "rater2"))
    te = write_csv(tmp_path / "test.csv", rows(10, 0, 3, 2))
    expect_failure(["scorer", "evaluate", str(tr), str(te), "--text-col", "answer", "--score-col",
                    "mark", "--second-rater-col", "rater2"], "test.csv", "rater2")


def test_cli_exit_code_and_one_line_message_without_traceback(tmp_path):
    tr = tmp_path / "latin1.csv"
    tr.write_bytes("id,answer,mark\n1,caf\xe9,2\n".encode("latin-1"))
    proc = subprocess.run(
        [sys.executable, "-c", "from vbr.cli import main; main()", "scorer", "train", str(tr),
         "--text-col", "answer", "--score-col", "mark", "-o", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "latin1.csv" in lines[0] and "UTF-8" in lines[0]


# ------------------------------------------------------------------ the reader itself


def test_reader_keeps_multiline_answers_and_reports_rows(tmp_path):
    data = rows(12, 0, 3, 1, multiline=True)
    path = write_csv(tmp_path / "t.csv", data, encoding="utf-8-sig")
    got = read_scored_csv(path, "answer", "mark", "mark2")
    assert got.texts == [r[1] for r in data]
    assert list(got.scores) == [int(r[2]) for r in data]
    assert list(got.second) == [int(r[3]) for r in data]
    assert got.rows == list(range(1, 13))
    assert got.scores.dtype == np.int64


def test_reader_accepts_float_whole_numbers_and_skips_blank_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("answer,mark\nfirst answer,3.0\n\nsecond answer, 1 \n", encoding="utf-8")
    got = read_scored_csv(p, "answer", "mark")
    assert got.texts == ["first answer", "second answer"] and list(got.scores) == [3, 1]


# ------------------------------------------------------------------ real data, when present

ASAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "asap-sas"


def test_evaluate_on_asap_prompt_when_present(tmp_path):
    src = ASAP / "1_GOLD_train.csv"
    if not src.exists():
        pytest.skip("shared ASAP-SAS data not present")
    # a small slice keeps the test fast; the data are read in place and never copied
    # into the repository (the slice lives in pytest's temporary folder)
    with open(src, newline="", encoding="utf-8") as fh:
        all_rows = list(csv.reader(fh))
    header, body = all_rows[0], all_rows[1:]
    tr = write_csv(tmp_path / "tr.csv", body[:400], header=header)
    te = write_csv(tmp_path / "te.csv", body[400:600], header=header)
    res = runner.invoke(cli(), ["scorer", "evaluate", str(tr), str(te), "--text-col", "EssayText",
                                "--score-col", "Score1", "--second-rater-col", "Score2",
                                "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_train"] == 400 and out["n_test"] == 200
    assert out["human_qwk"] > 0.8
    assert out["qwk"] > 0.6
