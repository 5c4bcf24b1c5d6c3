"""The crash benchmark's own invariants, on a small run: kill -9 at random moments (seeded)
during an import and during webhook delivery, then restart; the script exits non-zero if any
batch was half-written, any row lost or duplicated, or any event lost. What it checks holds
whenever the kill lands, so the test does not depend on timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_crash_benchmark_small_run_holds_its_invariants(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VBR_BENCH_PG_URL"}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "crash.py"), "--rows", "3000", "--batch-size",
                          "500", "--kills", "2", "--events", "120", "--seed", "3"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all invariants held; import:" in out.stdout and "webhooks:" in out.stdout
    assert "delivered 120 of 120" in out.stdout and "lost 0" in out.stdout
