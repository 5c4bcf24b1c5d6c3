"""Human ratings: import (all or nothing, errors name the row) and the scorer-vs-raters report."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from vbr.cli import _register_all, app
from vbr.engine import Engine

STRONG = ("I sat with the patient's son, listened to his worries and explained honestly what was "
          "happening. I involved him in the plan, checked he understood and escalated to the nurse in charge.")
WEAK = "I would do my job and tell someone."


def _campaign(tmp_path, n=60):
    db = tmp_path / "r.sqlite"
    engine = Engine(db)
    engine.create_campaign("c1", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    apps = [{"id": f"a{i:03d}", "campaign_id": "c1"} for i in range(n)]
    engine.submit("c1", apps, [{"application_id": a["id"], "question_id": "nhs-compassion-1",
                                "text": STRONG if i % 2 else WEAK} for i, a in enumerate(apps)])
    engine.score("c1")
    return db, engine


def _run(*args):
    _register_all()
    return CliRunner().invoke(app, list(args))


def test_import_and_report(tmp_path):
    db, engine = _campaign(tmp_path)
    rng = random.Random(1)
    lines = ["application_id,question_id,value_id,rater,level"]
    for s in engine.scores("c1"):
        for rater in ("r1", "r2"):
            lvl = min(4, max(0, s.level + rng.choice([0, 0, 0, 1, -1])))
            lines.append(f"{s.application_id},{s.question_id},{s.value_id},{rater},{lvl}")
    f = tmp_path / "ratings.csv"
    f.write_text("\n".join(lines) + "\n")
    r = _run("ratings", "import", "c1", str(f), "--as", "assessor-lead", "--db", str(db))
    assert r.exit_code == 0, r.output
    assert "imported 120 ratings from 2 rater(s)" in r.output
    r = _run("ratings", "report", "c1", "--json", "--db", str(db))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["items"] == 60 and out["double_marked"] == 60 and out["raters"] == ["r1", "r2"]
    assert out["report"]["verdict"] in ("unsupervised", "with review", "not usable")
    assert -1 <= out["report"]["model_human"]["qwk"]["estimate"] <= 1
    assert "raters_krippendorff_alpha" in out and "raters_icc" in out
    assert list(engine.store.log.entries(action="ratings.imported"))[-1].actor == "assessor-lead"


def test_bad_ratings_name_the_row_and_store_nothing(tmp_path):
    db, engine = _campaign(tmp_path, n=4)
    f = tmp_path / "bad.csv"
    f.write_text("application_id,question_id,value_id,rater,level\n"
                 "a000,nhs-compassion-1,compassion,r1,2\n"
                 "a001,nhs-compassion-1,compassion,r1,7\n")
    r = _run("ratings", "import", "c1", str(f), "--as", "x", "--db", str(db))
    assert r.exit_code == 2 and "row 3" in r.output and "outside the rubric scale 0-4" in r.output
    assert engine.store.human_ratings("c1") == []
    f.write_text("application_id,question_id,value_id,rater\na000,nhs-compassion-1,compassion,r1\n")
    r = _run("ratings", "import", "c1", str(f), "--as", "x", "--db", str(db))
    assert r.exit_code == 2 and "no column named 'level'" in r.output
