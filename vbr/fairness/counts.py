"""Count-first engine: reduce rows to a small table of counts once, then work on the counts.

Every row is an applicant. A funnel is given as stage columns after ``applied`` (for example
``shortlisted``, ``interviewed``, ``appointed``); a row's *pattern* is the bit set of stages it
reached. One :func:`numpy.bincount` over ``((stratum * n_sex + sex) * n_codes + code) * 2**K +
pattern`` yields :attr:`AuditCounts.cells`, from which every rate, transition and reconciliation
check is derived without touching the rows again. 5 M rows take a factorize and one bincount.

Reconciliation: a row that reached a stage without the stage before it (appointed without being
shortlisted) cannot be placed in the funnel. Such rows are counted per stage, code and stratum
and reported as a ``block`` finding; the rate for that stage is taken over rows that reached
the previous stage, so they are visible in the finding rather than silently in a rate.

Groupings are applied to the count table, not the rows (:meth:`AuditCounts.grouped`), so one
reduction serves every grouping and every regime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from vbr.errors import ValidationFailed
from vbr.fairness.groupings import UNKNOWN, Grouping, nhs_categories
from vbr.fairness.inputs import parse_codes, parse_outcome, parse_scores

APPLIED = "applied"
MAX_STAGES = 8
_STAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_ .-]*$")


@dataclass(frozen=True)
class ScoreData:
    """Row-level scores kept only when scores are audited (distributions need more than counts)."""

    model: np.ndarray  # float, NaN = not scored
    human: np.ndarray | None
    code_index: np.ndarray  # row -> index into AuditCounts.codes
    sex_index: np.ndarray  # row -> index into AuditCounts.sexes


@dataclass(frozen=True)
class RowData:
    """Row-level arrays kept only for small inputs, so the audit can cross-check with fairlearn."""

    code_index: np.ndarray  # row -> index into AuditCounts.codes
    pattern: np.ndarray  # row -> funnel pattern


@dataclass(frozen=True)
class GroupedCounts:
    """Counts for one stage transition under one grouping: arrays ``[stratum, sex, group]``.

    The last group is :data:`UNKNOWN`. ``base`` is the number at the earlier stage,
    ``selected`` the number of those who reached the later stage.
    """

    groups: tuple[str, ...]
    labels: tuple[str, ...]
    sexes: tuple[str, ...]
    strata: tuple[str, ...]
    base: np.ndarray
    selected: np.ndarray

    def by_group(self) -> tuple[np.ndarray, np.ndarray]:
        """(base, selected) per group, summed over strata and sex."""
        return self.base.sum(axis=(0, 1)), self.selected.sum(axis=(0, 1))

    def by_stratum_group(self) -> tuple[np.ndarray, np.ndarray]:
        return self.base.sum(axis=1), self.selected.sum(axis=1)


@dataclass(frozen=True)
class AuditCounts:
    """The count table every audit works from.

    ``cells[stratum, sex, code, pattern]`` is the number of rows with that stratum, sex,
    normalised ethnic code and funnel pattern (bit ``k-1`` set = reached ``stages[k]``).
    ``codes`` are the distinct normalised codes seen (``None`` = missing/blank).
    """

    stages: tuple[str, ...]
    codes: tuple[str | None, ...]
    sexes: tuple[str, ...]
    strata: tuple[str, ...]
    cells: np.ndarray
    first_violation_row: Mapping[str, int] = field(default_factory=dict)
    scores: ScoreData | None = None
    has_sex: bool = False
    rows: RowData | None = None

    # ------------------------------------------------------------------ basic views
    @property
    def n_rows(self) -> int:
        return int(self.cells.sum())

    def _bits(self) -> np.ndarray:
        n_pat = self.cells.shape[-1]
        return (np.arange(n_pat)[:, None] >> np.arange(len(self.stages) - 1)[None, :]) & 1

    def reached(self, stage: int | str) -> np.ndarray:
        """Rows that reached ``stage`` (index or name), ``[stratum, sex, code]``; stage 0 is everyone."""
        k = self.stage_index(stage)
        if k == 0:
            return self.cells.sum(axis=-1)
        mask = self._bits()[:, k - 1].astype(bool)
        return self.cells[..., mask].sum(axis=-1)

    def transition(self, earlier: int | str, later: int | str) -> tuple[np.ndarray, np.ndarray]:
        """(reached ``earlier``, reached both ``earlier`` and ``later``), each ``[stratum, sex, code]``."""
        i, j = self.stage_index(earlier), self.stage_index(later)
        if j <= i:
            raise ValueError(f"stage {self.stages[j]!r} does not come after {self.stages[i]!r}")
        bits = self._bits()
        both = bits[:, j - 1].astype(bool)
        if i > 0:
            both &= bits[:, i - 1].astype(bool)
        return self.reached(i), self.cells[..., both].sum(axis=-1)

    def violations(self) -> dict[str, np.ndarray]:
        """Per stage (k ≥ 2): rows that reached it without the stage before, ``[stratum, sex, code]``."""
        bits = self._bits()
        out = {}
        for k in range(2, len(self.stages)):
            mask = bits[:, k - 1].astype(bool) & ~bits[:, k - 2].astype(bool)
            v = self.cells[..., mask].sum(axis=-1)
            if v.any():
                out[self.stages[k]] = v
        return out

    def stage_index(self, stage: int | str) -> int:
        if isinstance(stage, (int, np.integer)):
            if not 0 <= stage < len(self.stages):
                raise ValidationFailed(f"no stage number {stage}", field="stage")
            return int(stage)
        if stage not in self.stages:
            raise ValidationFailed(f"no stage {stage!r}", field="stage", hint=f"stages: {', '.join(self.stages)}")
        return self.stages.index(stage)

    # ------------------------------------------------------------------ groupings
    def group_matrix(self, grouping: Grouping) -> np.ndarray:
        """One-hot ``[code, group]`` matrix placing each seen code in a group (unknown last)."""
        idx = grouping.index(self.codes)
        m = np.zeros((len(self.codes), len(grouping.all_groups)), dtype=np.int64)
        m[np.arange(len(self.codes)), idx] = 1
        return m

    def grouped(self, grouping: Grouping, earlier: int | str, later: int | str) -> GroupedCounts:
        base, sel = self.transition(earlier, later)
        m = self.group_matrix(grouping)
        return GroupedCounts(
            groups=grouping.all_groups,
            labels=tuple(grouping.label(g) for g in grouping.all_groups),
            sexes=self.sexes, strata=self.strata, base=base @ m, selected=sel @ m,
        )

    def unknown_codes(self, grouping: Grouping, stage: int | str = 0) -> dict[str, int]:
        """Raw codes that fell in the unknown bucket at ``stage``, with their counts ("" = blank/missing)."""
        per_code = self.reached(stage).sum(axis=(0, 1))
        idx = grouping.index(self.codes)
        unk = len(grouping.groups)
        found = {("" if c is None else c): int(per_code[i]) for i, c in enumerate(self.codes)
                 if idx[i] == unk and per_code[i] > 0}
        return dict(sorted(found.items(), key=lambda kv: (kv[0] == "", kv[0])))  # same order whatever the row order

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_group_counts(
        cls, table: Mapping[str, Sequence[int]], *, stages: Sequence[str] = (APPLIED, "selected"),
    ) -> "AuditCounts":
        """Counts already aggregated: ``{code: [applied, stage1, stage2, ...]}``.

        Aggregated counts cannot say which rows failed to reconcile, so a funnel whose numbers
        rise (more selected than applied) is a :class:`ValidationFailed` naming the code and stage.
        """
        stages = _check_stage_names(stages)
        k = len(stages) - 1
        codes = [None if c in ("", None) else str(c).strip().upper() for c in table]
        if len(set(codes)) != len(codes):
            raise ValidationFailed("two entries normalise to the same code", field="counts")
        cells = np.zeros((1, 1, len(codes), 2 ** k), dtype=np.int64)
        for ci, counts in enumerate(table.values()):
            counts = [int(v) for v in counts]
            if len(counts) != len(stages) or any(v < 0 for v in counts):
                raise ValidationFailed(f"code {codes[ci]!r}: expected {len(stages)} non-negative counts "
                                       f"({', '.join(stages)}), got {counts}", field="counts")
            for j in range(1, k + 1):
                if counts[j] > counts[j - 1]:
                    raise ValidationFailed(
                        f"code {codes[ci]!r}: {counts[j]} {stages[j]} but only {counts[j - 1]} {stages[j - 1]}",
                        field="counts", hint="more selected than were at the stage before: the figures do not reconcile")
            for j in range(k + 1):  # rows that reached stages 1..j in order and stopped there
                cells[0, 0, ci, (1 << j) - 1] += counts[j] - (counts[j + 1] if j < k else 0)
        return cls(stages=stages, codes=tuple(codes), sexes=("all",), strata=("all",), cells=cells)


def _check_stage_names(stages: Sequence[str]) -> tuple[str, ...]:
    stages = tuple(str(s) for s in stages)
    if len(stages) < 2 or stages[0] != APPLIED:
        raise ValidationFailed(f"stages must start with '{APPLIED}' and have at least one more", field="stages")
    if len(stages) - 1 > MAX_STAGES:
        raise ValidationFailed(f"at most {MAX_STAGES} stages after '{APPLIED}'", field="stages")
    if len(set(stages)) != len(stages):
        raise ValidationFailed("stage names repeat", field="stages")
    for s in stages:
        if not _STAGE_ID.match(s):
            raise ValidationFailed(f"stage name {s!r} is not a plain name", field="stages")
    return stages


def _stage_columns(selected: Any) -> tuple[tuple[str, ...], list[Any]]:
    """Stage names and columns from one column, a mapping/DataFrame of stages, or a 2-D array (rows × stages)."""
    if isinstance(selected, pd.DataFrame):
        names, cols = [str(c) for c in selected.columns], [selected[c] for c in selected.columns]
    elif isinstance(selected, Mapping):
        names, cols = [str(c) for c in selected], list(selected.values())
    elif isinstance(selected, np.ndarray) and selected.ndim == 2:
        names = [f"stage{i + 1}" for i in range(selected.shape[1])]
        cols = [selected[:, i] for i in range(selected.shape[1])]
    else:
        return (APPLIED, "selected"), [selected]
    if names and names[0] == APPLIED:
        applied = parse_outcome(cols[0], field=APPLIED)
        if not applied.all():
            raise ValidationFailed("every row is an applicant, but the 'applied' column has a 0",
                                   row=int(np.argmin(applied)), field=APPLIED,
                                   hint="drop rows of people who did not apply, or drop the 'applied' column")
        names, cols = names[1:], cols[1:]
    if not cols:
        raise ValidationFailed("no outcome columns given", field="selected")
    return _check_stage_names([APPLIED, *names]), cols


def count(
    selected: Any,
    groups: Any,
    *,
    strata: Any = None,
    sex: Any = None,
    scores: Any = None,
    human_scores: Any = None,
    known_codes: Sequence[str] = (),
    keep_rows_limit: int = 0,
) -> AuditCounts:
    """Validate the inputs and reduce them to :class:`AuditCounts` in one pass.

    ``selected`` is one 0/1 column (applied → selected) or a funnel: a mapping or DataFrame of
    stage name → 0/1 column in funnel order. ``selected=None`` with ``scores`` audits scores only.
    Row-level arrays are kept (:attr:`AuditCounts.rows`) when there are at most ``keep_rows_limit`` rows.
    """
    code_idx, codes = parse_codes(groups, field="groups",
                                  known=set(known_codes) | set(nhs_categories()[0]))
    n = len(code_idx)
    if selected is None:
        if scores is None:
            raise ValidationFailed("give outcomes (selected) or scores", field="selected")
        stages, cols = (APPLIED, "scored"), [np.ones(n, dtype=bool)]
    else:
        stages, cols = _stage_columns(selected)
    if n == 0:
        raise ValidationFailed("no rows to audit", field="groups", hint="the outcome and group columns are empty")
    outcomes = []
    for name, col in zip(stages[1:], cols):
        o = parse_outcome(col, field=name if len(cols) > 1 else "selected")
        if len(o) != n:
            raise ValidationFailed(f"{len(o)} outcomes but {n} group codes", field=name,
                                   hint="every row needs an outcome and a group code")
        outcomes.append(o)
    sex_idx, sexes, has_sex = _category(sex, n, field="sex", missing=UNKNOWN)
    st_idx, strata_labels, _ = _category(strata, n, field="strata", missing=None)

    # one combined index per row, built in place to keep temporaries few (5 M rows: ~40 MB each)
    n_pat = 1 << len(outcomes)
    shape = (len(strata_labels), len(sexes), len(codes), n_pat)
    if len(strata_labels) > 1 or len(sexes) > 1:
        combined = st_idx * len(sexes) if st_idx is not None else np.zeros(n, dtype=np.int64)
        if sex_idx is not None:
            combined += sex_idx
        combined *= len(codes)
        combined += code_idx
        combined *= n_pat
    else:
        combined = code_idx * n_pat
    pattern = outcomes[0].view(np.uint8)
    for k, o in enumerate(outcomes[1:], start=1):
        pattern = pattern | (o.view(np.uint8) << np.uint8(k))
    combined += pattern
    cells = np.bincount(combined, minlength=int(np.prod(shape))).reshape(shape)

    first_bad: dict[str, int] = {}
    for k in range(1, len(outcomes)):
        bad = outcomes[k] & ~outcomes[k - 1]
        if bad.any():
            first_bad[stages[k + 1]] = int(np.argmax(bad))

    score_data = None
    if scores is not None or human_scores is not None:
        model = parse_scores(scores, field="scores") if scores is not None else np.full(n, np.nan)
        human = parse_scores(human_scores, field="human_scores") if human_scores is not None else None
        for name, arr in (("scores", model), ("human_scores", human)):
            if arr is not None and len(arr) != n:
                raise ValidationFailed(f"{len(arr)} {name} but {n} group codes", field=name)
        score_data = ScoreData(model=model, human=human, code_index=code_idx,
                               sex_index=sex_idx if sex_idx is not None else np.zeros(n, dtype=np.int64))
    rows = RowData(code_idx, pattern) if n <= keep_rows_limit else None
    return AuditCounts(stages=stages, codes=tuple(codes), sexes=sexes, strata=strata_labels, cells=cells,
                       first_violation_row=first_bad, scores=score_data, has_sex=has_sex, rows=rows)


def _category(values: Any, n: int, *, field: str, missing: str | None) -> tuple[np.ndarray | None, tuple[str, ...], bool]:
    if values is None:  # no column: one level "all", and no index array (5 M zeros cost ~10 ms each)
        return None, ("all",), False
    idx, labels = parse_codes(values, field=field, upper=False)
    if len(idx) != n:
        raise ValidationFailed(f"{len(idx)} {field} values but {n} group codes", field=field)
    if None in labels:
        if missing is None:
            raise ValidationFailed(f"{field} is missing", row=int(np.argmax(idx == labels.index(None))), field=field,
                                   hint="every row must belong to a stratum (campaign or site)")
    if field == "sex":
        labels = [_sex_label(s) for s in labels]
        # merge labels that normalise alike ("F" and "female")
        uniq: list[str] = []
        for s in labels:
            if s not in uniq:
                uniq.append(s)
        remap = np.array([uniq.index(s) for s in labels], dtype=np.int64)
        idx = remap[idx] if len(uniq) != len(labels) else idx
        order = sorted(range(len(uniq)), key=lambda i: (uniq[i] == UNKNOWN, uniq[i]))
        inv = np.empty(len(uniq), dtype=np.int64)
        inv[order] = np.arange(len(uniq))
        return inv[idx], tuple(uniq[i] for i in order), True
    return idx, tuple(str(s) for s in labels), True


_SEX = {"F": "Female", "FEMALE": "Female", "WOMAN": "Female", "M": "Male", "MALE": "Male", "MAN": "Male",
        "U": UNKNOWN, "UNKNOWN": UNKNOWN, "NOT STATED": UNKNOWN, "NOT KNOWN": UNKNOWN,
        "PREFER NOT TO SAY": UNKNOWN, "Z": UNKNOWN, "9": UNKNOWN, "99": UNKNOWN}


def _sex_label(s: str | None) -> str:
    if s is None:
        return UNKNOWN
    return _SEX.get(s.upper(), s)


__all__ = ["AuditCounts", "GroupedCounts", "RowData", "ScoreData", "count", "APPLIED"]
