"""Saving and loading learned scorers: skops plus model card, integrity checks."""

from __future__ import annotations

import json
import random
import zipfile

import numpy as np
import pytest

from vbr.errors import IntegrityError, NotFound
from vbr.scoring.learned import LearnedScorer
from vbr.scoring.model_io import (
    CARD_MEMBER,
    MODEL_MEMBER,
    data_sha256,
    load_model,
    read_card,
    save_model,
)

CONCEPTS = ["put the patient first", "ask a senior colleague for help", "respect dignity and privacy",
            "listen to the family", "report the incident honestly", "work with the team"]
FILLER = ["on the ward", "it was a busy shift", "I think", "at the time", "we had many tasks",
          "later that day", "in my last job"]


def make_answers(n: int, lo: int = 0, hi: int = 3, seed: int = 0):
    rng = random.Random(seed)
    texts, levels = [], []
    for _ in range(n):
        level = rng.randint(lo, hi)
        k = round((level - lo) / (hi - lo) * (len(CONCEPTS) - 1))
        parts = rng.sample(CONCEPTS, k) + rng.sample(FILLER, rng.randint(2, 4))
        rng.shuffle(parts)
        texts.append(". ".join(parts) + ".")
        levels.append(level)
    return texts, np.array(levels)


def evidence_hook(texts):
    """A module-level feature hook, as a saved model needs."""
    return np.array([[t.count("patient"), t.count("team")] for t in texts], dtype=float)


@pytest.fixture(scope="module")
def fitted():
    texts, y = make_answers(120, seed=1)
    return LearnedScorer(n_folds=3).fit(texts, y), texts, y


def test_round_trip_predictions_and_card(tmp_path, fitted):
    model, texts, y = fitted
    path = tmp_path / "m.vbrmodel"
    digest = data_sha256(texts, y)
    card = save_model(model, path, rubric_ref="nhs-values@1.0", data_sha256=digest)
    loaded, card2 = load_model(path, expected_rubric_ref="nhs-values@1.0")
    assert card2 == card
    new, _ = make_answers(30, seed=9)
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))
    np.testing.assert_allclose(loaded.predict_confidence(new), model.predict_confidence(new))
    assert card.n_train == 120
    assert card.levels == (0, 3)
    assert card.data_sha256 == digest and len(digest) == 64
    assert card.cv_qwk == pytest.approx(model.cv_qwk_)
    assert card.rubric_ref == "nhs-values@1.0"
    assert any("tf-idf" in f for f in card.feature_set)
    for lib in ("scikit-learn", "numpy", "scipy", "skops", "python"):
        assert lib in card.libraries
    assert card.created.tzinfo is not None
    assert read_card(path) == card
    # the card is plain JSON inside the file, readable without vbr
    with zipfile.ZipFile(path) as zf:
        raw = json.loads(zf.read(CARD_MEMBER))
    assert raw["rubric_ref"] == "nhs-values@1.0" and raw["n_train"] == 120


def test_data_hash_depends_on_texts_levels_and_order():
    assert data_sha256(["a", "b"], [1, 2]) != data_sha256(["a", "b"], [1, 3])
    assert data_sha256(["a", "b"], [1, 2]) != data_sha256(["b", "a"], [2, 1])
    assert data_sha256(["a", "b"], [1, 2]) == data_sha256(["a", "b"], [1, 2])


def test_other_rubric_version_is_refused(tmp_path, fitted):
    model, _, _ = fitted
    path = tmp_path / "m.vbrmodel"
    save_model(model, path, rubric_ref="nhs-values@1.0")
    with pytest.raises(IntegrityError, match="nhs-values@1.0, not nhs-values@1.1"):
        load_model(path, expected_rubric_ref="nhs-values@1.1")
    unrubricated = tmp_path / "plain.vbrmodel"
    save_model(model, unrubricated)
    with pytest.raises(IntegrityError, match="no rubric"):
        load_model(unrubricated, expected_rubric_ref="nhs-values@1.0")
    loaded, card = load_model(unrubricated)  # no expectation, no check
    assert card.rubric_ref is None


def _rewrite(path, *, payload=None, card=None):
    with zipfile.ZipFile(path) as zf:
        old_card = zf.read(CARD_MEMBER)
        old_payload = zf.read(MODEL_MEMBER)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(CARD_MEMBER, card if card is not None else old_card)
        zf.writestr(MODEL_MEMBER, payload if payload is not None else old_payload)
    return old_card, old_payload


