"""LearnedScorer: scikit-learn contract, scale handling, confidence, features, no leakage."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from vbr.scoring.learned import (
    CharNgramTfidf,
    LearnedScorer,
    apply_cutpoints,
    optimise_cutpoints,
)
from vbr.scoring.agreement import quadratic_weighted_kappa

CONCEPTS = ["put the patient first", "ask a senior colleague for help", "respect dignity and privacy",
            "listen to the family", "report the incident honestly", "work with the team",
            "explain the options clearly", "check understanding"]
FILLER = ["on the ward", "it was a busy shift", "I think", "at the time", "we had many tasks",
          "later that day", "in my last job", "the situation was hard", "it went well"]


def make_answers(n: int, lo: int = 0, hi: int = 3, seed: int = 0, noise: float = 0.1):
    """Answers whose level is set by how many key concepts they mention, plus some noise."""
    rng = random.Random(seed)
    texts, levels = [], []
    for _ in range(n):
        level = rng.randint(lo, hi)
        k = round((level - lo) / (hi - lo) * (len(CONCEPTS) - 1))
        parts = rng.sample(CONCEPTS, k) + rng.sample(FILLER, rng.randint(1, 4))
        rng.shuffle(parts)
        texts.append(". ".join(parts) + ".")
        if rng.random() < noise:
            level = min(hi, max(lo, level + rng.choice([-1, 1])))
        levels.append(level)
    return texts, np.array(levels)


@pytest.fixture(scope="module")
def data():
    return make_answers(160, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    texts, y = data
    return LearnedScorer(n_folds=4).fit(texts, y)


# ------------------------------------------------------------------ sklearn contract


def test_sklearn_estimator_checks_that_apply_to_text_input():
    name = "LearnedScorer"
    check_parameters_default_constructible(name, LearnedScorer())
    check_no_attributes_set_in_init(name, LearnedScorer())
    check_get_params_invariance(name, LearnedScorer())
    check_set_params(name, LearnedScorer())


def test_init_does_no_work_and_params_round_trip():
    hook = np.ones
    est = LearnedScorer(reference="key text", feature_hook=hook, n_neighbors=3, alphas=(0.5, 2.0))
    params = est.get_params()
    assert params["reference"] == "key text" and params["feature_hook"] is hook
    again = LearnedScorer(**params)
    assert again.get_params() == params
    assert not [k for k in vars(est) if k.endswith("_")]  # nothing fitted in __init__
    est.set_params(n_neighbors=7)
    assert est.n_neighbors == 7


def test_clone_is_unfitted_with_same_params(fitted):
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "meta_")


def test_pipeline_cross_val_score_and_grid_search(data):
    texts, y = data
    pipe = Pipeline([("strip", FunctionTransformer(lambda xs: [x.strip() for x in xs])),
                     ("score", LearnedScorer(n_folds=3))])
    pipe.fit(texts, y)
    assert set(np.unique(pipe.predict(texts[:20]))) <= set(range(0, 4))
    scores = cross_val_score(LearnedScorer(n_folds=3), np.array(texts, dtype=object), y, cv=3)
    assert scores.shape == (3,)
    assert np.all(scores > 0.5)  # score() is QWK; the concepts make the levels learnable
    grid = GridSearchCV(LearnedScorer(n_folds=3), {"n_neighbors": [2, 5]}, cv=3)
    grid.fit(texts, y)
    assert grid.best_params_["n_neighbors"] in (2, 5)
    assert -1.0 <= grid.best_score_ <= 1.0


def test_score_is_qwk(fitted, data):
    texts, y = data
    assert fitted.score(texts, y) == pytest.approx(
        cohen_kappa_score(y, fitted.predict(texts), weights="quadratic", labels=[0, 1, 2, 3]))


# ------------------------------------------------------------------ behaviour


def test_learns_the_concepts_on_held_out_answers(fitted):
    texts, y = make_answers(120, seed=5)
    q = quadratic_weighted_kappa(y, fitted.predict(texts))
    assert q > 0.8
    assert 0.0 <= fitted.cv_qwk_ <= 1.0 and fitted.cv_qwk_ > 0.7


@pytest.mark.parametrize("lo,hi", [(0, 2), (1, 5), (0, 10)])
def test_any_scale_predictions_stay_on_the_training_scale(lo, hi):
    texts, y = make_answers(120, lo=lo, hi=hi, seed=lo + hi)
    model = LearnedScorer(n_folds=3).fit(texts, y)
    pred = model.predict(texts + ["", "completely unrelated words about football", "x" * 500])
    assert pred.dtype.kind == "i"
    assert pred.min() >= lo and pred.max() <= hi
    assert list(model.levels_) == list(range(lo, hi + 1))
    assert len(model.cutpoints_) == hi - lo


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=12))
def test_any_text_gets_a_level_on_the_scale_and_a_confidence(fitted, texts):
    levels, conf = fitted.predict_with_confidence(texts)
    assert levels.shape == conf.shape == (len(texts),)
    assert np.all((levels >= 0) & (levels <= 3))
    assert np.all((conf >= 0.0) & (conf <= 1.0))


def test_confidence_is_calibrated_out_of_fold_and_tracks_correctness(fitted):
    texts, y = make_answers(300, seed=11, noise=0.2)
    levels, conf = fitted.predict_with_confidence(texts)
    right = levels == y
    assert conf.shape == (300,)
    # answers the scorer is surer of are right more often
    hi, lo = conf >= np.median(conf), conf < np.median(conf)
    if lo.any() and hi.any():
        assert right[hi].mean() >= right[lo].mean()
    np.testing.assert_allclose(fitted.predict_confidence(texts), conf)


def test_same_seed_same_model_and_predictions(data):
    texts, y = data
    a = LearnedScorer(n_folds=3, random_state=3).fit(texts, y)
    b = LearnedScorer(n_folds=3, random_state=3).fit(texts, y)
    new, _ = make_answers(40, seed=8)
    np.testing.assert_array_equal(a.predict(new), b.predict(new))
    np.testing.assert_allclose(a.decision_function(new), b.decision_function(new))
    assert a.cv_qwk_ == b.cv_qwk_


def test_threads_give_the_same_answers(fitted):
    texts, _ = make_answers(2500, seed=12)
    one = fitted.predict(texts)
    two = clone(fitted).set_params(n_jobs=2)
    two.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    np.testing.assert_array_equal(two.predict(texts), one)


def test_repeating_an_answer_does_not_raise_its_score(fitted):
    """Length is not a feature: saying the same thing three times earns nothing more."""
    texts, _ = make_answers(80, seed=21)
    once = fitted.decision_function(texts)
    thrice = fitted.decision_function([" ".join([t] * 3) for t in texts])
    gap = np.diff(fitted.cutpoints_).min() if len(fitted.cutpoints_) > 1 else 1.0
    assert np.all(thrice - once < 0.5 * gap)
    assert np.mean(fitted.predict([" ".join([t] * 3) for t in texts]) > fitted.predict(texts)) <= 0.05


def test_feature_hook_reference_and_per_answer_keys(data):
    texts, y = data
    calls = []

    def hook(batch):
        calls.append(len(batch))
        return np.array([[b.count("patient"), b.count("team")] for b in batch], dtype=float)

    model = LearnedScorer(n_folds=3, feature_hook=hook, reference="put the patient first").fit(texts, y)
    assert model.n_hook_features_ == 2 and calls
    assert any("feature_hook" in f for f in model.feature_set)
    assert any("key answer" in f for f in model.feature_set)
    model.predict(texts[:5])
    assert calls[-1] == 5

    bad = LearnedScorer(n_folds=3, feature_hook=lambda b: np.ones((len(b) + 1, 2)))
    with pytest.raises(ValueError, match="one row per answer"):
        bad.fit(texts, y)
    nan_hook = LearnedScorer(n_folds=3, feature_hook=lambda b: np.full((len(b), 1), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        nan_hook.fit(texts, y)

    pairs = [(t, "put the patient first and ask a senior colleague for help") for t in texts]
    keyed = LearnedScorer(n_folds=3).fit(pairs, y)
    assert keyed.uses_keys_
    assert keyed.predict(pairs[:4]).shape == (4,)
    with pytest.raises(ValueError, match="per-answer keys"):
        keyed.predict(texts[:4])
    with pytest.raises(ValueError, match="without per-answer keys"):
        model.predict(pairs[:4])


def test_bad_training_input_is_a_value_error():
    texts, y = make_answers(30, seed=2)
    with pytest.raises(ValueError, match="same level"):
        LearnedScorer().fit(texts, np.full(30, 2))
    with pytest.raises(ValueError, match="whole-number"):
        LearnedScorer().fit(texts, y + 0.5)
    with pytest.raises(ValueError, match="one level per answer"):
        LearnedScorer().fit(texts, y[:-1])
    with pytest.raises(ValueError, match="at least 4"):
        LearnedScorer().fit(texts[:3], y[:3])
    with pytest.raises(ValueError, match="not a single string"):
        LearnedScorer().fit("one string", [1])
    with pytest.raises(ValueError, match="alphas"):
        LearnedScorer(alphas=(0.0,)).fit(texts, y)


def test_no_leakage_labels_shuffled_gives_no_skill():
    """With labels that carry no information, the out-of-fold QWK must not look good: the
    level-similarity and stacking features are out of fold, so the scorer cannot see its own
    label. (An in-fold neighbour feature would give a high score here.)"""
    texts, _ = make_answers(200, seed=4)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    model = LearnedScorer(n_folds=4).fit(texts, y)
    assert model.cv_qwk_ < 0.3


# ------------------------------------------------------------------ parts


def test_char_ngrams_match_sklearn_char_wb():
    texts, _ = make_answers(150, seed=6)
    ours = CharNgramTfidf((2, 5), min_df=2).fit(texts)
    ref = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2).fit(texts)
    A = ours.transform(texts)
    B = ref.transform(texts)
    assert abs(A.shape[1] - B.shape[1]) <= 0.02 * B.shape[1]  # hashing may merge a few n-grams
    KA = (A @ A.T).toarray()
    KB = (B @ B.T).toarray()
    assert np.corrcoef(KA.ravel(), KB.ravel())[0, 1] > 0.99
    np.testing.assert_allclose(np.asarray(A.multiply(A).sum(1)).ravel(), 1.0)
    # unseen and empty text
    E = ours.transform(["", "zzzz qqqq"])
    assert E.shape == (2, A.shape[1])


def test_word_ngrams_match_sklearn_word_tfidf():
    texts, _ = make_answers(150, seed=6)
    texts = texts + ["Café au lait, naïve façade!", "x y z", "A_b 12 345", "tab\tand\nnewline"]
    ours = CharNgramTfidf((1, 2), min_df=2, analyzer="word").fit(texts)
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    assert len(ours.vocabulary_) == len(ref.vocabulary_)  # 64-bit hashes: no merged n-grams
    A, B = ours.transform(texts), ref.transform(texts)
    np.testing.assert_allclose((A @ A.T).toarray(), (B @ B.T).toarray(), atol=1e-10)
    assert ours.transform(["", "!!", "zzzz qqqq"]).nnz == 0
    X, stats = ours.transform_with_stats(["put the patient first", "zzzz qqqq", ""])
    np.testing.assert_allclose(stats[:, 0], [1.0, 0.0, 0.0])  # share of words seen in training
    np.testing.assert_allclose(stats[:, 1], [(3 + 3 + 7 + 5) / 4, 4.0, 0.0])  # mean word length
    with pytest.raises(ValueError, match="analyzer"):
        CharNgramTfidf(analyzer="bytes").fit(texts)


def test_word_stemming_merges_inflections_only():
    vec = CharNgramTfidf((1, 1), min_df=1, analyzer="word", stem=True).fit(
        ["helping helped helps help", "quickly quick", "glass class", "is was has", "sing"])
    X = vec.transform(["helping", "helped", "helps", "help", "quickly", "quick", "glass", "sing"])
    K = (X @ X.T).toarray()
    assert K[0, 1] == pytest.approx(1.0) and K[0, 2] == pytest.approx(1.0)
    assert K[0, 3] == pytest.approx(1.0) and K[4, 5] == pytest.approx(1.0)
    assert K[6, 6] == pytest.approx(1.0) and K[6, 0] == 0.0  # "glass" keeps its double s
    assert K[7, 7] == pytest.approx(1.0) and K[7, 0] == 0.0  # too short to strip "ing"
    # same texts, different order of calls and chunks: same rows (the hash is fixed)
    np.testing.assert_allclose(vec.transform(["helps", "sing"]).toarray(), X[[2, 7]].toarray())


def test_a_model_with_the_older_sklearn_word_vectoriser_still_predicts(data):
    """Models saved before the numpy word vectoriser hold scikit-learn's; they keep working,
    and the word statistics of both paths agree."""
    from vbr.scoring.learned import _word_stats_from_vocabulary

    texts, y = data
    new = LearnedScorer(n_folds=3, stem_words=False).fit(texts, y)
    old = clone(new)
    old.__dict__.update({k: v for k, v in vars(new).items() if k.endswith("_")})
    old.word_vec_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    assert len(old.word_vec_.vocabulary_) == len(new.word_vec_.vocabulary_)
    levels, conf = old.predict_with_confidence(texts[:30])
    assert levels.shape == conf.shape == (30,)
    assert set(np.unique(levels)) <= {0, 1, 2, 3}
    probe = texts[:20] + ["", "unknown words only", "put the patient first!"]
    np.testing.assert_allclose(
        _word_stats_from_vocabulary(probe, old.word_vec_.vocabulary_),
        new.word_vec_.transform_with_stats(probe)[1])
    assert not any("stemming" in f for f in old.feature_set)
    assert any("stemming" in f for f in LearnedScorer(n_folds=3).fit(texts, y).feature_set)


def test_binary_term_frequency_ignores_repeats():
    vec = CharNgramTfidf((1, 1), min_df=1, analyzer="word", binary=True).fit(["aa bb", "aa cc"])
    X = vec.transform(["aa aa aa bb", "aa bb"])
    np.testing.assert_allclose(X[0].toarray(), X[1].toarray())


def test_cutpoints_improve_qwk_and_apply_in_order():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    raw = y * 0.6 + rng.normal(0, 0.4, 400)  # squashed: midpoints would be wrong
    levels = np.arange(4)
    cuts = optimise_cutpoints(raw, y, levels)
    assert np.all(np.diff(cuts) > 0)
    naive = quadratic_weighted_kappa(y, apply_cutpoints(raw, levels[:-1] + 0.5, 0), 0, 3)
    tuned = quadratic_weighted_kappa(y, apply_cutpoints(raw, cuts, 0), 0, 3)
    assert tuned >= naive
    assert list(apply_cutpoints(np.array([-5.0, 100.0]), cuts, 0)) == [0, 3]


def _reference_cutpoints(values, y, levels, n_passes=3, n_grid=60):
    """The coordinate ascent as first written: every candidate scored by the QWK function."""
    lo = int(levels[0])
    cuts = levels[:-1].astype(float) + 0.5
    if len(cuts) == 0:
        return cuts
    best = quadratic_weighted_kappa(y, apply_cutpoints(values, cuts, lo), lo, int(levels[-1]))
    vmin, vmax = float(values.min()) - 1e-6, float(values.max()) + 1e-6
    for _ in range(n_passes):
        improved = False
        for j in range(len(cuts)):
            left = cuts[j - 1] if j > 0 else min(vmin, cuts[j] - 1.0)
            right = cuts[j + 1] if j + 1 < len(cuts) else max(vmax, cuts[j] + 1.0)
            for c in np.linspace(left, right, n_grid + 2)[1:-1]:
                trial = cuts.copy()
                trial[j] = c
                q = quadratic_weighted_kappa(y, apply_cutpoints(values, trial, lo), lo, int(levels[-1]))
                if q > best + 1e-9:
                    best, cuts, improved = q, trial, True
        if not improved:
            break
    return cuts


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 7), st.integers(-2, 2), st.integers(1, 300), st.floats(0.05, 2.0),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_cutpoints_are_those_of_the_plain_coordinate_ascent(k, lo, n, noise, coarse, seed):
    """Scoring all of a cut-point's candidates at once gives the very cut-points of trying
    them one by one, ties, gaps in the levels and repeated values included."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n) + lo
    values = y + rng.normal(0, noise, n)
    if coarse:  # many answers on the same value, as a coarse meta-model gives
        values = np.round(values, 1)
    levels = np.arange(lo, lo + k)
    np.testing.assert_array_equal(optimise_cutpoints(values, y, levels),
                                  _reference_cutpoints(values, y, levels))


