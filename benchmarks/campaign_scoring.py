"""A campaign scored with a trained model, through vbr's whole scoring path, against the
evidence scorer (the default) on the same answers.

Run: ``.venv/bin/python benchmarks/campaign_scoring.py [--data ../shared/data] [--answers N]``

A learned scorer is trained on ASAP-SAS prompt 1's training answers (read in place, never
copied) and saved as a model file for one value of a rubric question, then loaded the way
``vbr score --model`` loads it. ``--answers`` answers (prompt 1's test answers, repeated) are
scored by :func:`vbr.scoring.pipeline.score_answers` (redaction, flags, near-duplicate check, the
scorer) three ways: the evidence scorer alone (the reference), the trained model with the
evidence scorer for the other value (chunks through ``score_many``, as vbr does), and the same
model called one answer at a time (what the chunks replace). Prints answers a second, wall
and CPU seconds, the ratios, and the machine's load. Then ``--batches`` batches of
applications arrive and the campaign is scored after each, as vbr does (new answers only) beside
the reference of scoring every answer again each time (``rescore``; what every run did before):
scoring time, score rows stored, and whether a recruiter's override is still current.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vbr.models import Response  # noqa: E402
from vbr.plugins import get_plugins  # noqa: E402
from vbr.scoring.evidence import EvidenceScorer  # noqa: E402
from vbr.scoring.learned import LearnedScorer  # noqa: E402
from vbr.scoring.model_io import save_model  # noqa: E402
from vbr.scoring.model_scorer import ModelScorer, load_models  # noqa: E402
from vbr.scoring.pipeline import score_answers  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RUBRIC, QUESTION, VALUE = "nhs-constitution", "nhs-compassion-2", "compassion"


class OneByOne:
    """The same scorer without ``score_many``: the pipeline calls it once per answer."""

    def __init__(self, inner: ModelScorer) -> None:
        self.inner, self.id, self.version = inner, inner.id, inner.version

    def score(self, rubric, question, text):
        return self.inner.score(rubric, question, text)


def timed(label: str, rubric, items, scorer) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    results = score_answers(rubric, items, scorer, None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(results)
    print(f"  {label:<46s} {n / wall:9,.0f} answers/s   {wall:7.2f} s wall   {cpu:7.2f} s CPU", flush=True)
    scores = [(s.application_id, s.value_id, s.level, s.scorer_id, s.scorer_version) for r in results for s in r.scores]
    return {"label": label, "n": n, "wall": wall, "cpu": cpu, "scores": scores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--answers", type=int, default=2000, help="answers to score (test answers, repeated)")
    ap.add_argument("--batches", type=int, default=20, help="batches of applications arriving (0: skip that part)")
    ap.add_argument("--batch-size", type=int, default=100, help="applications a batch")
    args = ap.parse_args()
    train = pd.read_csv(args.data / "asap-sas" / "1_GOLD_train.csv")
    test = pd.read_csv(args.data / "asap-sas" / "1_GOLD_test.csv")
    rubric = get_plugins().registry("rubrics")[RUBRIC]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.answers:,} answers; model trained on "
          f"{len(train):,} ASAP prompt 1 answers")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.vbrm"
        levels = train.Score1.to_numpy() + 1  # ASAP 0-3 placed on the rubric's 0-4 scale
        save_model(LearnedScorer().fit(train.EssayText.tolist(), levels), path, rubric_ref=rubric.ref,
                   question_id=QUESTION, value_id=VALUE)
        model = ModelScorer(load_models([path], rubric), rubric)
    texts = test.EssayText.fillna("").tolist()
    items = [Response(application_id=f"a{i}", question_id=QUESTION, text=texts[i % len(texts)])
             for i in range(args.answers)]
    ref = timed("evidence scorer (reference)", rubric, items, EvidenceScorer())
    batched = timed("trained model + evidence, in chunks (vbr)", rubric, items, model)
    single = timed("trained model + evidence, one answer at a time", rubric, items, OneByOne(model))
    print(f"  chunks vs one at a time: {single['wall'] / batched['wall']:.1f}x faster; "
          f"vs the evidence scorer alone: {batched['wall'] / ref['wall']:.2f}x its time")
    same = batched["scores"] == single["scores"]
    print(f"  the same scores in chunks and one at a time: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)
    if args.batches:
        arrivals(texts, args.batches, args.batch_size)


def arrivals(texts: list[str], batches: int, size: int) -> None:
    """An ATS that scores after every batch of new applications, as vbr does now (only the new
    answers) and with every answer scored again each time (``rescore=True``, the reference: what
    every run did before this existed), in two stores side by side: time, score rows stored, and
    whether a recruiter's override is still the current score (rescore keeps it too)."""
    from vbr.engine import Engine

    print(f"\n[applications arriving] {batches} batches of {size} applications, scored after each batch "
          "(evidence scorer, SQLite)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for label, rescore in (("new answers only (vbr)", False), ("every answer again (rescore)", True)):
            engine = Engine(Path(tmp) / f"{rescore}.sqlite")
            engine.create_campaign("c", "HCA", RUBRIC, question_ids=[QUESTION], actor="ats")
            wall = 0.0
            for b in range(batches):
                ids = [f"a{b * size + i}" for i in range(size)]
                engine.submit("c", [{"id": a, "campaign_id": "c"} for a in ids],
                              [{"application_id": a, "question_id": QUESTION,
                                "text": texts[(b * size + i) % len(texts)]} for i, a in enumerate(ids)])
                t = time.perf_counter()
                engine.score("c", rescore=rescore)
                wall += time.perf_counter() - t
                if b == 0:  # a recruiter changes a score after the first batch
                    engine.override("a0", QUESTION, VALUE, 4, actor="recruiter", reason="Read it myself.")
            with engine.store.engine.connect() as conn:
                rows = conn.execute(text("SELECT COUNT(*) FROM scores")).scalar_one()
            kept = {r["application_id"]: r["source"] for r in engine.store.current_scores("c")
                    if r["value_id"] == VALUE}["a0"] == "override"
            runs[label] = (wall, rows)
            print(f"  {label:<30s} {wall:7.2f} s scoring   {rows:9,} score rows   recruiter's override "
                  f"{'kept' if kept else 'REPLACED by the scorer'}")
        (new_wall, new_rows), (old_wall, old_rows) = runs.values()
        print(f"  new answers only: {old_wall / new_wall:.1f}x less scoring time, {old_rows / new_rows:.1f}x fewer rows")


if __name__ == "__main__":
    main()
