"""`vbr audit --engine dask` gives the same decision and figures as the in-memory audit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from vbr.cli import _register_all, app


def test_audit_engine_dask_matches_memory(tmp_path, client):
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame({
        "shortlisted": rng.random(n) < 0.3,
        "ethnic_code": rng.choice(list("ACHNZ"), size=n, p=[0.5, 0.1, 0.2, 0.15, 0.05]),
    })
    df.loc[df.ethnic_code == "N", "shortlisted"] = rng.random((df.ethnic_code == "N").sum()) < 0.18
    path = tmp_path / "extract.parquet"
    df.astype({"shortlisted": "uint8"}).to_parquet(path)
    _register_all()
    runner = CliRunner()
    common = ["audit", "--outcomes", str(path), "--stage", "shortlisted", "--format", "json"]
    dask_run = runner.invoke(app, common + ["--engine", "dask", "--scheduler", client.scheduler.address])
    mem_run = runner.invoke(app, ["audit-scale", str(path), "--stage", "shortlisted", "--engine", "memory",
                                  "--format", "json"])
    assert dask_run.exit_code == mem_run.exit_code, dask_run.output
    a, b = json.loads(dask_run.stdout), json.loads(mem_run.stdout)
    assert a["decision"] == b["decision"] and a["engine"] == "dask"
    ga = {g["group"]: (g["selected"], g["impact_ratio"]) for g in a["audit"]["results"][0]["groups"]}
    gb = {g["group"]: (g["selected"], g["impact_ratio"]) for g in b["audit"]["results"][0]["groups"]}
    assert ga == gb


def test_audit_engine_dask_refuses_a_separate_equality_file(tmp_path):
    eq = tmp_path / "eq.csv"
    eq.write_text("application_id,ethnic_code\na,A\n")
    _register_all()
    result = CliRunner().invoke(app, ["audit", "--outcomes", str(tmp_path / "*.parquet"), "--equality", str(eq),
                                      "--engine", "dask"])
    assert result.exit_code == 2 and "joined extract" in result.output
