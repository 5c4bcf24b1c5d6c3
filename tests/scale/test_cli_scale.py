"""``vbr audit-scale`` and ``vbr score-batch`` against the shared LocalCluster (--scheduler)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tests.scale.test_distributed_audit import STAGES, make_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    from vbr.cli import scale

    app = typer.Typer()
    scale.register(app)
    return app


def strip(d: dict) -> dict:
    d = dict(d)
    d.pop("engine")
    d["audit"] = {k: v for k, v in d["audit"].items() if not k.startswith("fairlearn")}
    return d


def test_audit_scale_dask_equals_memory(app, client, tmp_path):
    df = make_frame(21, 12_000)
    for i in range(3):
        df.iloc[i * 4000:(i + 1) * 4000].to_parquet(tmp_path / f"part{i}.parquet", index=False)
    args = ["audit-scale", str(tmp_path / "*.parquet"), *sum([["--stage", s] for s in STAGES], []),
            "--strata-col", "site", "--sex-col", "sex", "--regime", "ll144", "--format", "json"]
    dask_run = runner.invoke(app, args + ["--engine", "dask", "--scheduler", client.scheduler.address])
    mem_run = runner.invoke(app, args + ["--engine", "memory"])
    assert dask_run.exit_code == mem_run.exit_code == 6, dask_run.output  # the funnel does not reconcile: BLOCK
    got, want = json.loads(dask_run.stdout), json.loads(mem_run.stdout)
    assert got["engine"] == "dask" and got["rows"] == 12_000
    assert strip(got) == strip(want)
    assert got["decision"] == "BLOCK"


def test_audit_scale_names_the_bad_file(app, client, tmp_path):
    df = make_frame(22, 2_000)
    df.iloc[:1000].to_parquet(tmp_path / "good.parquet", index=False)
    df.iloc[1000:].drop(columns=["appointed"]).to_parquet(tmp_path / "short.parquet", index=False)
    res = runner.invoke(app, ["audit-scale", str(tmp_path), *sum([["--stage", s] for s in STAGES], []),
                              "--scheduler", client.scheduler.address])
    assert res.exit_code == 2
    assert "short.parquet" in res.output and "'appointed' is missing" in res.output


def test_score_batch_cli(app, client, tmp_path):
    df = pd.DataFrame({"answer_id": ["a1", "a2", "a3"], "question": ["6cs-care-1"] * 3,
                       "answer": ["I listened to the patient and made sure they felt heard and respected.",
                                  "I ignored it.", "I escalated it to the nurse in charge and checked back."]})
    df.to_csv(tmp_path / "answers.csv", index=False)
    res = runner.invoke(app, ["score-batch", str(tmp_path / "answers.csv"), "-o", str(tmp_path / "out"),
                              "--scorer", "evidence", "--rubric", "6cs", "--question-col", "question",
                              "--scheduler", client.scheduler.address, "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "Scored 3 answers" in res.output
    out = pd.read_parquet(tmp_path / "out")
    assert set(out.answer_id) == {"a1", "a2", "a3"} and set(out.scorer_id) == {"evidence"}
    res = runner.invoke(app, ["score-batch", str(tmp_path / "answers.csv"), "-o", str(tmp_path / "out2"),
                              "--scheduler", client.scheduler.address])
    assert res.exit_code == 2 and "--model" in res.output
