"""Saving and loading learned scorers: skops (never pickle) plus a model card.

A model file is a zip with two members:

* ``model.skops`` - the estimator, written by :func:`skops.io.dumps`;
* ``card.json`` - the :class:`ModelCard`: what the model was trained on (SHA-256 of the
  training data, number of answers, level range), how well it did in cross-validation, its
  feature set, the rubric it was trained for (``id@version``), library versions, when it was
  made, and the SHA-256 of ``model.skops``; for a model trained on two raters' marks
  (``fit(..., second_rating=...)``), ``second_rater: true`` and how many answers were
  double-marked (``n_double_marked``); for a model that scores one value of one question in
  campaigns (``save_model(..., question_id=, value_id=)``), those two ids. Cards leave out the
  fields a model does not use, so older vbr versions still read them.

Loading checks, in order, and raises :class:`vbr.errors.IntegrityError` on any failure:
the file is a readable zip with both members; the card parses; ``model.skops`` still has the
digest recorded in the card (so a changed or damaged file is caught before it is read); every
type in it is one skops trusts by default or on the explicit allow-list below (never
``trusted=True``); the object is a :class:`LearnedScorer`; and, when ``expected_rubric_ref`` is
given, the model was trained for exactly that rubric version.

The digest guards against damage and casual edits, not against someone who rewrites both
members: the allow-list is what stops a crafted file from running code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import zipfile
from pathlib import Path
from typing import Any, Sequence

from pydantic import Field, ValidationError

from vbr.errors import IntegrityError, NotFound
from vbr.models import Frozen

__all__ = ["ModelCard", "save_model", "load_model", "read_card", "data_sha256",
           "TRUSTED_TYPES", "FORMAT"]

FORMAT = "vbr-learned-scorer"
FORMAT_VERSION = 1
MODEL_MEMBER = "model.skops"
CARD_MEMBER = "card.json"

# types beyond skops' own defaults that a LearnedScorer file may contain; nothing else loads
TRUSTED_TYPES: tuple[str, ...] = (
    "vbr.scoring.learned.LearnedScorer",
    "vbr.scoring.learned.CharNgramTfidf",
    "sklearn.tree._tree.Tree",  # the extremely randomised trees' node arrays (skops rebuilds them from arrays)
)


class ModelCard(Frozen):
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    created: dt.datetime
    rubric_ref: str | None = None
    data_sha256: str | None = None
    n_train: int = Field(ge=0)
    levels: tuple[int, int]
    cv_qwk: float | None = None
    cv_exact: float | None = None
    feature_set: tuple[str, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)
    model_sha256: str
    notes: dict[str, Any] = Field(default_factory=dict)
    second_rater: bool = False
    n_double_marked: int = Field(default=0, ge=0)
    # what the marks were for, when the model scores one value of one question in campaigns
    # (vbr scorer train --question --value); left out of the card when not given
    question_id: str | None = None
    value_id: str | None = None
    # the organisation (tenant) whose candidates' answers it was trained on, when it is to score
    # only that organisation's campaigns in a service shared by several
    tenant: str | None = None


def data_sha256(texts: Sequence[str], levels: Sequence[int]) -> str:
    """SHA-256 of the training answers and their levels (order matters)."""
    h = hashlib.sha256()
    for t, y in zip(texts, levels, strict=True):
        h.update(json.dumps([t, int(y)], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _libraries() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("vbr", "scikit-learn", "numpy", "scipy", "skops"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _plain_params(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in model.get_params(deep=False).items():
        if callable(v):
            out[k] = f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', repr(v))}"
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (tuple, list)):
            out[k] = [x if isinstance(x, (str, int, float, bool)) else repr(x) for x in v]
        else:
            out[k] = repr(v)
    return out


def save_model(model: Any, path: str | Path, *, rubric_ref: str | None = None,
               data_sha256: str | None = None, notes: dict[str, Any] | None = None,
               question_id: str | None = None, value_id: str | None = None,
               tenant: str | None = None) -> ModelCard:
    """Write a fitted :class:`~vbr.scoring.learned.LearnedScorer` and its card to ``path``.

    The file is written to a temporary name and moved into place, so a failed save never
    leaves a half-written model where a good one was.
    """
    import skops.io as sio
    from sklearn.utils.validation import check_is_fitted

    from vbr.scoring.learned import LearnedScorer

    if not isinstance(model, LearnedScorer):
        raise TypeError("save_model stores LearnedScorer models only")
    check_is_fitted(model, "meta_")
    payload = sio.dumps(model)
    card = ModelCard(
        created=dt.datetime.now(dt.timezone.utc),
        rubric_ref=rubric_ref,
        data_sha256=data_sha256,
        n_train=int(model.n_train_),
        levels=(int(model.min_level_), int(model.max_level_)),
        cv_qwk=float(model.cv_qwk_),
        cv_exact=float(model.cv_exact_),
        feature_set=tuple(model.feature_set),
        params=_plain_params(model),
        libraries=_libraries(),
        model_sha256=hashlib.sha256(payload).hexdigest(),
        notes=notes or {},
        # None in models fitted before the second rater existed
        second_rater=bool(getattr(model, "second_rater_", False)),
        n_double_marked=int(getattr(model, "n_double_marked_", 0)),
        question_id=question_id,
        value_id=value_id,
        tenant=tenant,
    )
    # a single-rater card leaves the second-rater fields out, and a card for no particular
    # question leaves those out: older vbr versions (whose card refuses unknown fields) still read it
    exclude = set() if card.second_rater else {"second_rater", "n_double_marked"}
    exclude |= {f for f in ("question_id", "value_id", "tenant") if getattr(card, f) is None}
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(CARD_MEMBER, card.model_dump_json(indent=2, exclude=exclude or None))
        zf.writestr(MODEL_MEMBER, payload)
    tmp.replace(target)
    return card


def _open(path: str | Path) -> tuple[ModelCard, bytes]:
    p = Path(path)
    if not p.exists():
        raise NotFound("no such model file", file=str(p), hint="check the path, or train one "
                       "with 'vbr scorer train'")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if CARD_MEMBER not in names or MODEL_MEMBER not in names:
                raise IntegrityError("this is not a vbr model file (no model card inside)",
                                     file=str(p), hint="use a file written by 'vbr scorer train'")
            card_raw = zf.read(CARD_MEMBER)
            payload = zf.read(MODEL_MEMBER)
    except IntegrityError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise IntegrityError(f"the model file is damaged or not a vbr model ({exc})", file=str(p),
                             hint="train the model again or restore it from a backup") from None
    try:
        card = ModelCard.model_validate_json(card_raw)
    except ValidationError as exc:
        raise IntegrityError(f"the model card cannot be read ({exc.error_count()} problem(s))",
                             file=str(p), field=CARD_MEMBER,
                             hint="train the model again or restore it from a backup") from None
    if card.format != FORMAT:
        raise IntegrityError(f"this file holds a '{card.format}', not a {FORMAT}", file=str(p))
    if card.format_version > FORMAT_VERSION:
        raise IntegrityError(f"this model was written by a newer vbr (format {card.format_version})",
                             file=str(p), hint="upgrade vbr to load it")
    if hashlib.sha256(payload).hexdigest() != card.model_sha256:
        raise IntegrityError("the model does not match the digest in its card: the file was "
                             "changed or damaged after it was saved", file=str(p),
                             hint="do not use it; train the model again or restore it from a backup")
    return card, payload


def read_card(path: str | Path) -> ModelCard:
    """The card of a model file, after the file's integrity checks (the model is not loaded)."""
    return _open(path)[0]


