"""Trained models scoring campaigns (``vbr.scoring.model_scorer``, ``vbr score --model``):
each row says which model (or which fallback scorer) scored it, models see redacted text only,
and a model that cannot apply is refused, naming the file, before anything is scored."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from vbr.cli import _register_all, app
from vbr.engine import Engine
from vbr.errors import IntegrityError, ValidationFailed
from vbr.plugins import get_plugins
from vbr.scoring.evidence import EvidenceScorer
from vbr.scoring.learned import LearnedScorer
from vbr.scoring.model_io import read_card, save_model
from vbr.scoring.model_scorer import SCORER_ID, ModelScorer, TrainedModel, load_models

RUBRIC = "nhs-constitution"
Q = "nhs-compassion-2"  # targets compassion and respect-and-dignity
CONCEPTS = ["I sat with the patient and listened", "I noticed she was frightened", "I held her hand",
            "I explained what would happen next", "I checked she was comfortable", "I came back to see her",
            "I asked what mattered to her", "I told the nurse in charge"]
FILLER = ["on the ward", "it was a busy shift", "at the time", "later that day", "in my last job"]


def answers(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    texts, levels = [], []
    for _ in range(n):
        level = rng.randint(0, 4)
        parts = rng.sample(CONCEPTS, 2 * level) + rng.sample(FILLER, rng.randint(2, 3))
        rng.shuffle(parts)
        texts.append(". ".join(parts) + ".")
        levels.append(level)
    return texts, np.array(levels)


@pytest.fixture(scope="module")
def rubric():
    return get_plugins().registry("rubrics")[RUBRIC]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, rubric):
    texts, y = answers(150, seed=3)
    model = LearnedScorer(n_folds=3).fit(texts, y)
    path = tmp_path_factory.mktemp("models") / "compassion.vbrm"
    save_model(model, path, rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    return path


def _campaign(tmp_path, texts: list[str], names: dict | None = None) -> Engine:
    engine = Engine(tmp_path / "vbr.sqlite")
    engine.create_campaign("c1", "HCA", RUBRIC, question_ids=[Q], actor="ats")
    apps = [{"id": f"a{i}", "campaign_id": "c1"} for i in range(len(texts))]
    engine.submit("c1", apps, [{"application_id": f"a{i}", "question_id": Q, "text": t} for i, t in enumerate(texts)],
                  names=names)
    return engine


def test_a_campaign_scored_by_a_model_and_the_evidence_scorer_says_which_scored_each_row(tmp_path, rubric,
                                                                                          model_file):
    texts, _ = answers(12, seed=7)
    engine = _campaign(tmp_path, texts)
    trained = load_models([model_file], rubric)
    scorer = ModelScorer(trained, rubric, EvidenceScorer())
    scores = engine.score("c1", scorer=scorer, actor="recruiter@trust")
    card = read_card(model_file)
    rows = {(s["application_id"], s["value_id"]): s for s in engine.store.current_scores("c1")}
    assert len(rows) == 24 and len(scores) == 24
    model = trained[0].model
    evidence = EvidenceScorer()
    q = next(q for q in rubric.questions if q.id == Q)
    for i, text in enumerate(texts):
        learned, other = rows[(f"a{i}", "compassion")], rows[(f"a{i}", "respect-and-dignity")]
        assert (learned["scorer_id"], learned["scorer_version"]) == (SCORER_ID, card.model_sha256[:12])
        level, conf = model.predict_with_confidence([text])
        assert learned["level"] == int(level[0]) and learned["confidence"] == pytest.approx(float(conf[0]))
        spans = {vs.value_id: vs for vs in evidence.score(rubric, q, text)}
        assert [e.indicator_id for e in learned["score"].evidence] == \
            [e.indicator_id for e in spans["compassion"].evidence]
        assert (other["scorer_id"], other["scorer_version"]) == ("evidence", EvidenceScorer.version)
        assert other["level"] == spans["respect-and-dignity"].level
    [entry] = [e for e in engine.store.log.entries(action="scores.added")]
    assert entry.actor == "recruiter@trust"
    assert entry.payload["scorers"] == {f"learned@{card.model_sha256[:12]}": 12,
                                        f"evidence@{EvidenceScorer.version}": 12}
    # the model's levels follow the answers (it learned the synthetic rule)
    assert [rows[(f"a{i}", "compassion")]["level"] for i in range(12)] == \
        list(model.predict(texts))


def test_models_see_redacted_text_only(tmp_path, rubric, model_file):
    seen: list[str] = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def predict_with_confidence(self, texts):
            seen.extend(texts)
            return self.inner.predict_with_confidence(texts)

    [t] = load_models([model_file], rubric)
    spy = TrainedModel(t.question_id, t.value_id, Spy(t.model), t.card, t.source)
    text = ("Mrs Okonkwo-Bright was frightened, so I, Siobhan Nguyen, sat with her and listened; "
            "call me on 07700 900123 or siobhan.nguyen@example.org.")
    engine = _campaign(tmp_path, [text], names={"a0": ["Siobhan Nguyen"]})
    engine.score("c1", scorer=ModelScorer([spy], rubric, EvidenceScorer()), actor="r")
    assert len(seen) == 1
    for secret in ("Siobhan", "Nguyen", "07700", "example.org"):
        assert secret not in seen[0], seen[0]


def test_the_evidence_scorer_is_the_default_fallback(tmp_path, rubric, model_file):
    texts, _ = answers(3, seed=9)
    engine = _campaign(tmp_path, texts)
    engine.score("c1", scorer=ModelScorer(load_models([model_file], rubric), rubric), actor="r")
    rows = engine.store.current_scores("c1")
    assert sorted((r["value_id"], r["scorer_id"]) for r in rows) == \
        [("compassion", SCORER_ID)] * 3 + [("respect-and-dignity", "evidence")] * 3


def _model(tmp_path, name: str, shift: int = 0, **card) -> str:
    """A small model on marks 0-4 (+ ``shift``)."""
    texts, y = answers(60, seed=11)
    y = y + shift
    path = tmp_path / name
    save_model(LearnedScorer(n_folds=3).fit(texts, y), path, **card)
    return str(path)


def test_models_that_cannot_apply_are_refused_naming_the_file(tmp_path, rubric):
    other = _model(tmp_path, "other.vbrm", rubric_ref="nhs-constitution@0.9", question_id=Q, value_id="compassion")
    with pytest.raises(IntegrityError, match="trained for nhs-constitution@0.9, not nhs-constitution@1.0") as e:
        load_models([other], rubric)
    assert e.value.file == other
    bare = _model(tmp_path, "bare.vbrm", rubric_ref=rubric.ref)
    with pytest.raises(ValidationFailed, match="does not say which question and value") as e:
        load_models([bare], rubric)
    assert e.value.file == bare and "--question Q --value V" in e.value.hint
    wrong_value = _model(tmp_path, "wv.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="everyone-counts")
    with pytest.raises(ValidationFailed, match="cannot score here: question 'nhs-compassion-2' does not assess "
                                               "value 'everyone-counts'") as e:
        ModelScorer(load_models([wrong_value], rubric), rubric)
    assert e.value.file == wrong_value and e.value.field == "value_id"
    sjt = _model(tmp_path, "sjt.vbrm", rubric_ref=rubric.ref, question_id="nhs-sjt-rank-confidential-call",
                 value_id="respect-and-dignity")
    with pytest.raises(ValidationFailed, match="sjt_ranking item, scored by its key, not by a model") as e:
        ModelScorer(load_models([sjt], rubric), rubric)
    assert e.value.field == "question_id"
    unknown = _model(tmp_path, "uq.vbrm", rubric_ref=rubric.ref, question_id="nhs-nope", value_id="compassion")
    with pytest.raises(ValidationFailed, match="rubric nhs-constitution@1.0 has no question 'nhs-nope'"):
        ModelScorer(load_models([unknown], rubric), rubric)
    wide = _model(tmp_path, "wide.vbrm", shift=1, rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    with pytest.raises(ValidationFailed, match="levels 1-5, outside rubric nhs-constitution@1.0's scale 0-4"):
        ModelScorer(load_models([wide], rubric), rubric)
    a = _model(tmp_path, "a.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    b = _model(tmp_path, "b.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    with pytest.raises(ValidationFailed, match="two models score question 'nhs-compassion-2', value 'compassion'"):
        ModelScorer(load_models([a, b], rubric), rubric)
    with pytest.raises(ValidationFailed, match="no trained models"):
        ModelScorer([], rubric)


# ------------------------------------------------------------------ the CLI

def _run(*args):
    _register_all()
    return CliRunner().invoke(app, [str(a) for a in args])


def _train_csv(tmp_path) -> str:
    texts, y = answers(120, seed=5)
    path = tmp_path / "marked.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("answer,mark\n")
        for t, lvl in zip(texts, y):
            f.write(f"\"{t}\",{lvl}\n")
    return str(path)


def test_cli_trains_a_model_for_a_question_and_scores_a_campaign_with_it(tmp_path):
    train = _train_csv(tmp_path)
    model = tmp_path / "m.vbrm"
    r = _run("scorer", "train", train, "--text-col", "answer", "--score-col", "mark", "-o", model,
             "--rubric", RUBRIC, "--question", Q, "--value", "compassion")
    assert r.exit_code == 0, r.output
    assert "question 'nhs-compassion-2', value 'compassion'" in r.output
    card = read_card(model)
    assert (card.rubric_ref, card.question_id, card.value_id) == ("nhs-constitution@1.0", Q, "compassion")
    texts, _ = answers(5, seed=21)
    engine = _campaign(tmp_path, texts)
    r = _run("score", "c1", "--db", tmp_path / "vbr.sqlite", "--model", model, "--format", "jsonl", "--as", "rec")
    assert r.exit_code == 0, r.output
    assert "Models score nhs-compassion-2/compassion; other values by 'evidence'." in r.stderr
    by = {(s["application_id"], s["value_id"]): s["scorer_id"] for s in engine.store.current_scores("c1")}
    assert len(by) == 10 and {v for (_, val), v in by.items() if val == "compassion"} == {SCORER_ID}
    assert {v for (_, val), v in by.items() if val == "respect-and-dignity"} == {"evidence"}
    # a CSV of answers, nothing stored
    csv = tmp_path / "answers.csv"
    csv.write_text("application_id,answer\n" + "".join(f"x{i},\"{t}\"\n" for i, t in enumerate(texts)),
                   encoding="utf-8")
    r = _run("score", "--csv", csv, "--question", Q, "--model", model, "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["answers"]
    assert [[(s["value_id"], s["scorer_id"]) for s in a["scores"]] for a in got] == \
        [[("compassion", SCORER_ID), ("respect-and-dignity", "evidence")]] * 5
    assert len(list(engine.store.log.entries(action="scores.added"))) == 1  # the CSV run stored nothing


def test_cli_refuses_bad_targets_before_training_and_bad_models_before_scoring(tmp_path):
    train = _train_csv(tmp_path)
    out = tmp_path / "m.vbrm"
    base = ["scorer", "train", train, "--text-col", "answer", "--score-col", "mark", "-o", out]
    for extra, message in (
        (["--question", Q], "give --question and --value together"),
        (["--question", Q, "--value", "compassion"], "--question needs --rubric"),
        (["--rubric", RUBRIC, "--question", "nhs-nope", "--value", "compassion"], "has no question 'nhs-nope'"),
        (["--rubric", RUBRIC, "--question", Q, "--value", "courage"], "does not assess value 'courage'"),
        (["--rubric", RUBRIC, "--question", "nhs-rating-own-error", "--value", "commitment-to-quality"],
         "rating item, scored by its key"),
    ):
        r = _run(*base, *extra)
        assert r.exit_code == 2 and message in r.output, (extra, r.output)
        assert not out.exists()
    bare = tmp_path / "bare.vbrm"
    assert _run("scorer", "train", train, "--text-col", "answer", "--score-col", "mark", "-o", bare,
                "--rubric", RUBRIC).exit_code == 0
    engine = _campaign(tmp_path, answers(3, seed=1)[0])
    r = _run("score", "c1", "--db", tmp_path / "vbr.sqlite", "--model", bare)
    assert r.exit_code == 2 and "does not say which question and value" in r.output
    assert "bare.vbrm" in r.output
    assert engine.store.current_scores("c1") == [] and list(engine.store.log.entries(action="scores.added")) == []


# ------------------------------------------------------------------ VBR_MODELS: the 'learned' scorer everywhere

def _engine_with_models(tmp_path, monkeypatch, *paths) -> Engine:
    from vbr.plugins import build
    from vbr.scoring.model_scorer import MODELS_ENV

    monkeypatch.setenv(MODELS_ENV, ":".join(str(p) for p in paths))
    return Engine(tmp_path / "vbr.sqlite", plugins=build(load_entrypoints=False))


def test_vbr_models_registers_the_learned_scorer_for_campaigns_of_its_rubric(tmp_path, monkeypatch, rubric,
                                                                                model_file):
    from vbr.scoring.model_scorer import ModelSet

    engine = _engine_with_models(tmp_path, monkeypatch, model_file)
    learned = engine.plugins.registry("scorers")[SCORER_ID]
    assert isinstance(learned, ModelSet) and learned.rubric_refs() == ["nhs-constitution@1.0"]
    texts, _ = answers(4, seed=2)
    engine.create_campaign("c1", "HCA", RUBRIC, question_ids=[Q], actor="ats")
    engine.submit("c1", [{"id": f"a{i}", "campaign_id": "c1"} for i in range(4)],
                  [{"application_id": f"a{i}", "question_id": Q, "text": t} for i, t in enumerate(texts)])
    engine.score("c1", scorer=SCORER_ID)
    card = read_card(model_file)
    got = {(r["value_id"], r["scorer_id"], r["scorer_version"]) for r in engine.store.current_scores("c1")}
    assert got == {("compassion", SCORER_ID, card.model_sha256[:12]),
                   ("respect-and-dignity", "evidence", EvidenceScorer.version)}
    # a campaign of another rubric: refused before anything is scored
    engine.create_campaign("c6", "HCA", "6cs", question_ids=None, actor="ats")
    engine.submit("c6", [{"id": "b1", "campaign_id": "c6"}],
                  [{"application_id": "b1", "question_id": engine.store.campaign("c6")["question_ids"][0],
                    "text": texts[0]}])
    with pytest.raises(ValidationFailed, match=r"no trained model is for rubric 6cs@[\d.]+ \(the models are for "
                                               r"nhs-constitution@1.0\)"):
        engine.score("c6", scorer=SCORER_ID)
    assert engine.store.current_scores("c6") == []


def test_vbr_models_unset_registers_nothing_and_a_bad_file_is_named(tmp_path, monkeypatch):
    from vbr.plugins import build
    from vbr.scoring.model_scorer import MODELS_ENV

    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert SCORER_ID not in build(load_entrypoints=False).registry("scorers")
    bad = tmp_path / "bad.vbrm"
    bad.write_bytes(b"not a zip")
    with pytest.raises(IntegrityError, match="damaged or not a vbr model") as e:
        _engine_with_models(tmp_path, monkeypatch, bad).plugins.registry("scorers")
    assert e.value.file == str(bad)
    bare = _model(tmp_path, "bare.vbrm", rubric_ref="nhs-constitution@1.0")
    with pytest.raises(ValidationFailed, match="does not say which rubric, question and value"):
        _engine_with_models(tmp_path, monkeypatch, bare).plugins.registry("scorers")


def test_the_http_service_scores_with_the_learned_scorer(tmp_path, monkeypatch, model_file):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from vbr.server.app import Settings, create_app

    engine = _engine_with_models(tmp_path, monkeypatch, model_file)
    app = create_app(engine, settings=Settings())
    ats = {"Authorization": f"Bearer {app.state.keys.create('ats', tenant='t1', actor='test')[0]}"}
    texts, _ = answers(3, seed=4)
    with TestClient(app) as c:
        assert c.post("/v1/campaigns", headers=ats, json={"id": "c1", "title": "HCA", "rubric_id": RUBRIC,
                                                          "question_ids": [Q]}).status_code == 201
        for i, t in enumerate(texts):
            r = c.post("/v1/campaigns/c1/applications", headers=ats,
                       json={"id": f"a{i}", "answers": [{"question_id": Q, "text": t}]})
            assert r.status_code == 201, r.text
        r = c.post("/v1/campaigns/c1/scores", headers=ats, json={"scorer": SCORER_ID})
        assert r.status_code == 201 and r.json()["scores"] == 6, r.text
        items = c.get("/v1/campaigns/c1/scores", headers=ats).json()["items"]
        assert sorted({(s["value_id"], s["scorer_id"]) for s in items}) == [
            ("compassion", SCORER_ID), ("respect-and-dignity", "evidence")]
        assert c.post("/v1/campaigns", headers=ats, json={"id": "c6", "title": "HCA",
                                                          "rubric_id": "6cs"}).status_code == 201
        r = c.post("/v1/campaigns/c6/scores", headers=ats, json={"scorer": SCORER_ID})
        assert r.status_code == 422 and "no trained model is for rubric 6cs" in r.json()["detail"], r.text


def test_cli_shows_a_model_card_after_checking_the_file(tmp_path, model_file, monkeypatch):
    from vbr.cli.common import console

    monkeypatch.setattr(console, "width", 200)  # rich wraps tables to the terminal's width
    r = _run("scorer", "show", model_file)
    assert r.exit_code == 0, r.output
    card = read_card(model_file)
    for text in ("nhs-constitution@1.0", "question 'nhs-compassion-2', value 'compassion'", "150 answers",
                 f"{card.cv_qwk:.3f}", card.model_sha256[:12], "file intact"):
        assert text in r.output, (text, r.output)
    r = _run("scorer", "show", model_file, "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["model_sha256"] == card.model_sha256
    import zipfile

    edited = tmp_path / "edited.vbrm"
    with zipfile.ZipFile(model_file) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, data + b" " if item == "model.skops" else data)
    r = _run("scorer", "show", edited)
    assert r.exit_code == 5 and "does not match the digest in its card" in r.output


def test_cli_refuses_marks_outside_the_rubric_scale_before_training(tmp_path):
    path = tmp_path / "wide.csv"
    texts, y = answers(30, seed=8)
    rows = [f"\"{t}\",{lvl},{lvl}" for t, lvl in zip(texts, y)]
    rows[6] = rows[6].rsplit(",", 2)[0] + ",7,3"  # data row 7: a mark of 7 on a 0-4 rubric
    path.write_text("answer,mark,mark2\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "m.vbrm"
    r = _run("scorer", "train", path, "--text-col", "answer", "--score-col", "mark", "-o", out,
             "--rubric", RUBRIC, "--question", Q, "--value", "compassion")
    assert r.exit_code == 2 and "the score 7 is outside rubric nhs-constitution@1.0's scale 0-4" in r.output
    assert "row 7" in r.output and "'mark'" in r.output and not out.exists()
    rows[6] = rows[6].rsplit(",", 2)[0] + ",3,5"  # now the second rater's mark
    path.write_text("answer,mark,mark2\n" + "\n".join(rows) + "\n", encoding="utf-8")
    r = _run("scorer", "train", path, "--text-col", "answer", "--score-col", "mark", "--second-rater-col",
             "mark2", "-o", out, "--rubric", RUBRIC)
    assert r.exit_code == 2 and "row 7" in r.output and not out.exists(), r.output


def test_a_shared_service_uses_a_tenants_own_model_for_its_campaigns_only(tmp_path, monkeypatch, rubric):
    general = _model(tmp_path, "general.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    trust_a = _model(tmp_path, "trust-a.vbrm", shift=0, rubric_ref=rubric.ref, question_id=Q, value_id="compassion",
                     tenant="trust-a")
    only_b = _model(tmp_path, "only-b.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="respect-and-dignity",
                    tenant="trust-b")
    digest = {p: read_card(p).model_sha256[:12] for p in (general, trust_a, only_b)}
    engine = _engine_with_models(tmp_path, monkeypatch, general, trust_a, only_b)
    texts, _ = answers(2, seed=6)
    used = {}
    for tenant in ("trust-a", "trust-b", "trust-c"):
        cid = f"c-{tenant}"
        engine.create_campaign(cid, "HCA", RUBRIC, question_ids=[Q], actor="ats", tenant=tenant)
        engine.submit(cid, [{"id": f"{cid}-{i}", "campaign_id": cid} for i in range(2)],
                      [{"application_id": f"{cid}-{i}", "question_id": Q, "text": t} for i, t in enumerate(texts)])
        engine.score(cid, scorer=SCORER_ID)
        used[tenant] = {(r["value_id"], r["scorer_version"]) for r in engine.store.current_scores(cid)}
    ev = EvidenceScorer.version
    assert used["trust-a"] == {("compassion", digest[trust_a]), ("respect-and-dignity", ev)}
    assert used["trust-b"] == {("compassion", digest[general]), ("respect-and-dignity", digest[only_b])}
    assert used["trust-c"] == {("compassion", digest[general]), ("respect-and-dignity", ev)}
    # a tenant with no model of its own and none for every tenant: refused before anything is scored
    (tmp_path / "lone").mkdir()
    lone = _engine_with_models(tmp_path / "lone", monkeypatch, only_b)
    lone.create_campaign("c-x", "HCA", RUBRIC, question_ids=[Q], actor="ats", tenant="trust-x")
    lone.submit("c-x", [{"id": "x1", "campaign_id": "c-x"}], [{"application_id": "x1", "question_id": Q,
                                                                 "text": texts[0]}])
    with pytest.raises(ValidationFailed, match="no trained model is for rubric nhs-constitution@1.0 and tenant "
                                               "'trust-x'"):
        lone.score("c-x", scorer=SCORER_ID)
    assert lone.store.current_scores("c-x") == []


def test_two_models_for_one_question_value_and_tenant_are_refused_naming_both(tmp_path, monkeypatch, rubric):
    """Within the models for every tenant, or within one tenant's, a second model of a question
    and value is refused naming both files; a tenant's own model replacing the general one is
    not a clash."""
    first = _model(tmp_path, "a1.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="compassion",
                   tenant="trust-a")
    second = _model(tmp_path, "a2.vbrm", shift=0, rubric_ref=rubric.ref, question_id=Q, value_id="compassion",
                    tenant="trust-a")
    general = _model(tmp_path, "general.vbrm", rubric_ref=rubric.ref, question_id=Q, value_id="compassion")
    engine = _engine_with_models(tmp_path, monkeypatch, general, first, second)
    texts, _ = answers(1, seed=6)
    engine.create_campaign("c-a", "HCA", RUBRIC, question_ids=[Q], actor="ats", tenant="trust-a")
    engine.submit("c-a", [{"id": "a1", "campaign_id": "c-a"}],
                  [{"application_id": "a1", "question_id": Q, "text": texts[0]}])
    with pytest.raises(ValidationFailed, match=f"two models score question '{Q}', value 'compassion': "
                                               f".*a1.vbrm and .*a2.vbrm") as err:
        engine.score("c-a", scorer=SCORER_ID)
    assert "(and tenant)" in err.value.hint and err.value.file.endswith("a2.vbrm")
    assert engine.store.current_scores("c-a") == []