def test_tampered_payload_is_an_integrity_error(tmp_path, fitted):
    model, _, _ = fitted
    path = tmp_path / "m.vbrmodel"
    save_model(model, path)
    with zipfile.ZipFile(path) as zf:
        payload = bytearray(zf.read(MODEL_MEMBER))
    payload[len(payload) // 2] ^= 0xFF
    _rewrite(path, payload=bytes(payload))
    with pytest.raises(IntegrityError, match="changed or damaged"):
        load_model(path)


def test_corrupt_and_foreign_files_are_integrity_errors(tmp_path, fitted):
    model, _, _ = fitted
    path = tmp_path / "m.vbrmodel"
    save_model(model, path)
    data = path.read_bytes()
    trunc = tmp_path / "truncated.vbrmodel"
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(IntegrityError):
        load_model(trunc)
    junk = tmp_path / "junk.vbrmodel"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(IntegrityError, match="damaged or not a vbr model"):
        load_model(junk)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(IntegrityError, match="not a vbr model file"):
        load_model(other_zip)
    bad_card = tmp_path / "badcard.vbrmodel"
    bad_card.write_bytes(data)
    _rewrite(bad_card, card=b"{not json")
    with pytest.raises(IntegrityError, match="card"):
        load_model(bad_card)
    with pytest.raises(NotFound):
        load_model(tmp_path / "missing.vbrmodel")


def test_untrusted_types_are_refused_even_with_a_matching_digest(tmp_path):
    import hashlib

    import skops.io as sio

    texts, y = make_answers(60, seed=2)
    model = LearnedScorer(n_folds=3, feature_hook=evidence_hook).fit(texts, y)
    path = tmp_path / "hooked.vbrmodel"
    save_model(model, path)
    hook_name = f"{evidence_hook.__module__}.evidence_hook"
    with pytest.raises(IntegrityError, match="does not trust"):
        load_model(path)
    loaded, _ = load_model(path, trusted=[hook_name])
    np.testing.assert_array_equal(loaded.predict(texts[:10]), model.predict(texts[:10]))

    # a crafted payload that calls an arbitrary function, with its digest "fixed" in the card
    evil = sio.dumps({"x": np.array([1]), "f": hashlib.sha256})
    old_card, _ = _rewrite(path, payload=evil)
    card = json.loads(old_card)
    card["model_sha256"] = hashlib.sha256(evil).hexdigest()
    _rewrite(path, card=json.dumps(card).encode())
    with pytest.raises(IntegrityError, match="does not trust"):
        load_model(path)


def test_save_needs_a_fitted_learned_scorer(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_model(LearnedScorer(), tmp_path / "x")
    with pytest.raises(TypeError):
        save_model(object(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_card_records_a_second_rater_and_how_many_answers_were_double_marked(tmp_path, fitted):
    model, texts, y = fitted
    r2 = np.where(np.arange(len(y)) % 3 == 0, np.nan, np.clip(y + (np.arange(len(y)) % 2), 0, 3))
    two = LearnedScorer(n_folds=3).fit(texts, y, second_rating=r2)
    card = save_model(two, tmp_path / "two.vbrmodel")
    assert card.second_rater is True and card.n_double_marked == 80
    loaded, card2 = load_model(tmp_path / "two.vbrmodel")
    assert card2 == card and loaded.n_double_marked_ == 80
    new, _ = make_answers(20, seed=9)
    np.testing.assert_array_equal(loaded.decision_function(new), two.decision_function(new))
    with zipfile.ZipFile(tmp_path / "two.vbrmodel") as zf:
        raw = json.loads(zf.read(CARD_MEMBER))
    assert raw["second_rater"] is True and raw["n_double_marked"] == 80

    # a single-rater card leaves the fields out (older vbr versions refuse unknown fields)
    card = save_model(model, tmp_path / "one.vbrmodel")
    assert card.second_rater is False and card.n_double_marked == 0
    with zipfile.ZipFile(tmp_path / "one.vbrmodel") as zf:
        raw = json.loads(zf.read(CARD_MEMBER))
    assert "second_rater" not in raw and "n_double_marked" not in raw
    assert read_card(tmp_path / "one.vbrmodel") == card
