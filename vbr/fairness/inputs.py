"""Turn array-likes from callers into clean numpy arrays, or say exactly what is wrong.

Rows are 0-based positions in the arrays the caller passed. Every check is vectorised or runs
on the distinct values only (found once with :func:`pandas.factorize`), so validating millions of
rows costs a few passes over memory.

Rules (documented because an equality officer will ask):

* Outcomes: ``True/False``, ``0/1`` (ints, or floats equal to 0.0/1.0), or the strings
  ``"0"``, ``"1"``, ``"true"``, ``"false"`` in any case with spaces around. Anything else,
  including a missing value, is an error naming the first offending row.
* Ethnic codes: strings are stripped and upper-cased. Missing values (None, NaN, pd.NA, "")
  go to the unknown bucket as ``None``. A column of numbers only (a user grouping with numeric
  codes) is read as their decimal text (``3`` and ``3.0`` are ``"3"``). A column that mixes
  numbers and text is accepted only when every number is itself a known code (``99`` next to
  ``"A"`` is the NHS "not known" code); otherwise it is ambiguous and an error naming the row.
  Booleans and other objects are errors.
* Sex and strata follow the code rules; a missing value becomes :data:`~vbr.fairness.groupings.UNKNOWN`
  for sex and is an error for a stratum (a row must belong to a campaign or site).
* Scores: numbers; NaN/None means "not scored" and is reported, never imputed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable
from typing import Any, Iterable

import numpy as np
import pandas as pd

from vbr.errors import ValidationFailed

_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


def as_array(values: Any, *, field: str) -> np.ndarray | pd.Categorical:
    """A 1-D numpy array (or a pandas Categorical, kept for its fast codes) from an array-like."""
    if values is None:
        raise ValidationFailed("no values given", field=field)
    if isinstance(values, pd.Categorical):
        return values
    if isinstance(values, (pd.Series, pd.Index)):
        if isinstance(values.dtype, pd.CategoricalDtype):
            return pd.Categorical(values)
        return values.to_numpy()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
            values = list(values)
        else:
            raise ValidationFailed(f"expected a list or array of values, got {type(values).__name__}", field=field)
    arr = np.asarray(values) if not isinstance(values, list) else _list_to_array(values)
    if arr.ndim != 1:
        raise ValidationFailed(f"expected one column of values, got an array of shape {arr.shape}", field=field)
    return arr


def _list_to_array(values: list) -> np.ndarray:
    # np.asarray on a mixed list turns 99 into "99" silently; keep objects as they are.
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _factorize(arr: np.ndarray | pd.Categorical, field: str) -> tuple[np.ndarray, list]:
    if isinstance(arr, pd.Categorical):
        return arr.codes.astype(np.int64, copy=False), list(arr.categories)
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # a list or dict in a cell: name the first such row
        row = next(i for i, v in enumerate(arr) if not isinstance(v, Hashable))
        raise ValidationFailed(f"value {arr[row]!r} is a {type(arr[row]).__name__}, not a single value", row=row,
                               field=field, hint="give one column of plain values") from None
    return codes.astype(np.int64, copy=False), list(uniques)


def _first_row(codes: np.ndarray, k: int) -> int:
    return int(np.flatnonzero(codes == k)[0])


def parse_outcome(values: Any, *, field: str = "selected") -> np.ndarray:
    """A boolean array from 0/1/true/false outcomes; a :class:`ValidationFailed` otherwise."""
    arr = as_array(values, field=field)
    if isinstance(arr, np.ndarray):
        if arr.dtype == bool:
            return arr
        if arr.dtype.kind in "iu":
            bad = (arr != 0) & (arr != 1)
            if bad.any():
                row = int(np.argmax(bad))
                raise ValidationFailed(f"outcome {arr[row]!r} is not 0 or 1", row=row, field=field,
                                       hint="outcomes are 0/1, true/false")
            return arr == 1
        if arr.dtype.kind == "f":
            bad = ~((arr == 0) | (arr == 1))
            if bad.any():
                row = int(np.argmax(bad))
                what = "missing" if np.isnan(arr[row]) else f"{arr[row]!r} is not 0 or 1"
                raise ValidationFailed(f"outcome {what}", row=row, field=field, hint="outcomes are 0/1, true/false")
            return arr == 1
    codes, uniques = _factorize(arr, field)
    if (codes < 0).any():
        raise ValidationFailed("outcome is missing", row=_first_row(codes, -1), field=field,
                               hint="every row needs 0/1 or true/false; remove rows without an outcome")
    lookup = np.zeros(len(uniques), dtype=bool)
    for k, u in enumerate(uniques):
        val = _outcome_value(u)
        if val is None:
            raise ValidationFailed(f"outcome {u!r} is not 0/1 or true/false", row=_first_row(codes, k),
                                   field=field, hint="outcomes are 0/1, true/false")
        lookup[k] = val
    return lookup[codes]


def _outcome_value(u: Any) -> bool | None:
    if isinstance(u, (bool, np.bool_)):
        return bool(u)
    if isinstance(u, numbers.Number) and not _is_missing(u):
        return {0: False, 1: True}.get(u) if float(u) in (0.0, 1.0) else None
    if isinstance(u, str):
        s = u.strip().lower()
        return True if s in _TRUE else False if s in _FALSE else None
    return None


def _code_text(u: Any, upper: bool = True) -> tuple[str, str | None]:
    """(kind, text): kind is 'text', 'number', 'missing' or 'bad'."""
    if _is_missing(u):
        return "missing", None
    if isinstance(u, (bool, np.bool_)):
        return "bad", None
    if isinstance(u, str):
        s = u.strip().upper() if upper else u.strip()
        return ("text", s) if s else ("missing", None)
    if isinstance(u, numbers.Integral):
        return "number", str(int(u))
    if isinstance(u, numbers.Real):
        f = float(u)
        return ("number", str(int(f))) if f.is_integer() else ("bad", None)
    return "bad", None


def parse_codes(values: Any, *, field: str = "groups", known: Iterable[str] = (),
                upper: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """Index of each row into a list of normalised distinct codes (``None`` = missing).

    ``known`` lists codes that a number may stand for when numbers and text are mixed;
    ``upper=False`` keeps the case of text labels (strata, sex) and only strips spaces.
    """
    arr = as_array(values, field=field)
    codes, uniques = _factorize(arr, field)
    kinds = [_code_text(u, upper) for u in uniques]
    for k, (kind, _) in enumerate(kinds):
        if kind == "bad":
            raise ValidationFailed(f"value {uniques[k]!r} ({type(uniques[k]).__name__}) is not a category code",
                                   row=_first_row(codes, k), field=field, hint="codes are text such as 'A' or 'Z'")
    present = {kind for kind, _ in kinds}
    if {"text", "number"} <= present:
        known = set(known)
        for k, (kind, text) in enumerate(kinds):
            if kind == "number" and text not in known:
                raise ValidationFailed(
                    f"the column mixes numbers and text, and the number {uniques[k]!r} is not a known code",
                    row=_first_row(codes, k), field=field,
                    hint="give every code as text (e.g. 'A', 'Z', '99'); a number like 1 could be an index, not a code")
    # merge distinct raw values that normalise to the same code ("a", " A", "A")
    out: list[str | None] = []
    pos: dict[str | None, int] = {}
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    for k, (_, text) in enumerate(kinds):
        if text not in pos:
            pos[text] = len(out)
            out.append(text)
        remap[k] = pos[text]
    if (codes < 0).any():
        if None not in pos:
            pos[None] = len(out)
            out.append(None)
        remap[-1] = pos[None]
    if len(out) == len(uniques) and not (codes < 0).any():
        return codes, out  # nothing merged: avoid a pass over the rows
    return remap[codes], out


def parse_scores(values: Any, *, field: str = "scores") -> np.ndarray:
    """Float scores; NaN marks a row without a score."""
    arr = as_array(values, field=field)
    if isinstance(arr, pd.Categorical):
        arr = np.asarray(arr, dtype=object)
    if arr.dtype.kind in "iufb":
        out = arr.astype(np.float64)
    else:
        out = np.empty(len(arr), dtype=np.float64)
        for i, v in enumerate(arr):
            if _is_missing(v):
                out[i] = np.nan
            elif isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
                out[i] = float(v)
            else:
                try:
                    out[i] = float(str(v).strip()) if str(v).strip() else np.nan
                except ValueError:
                    raise ValidationFailed(f"score {v!r} is not a number", row=i, field=field) from None
    if np.isinf(out).any():
        raise ValidationFailed("score is infinite", row=int(np.argmax(np.isinf(out))), field=field)
    return out
