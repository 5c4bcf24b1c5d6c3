"""Batch scoring on Dask: same scores as in-process scoring, scorer id and version on every row."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")

from vbr.errors import ValidationFailed  # noqa: E402
from vbr.scoring.batch import OUTPUT_COLUMNS, make_job, score_batch, score_frame  # noqa: E402

GOOD = ["I listened to the patient and explained the options kindly",
        "I escalated the concern to the nurse in charge straight away",
        "I respected their dignity and asked what mattered to them",
        "I reported my error and apologised honestly to the family"]
BAD = ["I ignored it because it was not my job", "I told them to wait and walked off",
       "I did what I was told and nothing more"]


def answers(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    texts, levels = [], []
    for i in range(n):
        lvl = int(rng.integers(1, 4))
        parts = list(rng.choice(GOOD, size=lvl - 1)) + list(rng.choice(BAD, size=3 - lvl))
        texts.append(" ".join(parts) + f" (case {i})")
        levels.append(lvl)
    return texts, levels


@pytest.fixture(scope="module")
def rubric():
    from vbr.rubrics import builtin_rubrics

    return next(r for r in builtin_rubrics() if r.id == "6cs")


def test_evidence_scorer_on_dask_equals_in_process(client, tmp_path, rubric):
    from vbr.scoring.evidence import EvidenceScorer

    texts, _ = answers(300)
    qids = [q.id for q in rubric.questions if q.type.value == "free_text"][:3]
    df = pd.DataFrame({"answer_id": [f"a{i}" for i in range(len(texts))], "answer": texts,
                       "question": [qids[i % 3] for i in range(len(texts))]})
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        df.iloc[i * 100:(i + 1) * 100].to_parquet(src / f"p{i}.parquet", index=False)
    scorer = EvidenceScorer()
    report = score_batch(str(src / "*.parquet"), tmp_path / "out", scorer, rubric=rubric, question_col="question",
                         client=client, progress=False)
    got = pd.read_parquet(tmp_path / "out").sort_values(["answer_id", "value_id"]).reset_index(drop=True)
    assert list(got.columns) == list(OUTPUT_COLUMNS)
    assert report.rows_in == len(df) and report.rows_out == len(got)
    assert set(got.scorer_id) == {"evidence"} and set(got.scorer_version) == {scorer.version}
    job = make_job(scorer, rubric=rubric, question_col="question")
    want = score_frame(df, job).sort_values(["answer_id", "value_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # and against the scorer called directly, answer by answer
    questions = {q.id: q for q in rubric.questions}
    direct = [(a, v.value_id, v.level, v.confidence) for a, q, t in zip(df.answer_id, df.question, df.answer)
              for v in scorer.score(rubric, questions[q], t)]
    assert sorted(direct) == sorted(zip(got.answer_id, got.value_id, got.level, got.confidence))


def test_learned_scorer_shipped_once_equals_in_process(client, tmp_path):
    from vbr.scoring.learned import LearnedScorer
    from vbr.scoring.model_io import load_model, save_model

    texts, levels = answers(90, seed=1)
    save_model(LearnedScorer(n_folds=3).fit(texts, levels), tmp_path / "m.vbrmodel")
    model, card = load_model(tmp_path / "m.vbrmodel")
    new_texts, _ = answers(200, seed=2)
    ddf = dd.from_pandas(pd.DataFrame({"answer_id": [f"x{i}" for i in range(200)], "answer": new_texts}),
                         npartitions=4)
    report = score_batch(ddf, tmp_path / "out", model, scorer_id="learned", value_id="care",
                         scorer_version=card.model_sha256[:12], client=client, progress=False)
    got = pd.read_parquet(tmp_path / "out").sort_values("answer_id", key=lambda s: s.str[1:].astype(int))
    levels_in_process, conf = model.predict_with_confidence(new_texts)
    np.testing.assert_array_equal(got.level.to_numpy(), levels_in_process)
    np.testing.assert_allclose(got.confidence.to_numpy(), conf)
    assert set(got.scorer_version) == {card.model_sha256[:12]} and set(got.value_id) == {"care"}
    assert report.partitions == 4 and report.rows_out == 200
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"part-{i:05d}.parquet" for i in range(4)]


def test_bad_input_is_named(client, tmp_path, rubric):
    from vbr.scoring.evidence import EvidenceScorer

    with pytest.raises(ValidationFailed, match="needs the rubric"):
        score_batch(str(tmp_path), tmp_path / "o", EvidenceScorer(), question="6cs-care-1", client=client)
    df = pd.DataFrame({"answer_id": ["a", "b"], "answer": ["x", "y"], "question": ["6cs-care-1", "nope"]})
    with pytest.raises(ValidationFailed, match="no question 'nope'"):
        score_batch(dd.from_pandas(df, npartitions=1), tmp_path / "o", EvidenceScorer(), rubric=rubric,
                    question_col="question", client=client, progress=False)
    with pytest.raises(ValidationFailed, match="has no version"):
        score_batch(dd.from_pandas(df, npartitions=1), tmp_path / "o2", object.__new__(type("M", (), {
            "predict": lambda self, X: X})), client=client)


def test_batch_scoring_does_not_load_fairness():
    code = ("import sys, vbr.scoring.batch; "
            "bad = [m for m in sys.modules if m.startswith('vbr.fairness')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_redact_runs_before_scoring(rubric):
    from vbr.scoring.evidence import EvidenceScorer

    seen = []

    class Spy(EvidenceScorer):
        def score(self, rubric, question, text):
            seen.append(text)
            return super().score(rubric, question, text)

    df = pd.DataFrame({"answer_id": ["a"], "answer": ["Email me at jo.bloggs@example.com: I listened to the patient."]})
    out = score_frame(df, make_job(Spy(), rubric=rubric, question="6cs-care-1", redact=True))
    assert "jo.bloggs@example.com" not in seen[0] and list(out.columns) == list(OUTPUT_COLUMNS)
