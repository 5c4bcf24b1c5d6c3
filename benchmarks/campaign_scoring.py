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
and CPU seconds, the ratios, and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

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


if __name__ == "__main__":
    main()
