"""benchmarks/campaign_scoring.py keeps working on a few answers, and a trained model scores a
campaign the same in chunks as one answer at a time (the script checks it). No timing asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_campaign_scoring_benchmark_small_run(shared_data):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "campaign_scoring.py"), "--answers", "40",
                          "--batches", "3", "--batch-size", "10", "--data", str(shared_data)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    for label in ("evidence scorer (reference)", "trained model + evidence, in chunks (vbr)",
                  "trained model + evidence, one answer at a time"):
        assert label in out.stdout, out.stdout
    assert "the same scores in chunks and one at a time: yes" in out.stdout, out.stdout
    new = next(line for line in out.stdout.splitlines() if "new answers only (vbr)" in line)
    old = next(line for line in out.stdout.splitlines() if "every answer again (rescore)" in line)
    # two values a question: 30 answers x 2 + the override
    assert " 61 score rows" in new and "override kept" in new, out.stdout
    # (10 + 20 + 30) answers x 2, less the overridden value in the two later runs, + the override
    assert " 119 score rows" in old and "override kept" in old, out.stdout
