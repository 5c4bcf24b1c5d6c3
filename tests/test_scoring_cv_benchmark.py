"""benchmarks/scoring_cv.py, the cross-validation every learned-scorer change was chosen by: its
protocol (five stratified folds of a training file, shuffled with 1000 + repeat, the mean QWK of
the held-out folds) on one prompt, and its refusals. No timing asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from vbr.scoring.agreement import quadratic_weighted_kappa
from vbr.scoring.learned import LearnedScorer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "scoring_cv.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900)


def test_compares_settings_on_held_out_folds_of_a_training_file(shared_data):
    fast = {"trees": 0, "presence": False}
    out = run("--data", str(shared_data), "--prompts", "5", "--repeats", "2", "--jobs", "2",
              'bagged={"trees": 0, "presence": false}', 'once={"trees": 0, "presence": false, "cut_bags": 0}')
    assert out.returncode == 0, out.stdout + out.stderr
    df = pd.read_csv(shared_data / "asap-sas" / "5_GOLD_train.csv")
    texts, y = np.array(df.EssayText.tolist(), dtype=object), df.Score1.to_numpy()
    by_hand = {}
    for name, extra in (("bagged", {}), ("once", {"cut_bags": 0})):
        folds = StratifiedKFold(5, shuffle=True, random_state=1002).split(texts, y)
        by_hand[name] = np.mean([quadratic_weighted_kappa(
            y[va], LearnedScorer(**fast, **extra).fit(list(texts[tr]), y[tr]).predict(list(texts[va])))
            for tr, va in folds])
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert f"bagged {by_hand['bagged']:.4f}" in lines, out.stdout
    gain = by_hand["once"] - by_hand["bagged"]
    assert (f"once {by_hand['once']:.4f}  vs bagged: {gain:+.4f}, higher in {int(gain > 0)} of 1 "
            f"repeats; by prompt 5: {gain:+.4f}") in lines, out.stdout


def test_refuses_bad_settings_and_missing_data(tmp_path):
    for bad, says in (("default", "NAME=JSON"), ("x={oops}", "not JSON"), ("x=[1]", "JSON object"),
                      ('x={"no_such": 1}', "no_such")):
        out = run("--data", str(tmp_path), bad)
        assert out.returncode == 2 and says in out.stderr, (bad, out.stderr)
    out = run("--data", str(tmp_path), "a={}")
    assert out.returncode == 1 and "no data at" in out.stderr, out.stderr
    out = run("--data", str(tmp_path), "a={}", "a={}")
    assert out.returncode == 1
