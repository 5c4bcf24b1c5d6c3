"""benchmarks/review_pages.py keeps working: a small campaign, every page answers 200 (the script
asserts it) and every row of its table is printed. Nothing here depends on timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_review_pages_benchmark_small_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "review_pages.py"), "--candidates", "30",
                          "--repeats", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "VBR_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    for label in ("30 candidates", "reference: read every current score", "campaigns (recruiter)", "review list",
                  "candidate page", "equality dashboard, first load", "equality dashboard"):
        assert label in out.stdout, out.stdout


def test_review_pages_benchmark_many_campaigns_small_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "review_pages.py"), "--campaigns", "27",
                          "--campaign-candidates", "6", "--repeats", "1"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "VBR_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = {line[:40].strip(): line[40:].strip() for line in out.stdout.splitlines()}
    assert lines["vbr imported from"] == str(ROOT)
    assert lines["campaigns in the store"] == "55"  # 27 of the recruiter's tenant, 27 of another, the template
    assert lines["campaigns shown on the page"] == "25 of 27"  # the first page of the recruiter's, newest first
    for label in ("campaigns page (recruiter)", "campaigns page 2 (recruiter)", "campaigns page (equality officer)"):
        assert lines[label].endswith(" ms"), out.stdout