def load_model(path: str | Path, *, expected_rubric_ref: str | None = None,
               trusted: Sequence[str] = ()) -> tuple[Any, ModelCard]:
    """Load a model and its card, after every check in the module docstring.

    ``trusted`` names extra types to allow (fully qualified), e.g. the module-level function a
    model was given as ``feature_hook``; nothing is trusted wholesale.
    """
    import skops.io as sio

    from vbr.scoring.learned import LearnedScorer

    card, payload = _open(path)
    if expected_rubric_ref is not None and card.rubric_ref != expected_rubric_ref:
        trained = card.rubric_ref or "no rubric"
        raise IntegrityError(
            f"this model was trained for {trained}, not {expected_rubric_ref}", file=str(path),
            hint="train a model for this rubric version with 'vbr scorer train --rubric'",
        )
    allowed = set(TRUSTED_TYPES) | set(trusted)
    try:
        found = sio.get_untrusted_types(data=payload)
    except Exception as exc:  # a damaged payload fails here
        raise IntegrityError(f"the model cannot be read ({type(exc).__name__}: {exc})",
                             file=str(path), hint="train the model again") from None
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise IntegrityError(
            "the model file contains types vbr does not trust: " + ", ".join(unknown),
            file=str(path), hint="do not load files from unknown sources; if you wrote this "
            "feature hook yourself, pass its name in trusted=",
        )
    try:
        model = sio.loads(payload, trusted=sorted(found))
    except Exception as exc:
        raise IntegrityError(f"the model cannot be loaded ({type(exc).__name__}: {exc})",
                             file=str(path), hint="train the model again") from None
    if not isinstance(model, LearnedScorer):
        raise IntegrityError(f"the file holds a {type(model).__name__}, not a LearnedScorer",
                             file=str(path))
    return model, card