def test_cutpoints_are_bagged_over_bootstrap_resamples(data):
    texts, y = data
    plain = LearnedScorer(n_folds=4, cut_bags=0).fit(texts, y)
    bagged = LearnedScorer(n_folds=4, cut_bags=30).fit(texts, y)
    new, _ = make_answers(30, seed=9)
    # bagging touches the cut-points only
    np.testing.assert_array_equal(bagged.decision_function(new), plain.decision_function(new))
    assert not np.array_equal(bagged.cutpoints_, plain.cutpoints_)
    assert np.all(np.diff(bagged.cutpoints_) > 0)

    # what _tune_cutpoints does, on values of our own: the mean over the resamples that hold
    # every level the answers have; none such, or cut_bags=0: tuned on all answers
    rng = np.random.default_rng(3)
    yy = np.array([0] * 40 + [1] * 40 + [3] * 3)  # level 2 never given, level 3 rarely
    vals = yy + rng.normal(0, 0.5, yy.size)
    draws = np.random.default_rng(bagged.random_state)
    kept = []
    for _ in range(30):
        idx = draws.integers(0, yy.size, yy.size)
        if np.unique(yy[idx]).size == 3:
            kept.append(optimise_cutpoints(vals[idx], yy[idx], bagged.levels_))
    assert 0 < len(kept) < 30
    np.testing.assert_allclose(bagged._tune_cutpoints(vals, yy, None),
                               np.sort(np.mean(kept, axis=0)), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(plain._tune_cutpoints(vals, yy, None),
                                  optimise_cutpoints(vals, yy, plain.levels_))
    four, y4 = np.array([0.1, 0.9, 2.2, 2.8]), np.array([0, 1, 2, 3])
    none_kept = LearnedScorer(cut_bags=1, random_state=0)
    none_kept.levels_ = np.arange(4)
    first = np.random.default_rng(0).integers(0, 4, 4)
    assert np.unique(y4[first]).size < 4  # the one resample lacks a level
    np.testing.assert_array_equal(none_kept._tune_cutpoints(four, y4, None),
                                  optimise_cutpoints(four, y4, np.arange(4)))

    for bad in (-1, 2.5, True, "30"):
        with pytest.raises(ValueError, match="cut_bags"):
            LearnedScorer(cut_bags=bad).fit(texts, y)


ASAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "asap-sas"


def test_beats_the_plain_baseline_on_asap_when_present():
    path = ASAP / "1_GOLD_train.csv"
    if not path.exists():
        pytest.skip("shared ASAP-SAS data not present")
    import pandas as pd
    from sklearn.linear_model import Ridge

    df = pd.read_csv(path)
    tr, te = df.iloc[:700], df.iloc[700:1100]
    model = LearnedScorer().fit(tr.EssayText.tolist(), tr.Score1.to_numpy())
    q = quadratic_weighted_kappa(te.Score1, model.predict(te.EssayText.tolist()))
    vec = TfidfVectorizer()
    base = Ridge().fit(vec.fit_transform(tr.EssayText), tr.Score1).predict(vec.transform(te.EssayText))
    b = quadratic_weighted_kappa(te.Score1, np.clip(np.rint(base), 0, 3).astype(int))
    assert q > b
    assert q > 0.7


def test_each_distinct_point_adds_credit_and_presence_can_be_switched_off(fitted, data):
    """Presence models add up distinct points: more key concepts, a higher score, with the
    same filler around them; switching them off leaves a working scorer without them."""
    rng = random.Random(7)
    means = []
    for k in range(len(CONCEPTS) + 1):
        answers = []
        for _ in range(20):
            parts = rng.sample(CONCEPTS, k) + rng.sample(FILLER, 3)
            rng.shuffle(parts)
            answers.append(". ".join(parts) + ".")
        means.append(float(np.mean(fitted.decision_function(answers))))
    assert all(b > a for a, b in zip(means, means[1:])), means
    assert fitted.predict(["put the patient first. check understanding. it went well."])[0] \
        < fitted.predict([". ".join(CONCEPTS) + ". it went well."])[0]
    assert any("presence" in g for g in fitted.feature_set)

    texts, y = data
    off = LearnedScorer(n_folds=4, presence=False).fit(texts, y)
    assert off.presence_ is None
    assert not any("presence" in g for g in off.feature_set)
    assert off.scaler_.n_features_in_ < fitted.scaler_.n_features_in_
    held_out, truth = make_answers(120, seed=99, noise=0.0)
    assert quadratic_weighted_kappa(truth, off.predict(held_out)) > 0.9
    assert quadratic_weighted_kappa(truth, fitted.predict(held_out)) > 0.9


def test_fold_average_predicts_with_the_average_of_the_stacking_fold_models(data):
    """With ``fold_average`` (the default) the base models used for prediction are the ones
    fitted for the out-of-fold stacking, averaged: the word+character ridge on the level is
    the mean of one ridge regression per fold (checked against scikit-learn's Ridge), and the
    logistic probabilities are the mean of the folds' logistic regressions. Switched off,
    the base models are refitted on all answers, as before."""
    from sklearn.linear_model import Ridge

    texts, y = data
    model = LearnedScorer(n_folds=4).fit(texts, y)
    assert model.fold_average and len(model.fold_models_) == 4
    assert model.logit_ is None and model.presence_ is None
    assert any("averaged over the 4 stacking folds" in g for g in model.feature_set)
    assert any("presence" in g for g in model.feature_set)

    new, _ = make_answers(30, seed=5)
    Xw, Xc = model._blocks(new)
    base = model._base_predict(Xw, Xc)
    Xt_train = model._joint(*model._blocks(texts)).toarray()
    Xt_new = model._joint(Xw, Xc).toarray()
    folds = model._folds(np.asarray(y))
    level_ridge = np.mean([Ridge(alpha=1.0).fit(Xt_train[tr], y[tr]).predict(Xt_new)
                           for tr, _ in folds], axis=0)
    np.testing.assert_allclose(base[:, 0], level_ridge, atol=1e-8)

    XL_train = model._logit_features(model._joint(*model._blocks(texts)))
    XL_new = model._logit_features(model._joint(Xw, Xc))
    n_lin = model.intercept_.shape[0]
    L = len(model.levels_)
    proba = np.mean([model._logistic().fit(XL_train[tr], y[tr]).predict_proba(XL_new)
                     for tr, _ in folds], axis=0)
    np.testing.assert_allclose(base[:, n_lin:n_lin + L], proba, atol=1e-10)

    refit = LearnedScorer(n_folds=4, fold_average=False).fit(texts, y)
    assert refit.fold_models_ is None and refit.logit_ is not None
    assert refit.presence_ is not None
    assert not any("averaged" in g for g in refit.feature_set)
    held_out, truth = make_answers(120, seed=99, noise=0.0)
    assert quadratic_weighted_kappa(truth, model.predict(held_out)) > 0.9
    assert quadratic_weighted_kappa(truth, refit.predict(held_out)) > 0.9


def test_trees_are_the_average_of_each_folds_extremely_randomised_trees(data):
    """The tree base model is, per stacking fold, scikit-learn's ExtraTreesRegressor on which
    word and character n-grams the fold's answers use (those used by enough of them), and at
    prediction the mean of the folds' forests: checked against forests fitted here."""
    from sklearn.ensemble import ExtraTreesRegressor

    from vbr.scoring import learned

    texts, y = data
    model = LearnedScorer(n_folds=4, trees=40).fit(texts, y)
    assert all(isinstance(f["trees"]["forest"], ExtraTreesRegressor) for f in model.fold_models_)
    assert [len(f["trees"]["forest"].estimators_) for f in model.fold_models_] == [10] * 4
    assert any("extremely randomised trees (40)" in g for g in model.feature_set)
    Bw, Bc = model._tree_features(model._joint(*model._blocks(texts)))
    new, _ = make_answers(30, seed=5)
    Xw, Xc = model._blocks(new)
    Nw, Nc = (Xw > 0).astype(np.float32), (Xc > 0).astype(np.float32)
    expected = []
    for f, (tr, _) in enumerate(model._folds(np.asarray(y))):
        cw = np.flatnonzero(np.asarray((Bw[tr] > 0).sum(axis=0)).ravel() >= learned._TREE_WORD_MIN_DF)
        cc = np.flatnonzero(np.asarray((Bc[tr] > 0).sum(axis=0)).ravel() >= learned._TREE_CHAR_MIN_DF)
        assert len(cw) and len(cc)
        X = sp.hstack([Bw[tr][:, cw], Bc[tr][:, cc]], format="csr", dtype=np.float32)
        forest = ExtraTreesRegressor(n_estimators=10, max_features="sqrt", random_state=f).fit(X, y[tr])
        expected.append(forest.predict(sp.hstack([Nw[:, cw], Nc[:, cc]], format="csr")))
    np.testing.assert_allclose(model._base_predict(Xw, Xc)[:, -1], np.mean(expected, axis=0), atol=1e-12)
    # each fold's trees are read straight from their nodes: exactly what the forest predicts
    for f in model.fold_models_:
        t = f["trees"]
        np.testing.assert_array_equal(
            model._tree_predict(t, Nw, Nc)[:, 0],
            t["forest"].predict(model._tree_matrix(Nw, Nc, t["cols_w"], t["cols_c"])))

    off = LearnedScorer(n_folds=4, trees=0).fit(texts, y)
    assert off.fold_models_[0]["trees"] is None
    assert off._base_predict(Xw, Xc).shape[1] == model._base_predict(Xw, Xc).shape[1] - 1
    assert not any("trees" in g for g in off.feature_set)
    refit = LearnedScorer(n_folds=4, trees=40, fold_average=False).fit(texts, y)
    assert len(refit.trees_["forest"].estimators_) == 40  # one forest of all the trees, on every answer
    held_out, truth = make_answers(120, seed=99, noise=0.0)
    for m in (model, refit):
        assert quadratic_weighted_kappa(truth, m.predict(held_out)) > 0.9
    for bad in (-1, 2.5, "many", True):
        with pytest.raises(ValueError, match="trees must be a whole number"):
            LearnedScorer(trees=bad).fit(texts, y)


def test_models_saved_before_the_trees_still_predict(data):
    """A model saved before the trees existed has no ``trees`` parameter and no tree models
    in its folds: it predicts as it did."""
    texts, y = data
    model = LearnedScorer(n_folds=4, trees=0).fit(texts, y)
    held_out, _ = make_answers(40, seed=3)
    before = model.decision_function(held_out)
    del model.__dict__["trees"]
    for f in model.fold_models_:
        del f["trees"]
    np.testing.assert_array_equal(model.decision_function(held_out), before)
    assert not any("trees" in g for g in model.feature_set)


def test_models_saved_before_fold_average_still_predict(data):
    """A model saved before ``fold_average`` existed has neither that parameter nor
    ``fold_models_``: it predicts with its refitted base models, as it did."""
    texts, y = data
    model = LearnedScorer(n_folds=4, fold_average=False, meta_alpha=1.0).fit(texts, y)
    held_out, _ = make_answers(40, seed=3)
    before = model.decision_function(held_out)
    del model.__dict__["fold_models_"], model.__dict__["fold_average"]
    np.testing.assert_array_equal(model.decision_function(held_out), before)
    assert not any("averaged" in g for g in model.feature_set)


# ------------------------------------------------------------------ a second rater's marks

# decision_function of LearnedScorer(n_folds=4) fitted on make_answers(160, seed=1), on
# make_answers(12, seed=5), recorded before ``second_rating`` existed (and before the trees:
# LearnedScorer(n_folds=4, trees=0) is that model)
BEFORE_SECOND_RATING = [1.9881552516311276, 2.8843145476822967, 1.1345361665263167,
                        1.2485364938743513, 2.8393387757829105, 0.7478540150006083,
                        0.32043622777075287, 2.0652366994056015, 0.14962537524044106,
                        0.8516586196936555, 0.9429871948419336, 2.51539512757088]


def second_marks(y: np.ndarray, seed: int, disagree: float = 0.3, missing: float = 0.0,
                 lo: int = 0, hi: int = 3) -> np.ndarray:
    """A second rater: the first's level, one level off on a share of answers, NaN on some."""
    rng = np.random.default_rng(seed)
    r2 = y + rng.choice([-1, 1], size=y.size) * (rng.random(y.size) < disagree)
    r2 = np.clip(r2, lo, hi).astype(float)
    r2[rng.random(y.size) < missing] = np.nan
    return r2


def test_without_a_second_rating_the_model_is_unchanged(fitted, data):
    texts, y = data
    new, _ = make_answers(12, seed=5)
    no_trees = LearnedScorer(n_folds=4, trees=0, cut_bags=0).fit(texts, y)
    np.testing.assert_allclose(no_trees.decision_function(new), BEFORE_SECOND_RATING, rtol=0, atol=1e-6)
    assert list(no_trees.predict(new)) == [2, 3, 1, 1, 3, 1, 0, 2, 0, 1, 1, 3]
    before = fitted.decision_function(new)
    assert fitted.second_rater_ is False and fitted.n_double_marked_ == 0
    # no second rating, or one with every entry missing: bit for bit the same model
    for r2 in (None, np.full(len(y), np.nan), [None] * len(y)):
        again = LearnedScorer(n_folds=4).fit(texts, y, second_rating=r2)
        np.testing.assert_array_equal(again.decision_function(new), before)
        np.testing.assert_array_equal(again.predict(new), fitted.predict(new))
        np.testing.assert_array_equal(again.cutpoints_, fitted.cutpoints_)
        assert again.second_rater_ is False and again.n_double_marked_ == 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.booleans(), min_size=80, max_size=80))
def test_a_second_rater_who_always_agrees_changes_nothing(marked):
    """Where both raters give the same level there is nothing new to learn: the mean target
    is that level and each classifier row has weight 1, so the model is the single-rater
    one (to rounding), however many answers were double-marked."""
    texts, y = make_answers(80, seed=11)
    r2 = np.where(marked, y, np.nan)
    one = LearnedScorer(n_folds=3).fit(texts, y)
    two = LearnedScorer(n_folds=3).fit(texts, y, second_rating=r2)
    new, _ = make_answers(40, seed=12)
    np.testing.assert_allclose(two.decision_function(new), one.decision_function(new),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(two.cutpoints_, one.cutpoints_, rtol=0, atol=1e-9)
    assert two.second_rater_ is (sum(marked) > 0)
    assert two.n_double_marked_ == sum(marked)


def test_marks_mean_targets_and_both_labels_at_half_weight():
    from vbr.scoring.learned import _Marks

    m = _Marks(np.array([0, 1, 2, 3]), np.array([0.0, 2.0, np.nan, 1.0]))
    np.testing.assert_array_equal(m.target, [0.0, 1.5, 2.0, 2.0])
    np.testing.assert_array_equal(m.rows, [0, 1, 2, 3, 1, 3])
    np.testing.assert_array_equal(m.labels, [0, 1, 2, 3, 2, 1])
    np.testing.assert_array_equal(m.weights, [1.0, 0.5, 1.0, 0.5, 0.5, 0.5])
    values, marks = m.cut_targets(np.array([0.1, 1.4, 2.2, 2.5]))
    np.testing.assert_array_equal(values, [0.1, 1.4, 2.2, 2.5, 0.1, 1.4, 2.5])
    np.testing.assert_array_equal(marks, [0, 1, 2, 3, 0, 2, 1])
    sub = m.subset(np.array([3, 1]))
    np.testing.assert_array_equal(sub.target, [2.0, 1.5])
    np.testing.assert_array_equal(sub.labels, [3, 1, 1, 2])
    np.testing.assert_array_equal(sub.weights, [0.5, 0.5, 0.5, 0.5])


def test_second_rating_base_models_are_the_mean_target_ridge_and_weighted_logistic(data):
    """With a second rater, the word+character ridge on the level is ridge regression on the
    mean of the two marks (checked against scikit-learn's Ridge), and the logistic
    regression is scikit-learn's fitted on both raters' labels with half weights."""
    from sklearn.linear_model import LogisticRegression, Ridge

    texts, y = data
    r2 = second_marks(y, seed=3, disagree=0.4, missing=0.25)
    model = LearnedScorer(n_folds=4).fit(texts, y, second_rating=r2)
    given = ~np.isnan(r2)
    assert model.second_rater_ is True and model.n_double_marked_ == int(given.sum())
    mean = np.where(given, (y + np.nan_to_num(r2)) / 2, y)

    new, _ = make_answers(30, seed=5)
    Xw, Xc = model._blocks(new)
    base = model._base_predict(Xw, Xc)
    Xt_train = model._joint(*model._blocks(texts)).toarray()
    Xt_new = model._joint(Xw, Xc).toarray()
    folds = model._folds(np.asarray(y))  # still stratified on the first rater
    level_ridge = np.mean([Ridge(alpha=1.0).fit(Xt_train[tr], mean[tr]).predict(Xt_new)
                           for tr, _ in folds], axis=0)
    np.testing.assert_allclose(base[:, 0], level_ridge, atol=1e-8)

    XL_train = model._logit_features(model._joint(*model._blocks(texts)))
    XL_new = model._logit_features(model._joint(Xw, Xc))
    n_lin = model.intercept_.shape[0]
    L = len(model.levels_)
    probas = []
    for tr, _ in folds:
        off = np.flatnonzero(given[tr] & (np.nan_to_num(r2[tr]) != y[tr]))
        rows = np.concatenate([tr, tr[off]])
        labels = np.concatenate([y[tr], r2[tr][off].astype(int)])
        w = np.ones(rows.size)
        w[off] = 0.5
        w[tr.size:] = 0.5
        lr = LogisticRegression(C=10.0, solver="sag", tol=1e-3, max_iter=200, random_state=0)
        probas.append(lr.fit(XL_train[rows], labels, sample_weight=w).predict_proba(XL_new))
    np.testing.assert_allclose(base[:, n_lin:n_lin + L], np.mean(probas, axis=0), atol=1e-10)
    # the meta-model learns the mean of the marks too: on standardised inputs its intercept
    # is the mean of its target
    assert model.meta_.intercept_ == pytest.approx(mean.mean(), abs=1e-12)
    assert model.meta_.intercept_ != pytest.approx(y.mean(), abs=1e-3)


def test_a_second_rater_who_marks_higher_raises_the_scores(data):
    """The second rater's marks are learned: one who marks every answer a level higher (where
    the scale allows) lifts the continuous score by about a third of a level and more answers
    get higher levels; cv_qwk_ is still against the first rater."""
    texts, y = data
    up = np.minimum(y + 1, 3).astype(float)
    one = LearnedScorer(n_folds=4).fit(texts, y)
    two = LearnedScorer(n_folds=4).fit(texts, y, second_rating=up)
    new, truth = make_answers(120, seed=99, noise=0.0)
    shift = float(np.mean(two.decision_function(new) - one.decision_function(new)))
    assert 0.2 < shift < 0.6, shift
    assert two.predict(new).mean() > one.predict(new).mean()
    assert two.n_double_marked_ == 160
    assert 0.7 < two.cv_qwk_ <= 1.0
    assert quadratic_weighted_kappa(truth, two.predict(new)) > 0.8


def test_fold_average_off_also_learns_both_marks(data):
    texts, y = data
    r2 = second_marks(y, seed=4)
    refit = LearnedScorer(n_folds=4, fold_average=False).fit(texts, y, second_rating=r2)
    assert refit.second_rater_ and refit.logit_ is not None and refit.presence_ is not None
    held_out, truth = make_answers(120, seed=99, noise=0.0)
    assert quadratic_weighted_kappa(truth, refit.predict(held_out)) > 0.9


def test_second_rating_input_forms_and_errors(data):
    import pandas as pd

    texts, y = data
    texts, y = texts[:60], y[:60]
    r2 = second_marks(y, seed=5, missing=0.3)
    ref = LearnedScorer(n_folds=3).fit(texts, y, second_rating=r2).decision_function(texts[:10])
    as_list = [None if np.isnan(v) else int(v) for v in r2]
    series = pd.Series(as_list, dtype="Int64")  # pandas' missing value, pd.NA
    with_na = np.array([pd.NA if v is None else v for v in as_list], dtype=object)  # pd.NA in numpy
    for form in (as_list, series, np.array(as_list, dtype=object), with_na, series.to_numpy()):
        got = LearnedScorer(n_folds=3).fit(texts, y, second_rating=form)
        np.testing.assert_array_equal(got.decision_function(texts[:10]), ref)
        assert got.n_double_marked_ == int((~np.isnan(r2)).sum())

    with pytest.raises(ValueError, match=r"one entry per answer \(60\), got shape \(59,\)"):
        LearnedScorer().fit(texts, y, second_rating=r2[:-1])
    with pytest.raises(ValueError, match="NaN or None for answers marked only once"):
        LearnedScorer().fit(texts, y, second_rating=np.zeros((60, 2)))
    half = np.nan_to_num(r2).copy()
    half[7] = 1.5
    with pytest.raises(ValueError, match=r"whole-number levels, got 1\.5 at index 7"):
        LearnedScorer().fit(texts, y, second_rating=half)
    with pytest.raises(ValueError, match="whole-number levels"):
        LearnedScorer().fit(texts, y, second_rating=["two"] * 60)
    high = np.nan_to_num(r2).copy()
    high[3] = 4
    with pytest.raises(ValueError, match=r"level 4 at index 3, outside the levels of y \(0-3\)"):
        LearnedScorer().fit(texts, y, second_rating=high)
    low = np.nan_to_num(r2).copy()
    low[0] = -1
    with pytest.raises(ValueError, match="same scale"):
        LearnedScorer().fit(texts, y, second_rating=low)
    inf = np.nan_to_num(r2).copy()
    inf[2] = np.inf
    with pytest.raises(ValueError, match="infinite value at index 2"):
        LearnedScorer().fit(texts, y, second_rating=inf)


def test_second_rating_through_pipeline_and_cross_val_score(data):
    """``second_rating`` is a fit parameter: ``Pipeline.fit(..., score__second_rating=r2)``
    and ``cross_val_score(..., params=...)`` pass it (the cross-validation splits it with the
    answers), without metadata routing and, after ``set_fit_request``, with it."""
    import sklearn
    from sklearn.model_selection import StratifiedKFold

    texts, y = data
    X = np.array(texts, dtype=object)
    r2 = second_marks(y, seed=6, disagree=0.4, missing=0.2)
    direct = LearnedScorer(n_folds=3).fit(texts, y, second_rating=r2)

    def pipe(est):
        return Pipeline([("strip", FunctionTransformer(lambda xs: [x.strip() for x in xs])),
                         ("score", est)])

    p = pipe(LearnedScorer(n_folds=3)).fit(X, y, score__second_rating=r2)
    np.testing.assert_array_equal(p.decision_function(X[:20]), direct.decision_function(texts[:20]))

    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    by_hand = [LearnedScorer(n_folds=3).fit(list(X[tr]), y[tr], second_rating=r2[tr])
               .score(list(X[va]), y[va]) for tr, va in cv.split(X, y)]
    plain = cross_val_score(LearnedScorer(n_folds=3), X, y, cv=cv, params={"second_rating": r2})
    np.testing.assert_array_equal(plain, by_hand)
    piped = cross_val_score(pipe(LearnedScorer(n_folds=3)), X, y, cv=cv,
                            params={"score__second_rating": r2})
    np.testing.assert_array_equal(piped, by_hand)
    # the second rater reached each fold's model (the levels of so few held-out answers can
    # come out the same either way, so this compares the models' values)
    def mean_value(est, X_va, y_va):
        return float(np.mean(est.decision_function(list(X_va))))

    single = cross_val_score(LearnedScorer(n_folds=3), X, y, cv=cv, scoring=mean_value)
    double = cross_val_score(LearnedScorer(n_folds=3), X, y, cv=cv, scoring=mean_value,
                             params={"second_rating": r2})
    assert np.all(single != double)

    with sklearn.config_context(enable_metadata_routing=True):
        routed = pipe(LearnedScorer(n_folds=3).set_fit_request(second_rating=True))
        got = cross_val_score(routed, X, y, cv=cv, params={"second_rating": r2})
        np.testing.assert_array_equal(got, by_hand)
