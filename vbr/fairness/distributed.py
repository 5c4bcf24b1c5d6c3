"""The count-first audit on Dask: count in parallel, audit the counts with the same code.

Nothing statistical lives here. Each partition of the data (a Dask DataFrame partition, or a
slice of row groups of a Parquet file, or one CSV file) is reduced on a worker to a *partial*
count table: cells ``[stratum, sex, code, funnel pattern]`` over the labels seen in that
partition, with the same input rules as the in-memory path (:mod:`vbr.fairness.inputs`).
Partials are summed in a tree on the workers, aligned on the union of their labels, and the
one small result becomes an ordinary :class:`~vbr.fairness.counts.AuditCounts`, which
:func:`~vbr.fairness.audit.audit_counts` audits exactly as it audits an in-memory count.

What is kept so the result is *identical* to :func:`~vbr.fairness.audit.selection_audit` on the
same rows in the same order: the order in which codes and strata first appear (the in-memory
path lists them that way), the global row of the first funnel violation per stage, and the
global rules that need every partition (a column mixing numbers and text).

Rows are never collected on the client: the data streams through the workers partition by
partition, so data larger than memory works. A result is never partial: every partition must
report exactly once, the rows counted must equal the rows read (and, for Parquet, the row
counts in the files' metadata), and any partition that cannot be read or does not match the
schema is an error naming the file (or partition) -- the audit is not run on the rest.
"""

from __future__ import annotations

import dataclasses
import glob as _glob
import inspect
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from vbr.errors import ValidationFailed
from vbr.fairness.counts import APPLIED, AuditCounts, _check_stage_names, _sex_label
from vbr.fairness.groupings import UNKNOWN, nhs_categories
from vbr.fairness.inputs import _code_text, _factorize, as_array, parse_outcome

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
DEFAULT_PARTITION_ROWS = 2_000_000
_NA_FIRST = (math.inf, 0, 0)  # where a missing value (not a blank string) sorts: after every seen label


class PartitionFailed(ValidationFailed):
    """A partition could not be read, did not match the others, or held invalid values."""

    def __reduce__(self):  # keep file/row/field when the error crosses from a worker
        return (_rebuild, (type(self), self.message, {
            "file": self.file, "line": self.line, "row": self.row, "field": self.field, "hint": self.hint}))


def _rebuild(cls, message, kw):
    return cls(message, **kw)


# --------------------------------------------------------------------------- partial counts
@dataclass
class _Dim:
    """Labels of one dimension (codes, sex or strata) seen by a partial, in cell order."""

    labels: list = field(default_factory=list)  # normalised label, None = missing
    first: list = field(default_factory=list)  # ordering key of first appearance: (part, chunk row0, rank)
    text: list = field(default_factory=list)  # some raw value was text
    number: list = field(default_factory=list)  # (part, row, raw) of the first raw number, or None


@dataclass
class _Partial:
    stages: tuple
    codes: _Dim
    sexes: _Dim
    strata: _Dim
    cells: np.ndarray  # [stratum, sex, code, pattern], int64
    rows: dict  # part -> rows read
    first_bad: dict  # stage -> (part, row)
    errors: list  # (part, row, field, message, hint)


@dataclass(frozen=True)
class _Spec:
    """What a worker needs to count a partition (small, pickled with each task)."""

    stage_names: tuple  # after 'applied'
    stage_cols: tuple  # column per stage name
    applied_col: str | None
    code_col: str
    strata_col: str | None
    sex_col: str | None
    dtypes: tuple = ()  # ((column, signature), ...) every partition must match, for Dask DataFrames

    @property
    def columns(self) -> list[str]:
        cols = ([self.applied_col] if self.applied_col else []) + list(self.stage_cols) + [self.code_col]
        cols += [c for c in (self.strata_col, self.sex_col) if c]
        return list(dict.fromkeys(cols))


def _dim_of(values: Any, part: int, field: str, errors: list, row0: int = 0, *, upper: bool = True
            ) -> tuple[np.ndarray | None, _Dim]:
    """Row -> local label index, and the labels with their first appearance (inputs.parse_codes rules;
    ``upper=False`` keeps the case of strata and sex labels, as :func:`vbr.fairness.counts.count` does)."""
    try:
        arr = as_array(values, field=field)
        if isinstance(arr, pd.Categorical):  # keep the narrow category codes (int8 for few categories)
            codes, uniques = arr.codes, list(arr.categories)
        else:
            codes, uniques = _factorize_field(arr, field)
    except ValidationFailed as exc:
        errors.append((part, exc.row, exc.field, exc.message, exc.hint))
        return None, _Dim()
    n_u = len(uniques)
    if isinstance(arr, pd.Categorical):  # categories are in category order; rank by appearance instead
        stop, n_used = 1 << 16, None  # the used categories nearly always all appear in a short prefix
        while True:
            seen = pd.unique(codes[:stop])
            seen = seen[seen >= 0]
            if len(seen) == n_u or stop >= len(codes):
                break
            if n_used is None:
                n_used = int((np.bincount(codes.astype(np.int64) + 1, minlength=n_u + 1)[1:] > 0).sum())
            if len(seen) == n_used:
                break
            stop *= 8
        rank = np.full(n_u, -1, dtype=np.int64)
        rank[seen] = np.arange(len(seen))
    else:
        rank = np.arange(n_u, dtype=np.int64)
    dim = _Dim()
    pos: dict = {}
    remap = np.zeros(n_u + 1, dtype=np.int32)
    mixed_possible = arr.dtype == object if isinstance(arr, np.ndarray) else True
    for k in range(n_u):
        if rank[k] < 0:
            continue  # an unused category
        kind, text = _code_text(uniques[k], upper)
        if kind == "bad":
            row = int(np.argmax(codes == k))
            errors.append((part, row, field, f"value {uniques[k]!r} ({type(uniques[k]).__name__}) is not a "
                                             "category code", "codes are text such as 'A' or 'Z'"))
            return None, dim
        if text not in pos:
            pos[text] = len(dim.labels)
            dim.labels.append(text)
            dim.first.append((part, row0, int(rank[k])))
            dim.text.append(False)
            dim.number.append(None)
        i = pos[text]
        remap[k] = i
        dim.first[i] = min(dim.first[i], (part, row0, int(rank[k])))
        if kind == "text":
            dim.text[i] = True
        elif kind == "number" and dim.number[i] is None:
            row = int(np.argmax(codes == k)) if mixed_possible else None
            dim.number[i] = (part, row if row is not None else -1, repr(uniques[k]))
    if (codes < 0).any():
        if None not in pos:
            pos[None] = len(dim.labels)
            dim.labels.append(None)
            dim.first.append(_NA_FIRST)
            dim.text.append(False)
            dim.number.append(None)
        remap[-1] = pos[None]
    if len(dim.labels) == n_u and not (codes < 0).any() and np.array_equal(remap[:-1], np.arange(n_u)):
        return codes, dim
    return remap[codes], dim


def _factorize_field(arr: Any, field: str) -> tuple[np.ndarray, list]:
    """inputs._factorize, whichever of its two signatures (with or without ``field``) is installed."""
    if _FACTORIZE_TAKES_FIELD:
        return _factorize(arr, field)
    return _factorize(arr)


_FACTORIZE_TAKES_FIELD = len(inspect.signature(_factorize).parameters) > 1


def _signature(dtype: Any) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if dtype == object or isinstance(dtype, pd.StringDtype) or str(dtype) in ("str", "string"):
        return "text"
    return str(dtype)


def _empty_dim_all() -> _Dim:
    return _Dim(labels=["all"], first=[(0, 0, 0)], text=[True], number=[None])


def _count_frame(df: pd.DataFrame, part: int, spec: _Spec, row0: int = 0) -> _Partial:
    """Count one partition (or one chunk of it starting at local row ``row0``)."""
    errors: list = []
    k = len(spec.stage_names)
    empty = _Partial(spec.stage_names, _Dim(), _Dim(), _Dim(), np.zeros((0, 0, 0, 1 << k), dtype=np.int64),
                     {part: len(df)}, {}, errors)
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        errors.append((part, None, missing[0], f"column {missing[0]!r} is missing "
                                               f"(found: {', '.join(map(str, df.columns))})", None))
        return empty
    for col, sig in spec.dtypes:
        got = _signature(df[col].dtype)
        if got != sig:
            errors.append((part, None, col, f"column {col!r} is {got} here but {sig} in the dataset's schema",
                           "every file or partition must have the same columns and types"))
            return empty
    n = len(df)
    code_idx, codes = _dim_of(df[spec.code_col], part, spec.code_col, errors, row0)
    if spec.sex_col:
        sex_idx, sexes = _dim_of(df[spec.sex_col], part, spec.sex_col, errors, row0, upper=False)
    else:
        sex_idx, sexes = np.zeros(n, dtype=np.int64), _empty_dim_all()
    if spec.strata_col:
        st_idx, strata = _dim_of(df[spec.strata_col], part, spec.strata_col, errors, row0, upper=False)
        if st_idx is not None and None in strata.labels:
            row = int(np.argmax(st_idx == strata.labels.index(None)))
            errors.append((part, row, spec.strata_col, f"{spec.strata_col} is missing",
                           "every row must belong to a stratum (campaign or site)"))
    else:
        st_idx, strata = np.zeros(n, dtype=np.int64), _empty_dim_all()
    outcomes = []
    try:
        if spec.applied_col:
            applied = parse_outcome(df[spec.applied_col], field=APPLIED)
            if not applied.all():
                errors.append((part, int(np.argmin(applied)), APPLIED,
                               "every row is an applicant, but the 'applied' column has a 0",
                               "drop rows of people who did not apply, or drop the 'applied' column"))
        for name, col in zip(spec.stage_names, spec.stage_cols):
            outcomes.append(parse_outcome(df[col], field=name if k > 1 else "selected"))
    except ValidationFailed as exc:
        errors.append((part, exc.row, exc.field, exc.message, exc.hint))
    if errors or code_idx is None or sex_idx is None or st_idx is None:
        errors[:] = [(p, r if r is None else r + row0, f, m, h) for p, r, f, m, h in errors]
        return empty
    shape = (len(strata.labels), len(sexes.labels), len(codes.labels), 1 << k)
    size = int(np.prod(shape))
    dt = np.int32 if size < 2**31 else np.int64  # narrow, in-place index arithmetic: this is the hot loop
    if shape[0] > 1 or shape[1] > 1:
        combined = st_idx.astype(dt)
        combined *= shape[1]
        combined += sex_idx
        combined *= shape[2]
        combined += code_idx
    else:
        combined = code_idx.astype(dt)
    combined *= shape[3]
    for j, o in enumerate(outcomes):
        combined += o.view(np.uint8) << np.uint8(j) if o.dtype == bool else o.astype(np.uint8) << np.uint8(j)
    cells = np.bincount(combined, minlength=size).reshape(shape).astype(np.int64, copy=False)
    first_bad = {}
    for j in range(1, k):
        bad = outcomes[j] & ~outcomes[j - 1]
        if bad.any():
            first_bad[spec.stage_names[j]] = (part, row0 + int(np.argmax(bad)))
    if row0:
        _shift_rows(codes, row0), _shift_rows(sexes, row0), _shift_rows(strata, row0)
    return _Partial(spec.stage_names, codes, sexes, strata, cells, {part: n}, first_bad, [])


def _shift_rows(dim: _Dim, row0: int) -> None:
    dim.number = [v if v is None or v[1] < 0 else (v[0], v[1] + row0, v[2]) for v in dim.number]


def _union(a: _Dim, b: _Dim) -> tuple[_Dim, np.ndarray, np.ndarray]:
    out = _Dim(list(a.labels), list(a.first), list(a.text), list(a.number))
    pos = {lab: i for i, lab in enumerate(out.labels)}
    mb = np.empty(len(b.labels), dtype=np.int64)
    for j, lab in enumerate(b.labels):
        i = pos.get(lab)
        if i is None:
            i = pos[lab] = len(out.labels)
            out.labels.append(lab)
            out.first.append(b.first[j])
            out.text.append(b.text[j])
            out.number.append(b.number[j])
        else:
            out.first[i] = min(out.first[i], b.first[j])
            out.text[i] = out.text[i] or b.text[j]
            if b.number[j] is not None and (out.number[i] is None or b.number[j][:2] < out.number[i][:2]):
                out.number[i] = b.number[j]
        mb[j] = i
    return out, np.arange(len(a.labels), dtype=np.int64), mb


def _merge(partials: Sequence[_Partial], chunks: bool = False) -> _Partial:
    """Sum partials aligned on the union of their labels (runs on the workers, in a tree).

    ``chunks``: the partials are consecutive chunks of one partition (their rows add up).
    """
    acc = partials[0]
    for p in partials[1:]:
        overlap = set(acc.rows) & set(p.rows)
        errors = acc.errors + p.errors
        if overlap and not chunks:
            errors.append((min(overlap), None, None, "partition counted twice", None))
        rows = {**acc.rows, **p.rows}
        if chunks:
            rows = {k: acc.rows.get(k, 0) + p.rows.get(k, 0) for k in rows}
        first_bad = dict(acc.first_bad)
        for s, v in p.first_bad.items():
            first_bad[s] = min(first_bad.get(s, v), v)
        if errors:
            acc = _Partial(acc.stages, acc.codes, acc.sexes, acc.strata, acc.cells, rows, first_bad, errors)
            continue
        if acc.cells.size == 0 and not acc.codes.labels:
            acc = _Partial(p.stages, p.codes, p.sexes, p.strata, p.cells, rows, first_bad, errors)
            continue
        if p.cells.size == 0 and not p.codes.labels:
            acc = _Partial(acc.stages, acc.codes, acc.sexes, acc.strata, acc.cells, rows, first_bad, errors)
            continue
        st, sa, sb = _union(acc.strata, p.strata)
        sx, xa, xb = _union(acc.sexes, p.sexes)
        cd, ca, cb = _union(acc.codes, p.codes)
        cells = np.zeros((len(st.labels), len(sx.labels), len(cd.labels), acc.cells.shape[-1]), dtype=np.int64)
        cells[np.ix_(sa, xa, ca)] += acc.cells
        cells[np.ix_(sb, xb, cb)] += p.cells
        acc = _Partial(acc.stages, cd, sx, st, cells, rows, first_bad, errors)
    return acc


# --------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class _FilePart:
    path: str
    kind: str  # "parquet" or "csv"
    row_groups: tuple = ()  # Parquet row groups of this partition
    rows: int | None = None  # rows expected from the Parquet metadata
    file_row0: int = 0  # first row of this partition within its file

    @property
    def name(self) -> str:
        if self.kind == "parquet" and self.row_groups:
            rg = self.row_groups
            return f"{self.path} (row groups {rg[0]}-{rg[-1]})" if len(rg) > 1 else f"{self.path} (row group {rg[0]})"
        return self.path


def expand_source(source: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[list[str], str]:
    """Files matched by a glob, a directory or a list, sorted, and their format (parquet or csv)."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[str] = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            found = sorted(p for p in _glob.glob(os.path.join(item, "**", "*"), recursive=True)
                           if p.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES))
        elif any(ch in item for ch in "*?["):
            found = sorted(_glob.glob(item, recursive=True))
        else:
            found = [item] if os.path.exists(item) else []
        if not found:
            raise ValidationFailed(f"no files match {item!r}", file=item,
                                   hint="give a glob such as 'data/*.parquet', a directory or a list of files")
        files.extend(found)
    kinds = {"parquet" if f.lower().endswith(PARQUET_SUFFIXES) else "csv" if f.lower().endswith(CSV_SUFFIXES)
             else "?" for f in files}
    if "?" in kinds:
        odd = next(f for f in files if not f.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES))
        raise ValidationFailed("not a Parquet or CSV file", file=odd, hint="file names end in .parquet or .csv")
    if len(kinds) > 1:
        raise ValidationFailed("the files mix Parquet and CSV", file=files[0], hint="audit one format at a time")
    return files, kinds.pop()


def _arrow_sig(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        t = pa.string()
    return str(t)


def plan_files(files: Sequence[str], kind: str, columns: Sequence[str], *,
               partition_rows: int = DEFAULT_PARTITION_ROWS) -> list[_FilePart]:
    """Partitions of the files, after checking every file has the columns with the same types.

    Parquet files are split into runs of row groups of about ``partition_rows`` rows; only the
    footers are read here. A CSV file is one partition (read in chunks on its worker).
    """
    parts: list[_FilePart] = []
    if kind == "csv":
        import csv as _csv

        for f in files:
            try:
                header = next(_csv.reader(pd.io.common.get_handle(f, "r", compression="infer",
                                                                   encoding="utf-8-sig").handle), [])
            except Exception as exc:  # noqa: BLE001 - any failure to open is reported with the file
                raise PartitionFailed(f"cannot read the CSV header: {exc}", file=f) from None
            header = [h.strip() for h in header]
            for c in columns:
                if c not in header:
                    raise PartitionFailed(f"column {c!r} is missing (found: {', '.join(header)})", file=f, field=c,
                                          hint="every file must have the same columns")
            parts.append(_FilePart(f, "csv"))
        return parts
    import pyarrow.parquet as pq

    ref: dict[str, tuple[str, str]] = {}
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
            schema = meta.schema.to_arrow_schema()
        except Exception as exc:  # noqa: BLE001
            raise PartitionFailed(f"cannot read the Parquet footer: {exc}", file=f,
                                  hint="the file is damaged or not Parquet") from None
        for c in columns:
            if c not in schema.names:
                raise PartitionFailed(f"column {c!r} is missing (found: {', '.join(schema.names)})", file=f, field=c,
                                      hint="every file must have the same columns")
            sig = _arrow_sig(schema.field(c).type)
            if c not in ref:
                ref[c] = (sig, f)
            elif ref[c][0] != sig:
                raise PartitionFailed(f"column {c!r} is {sig} here but {ref[c][0]} in {ref[c][1]}", file=f, field=c,
                                      hint="every file must have the same column types")
        run: list[int] = []
        run_rows, row0 = 0, 0
        for g in range(meta.num_row_groups):
            run.append(g)
            run_rows += meta.row_group(g).num_rows
            if run_rows >= partition_rows or g == meta.num_row_groups - 1:
                parts.append(_FilePart(f, "parquet", tuple(run), run_rows, row0))
                row0 += run_rows
                run, run_rows = [], 0
        if meta.num_row_groups == 0:
            parts.append(_FilePart(f, "parquet", (), 0, 0))
    return parts


def _count_file_part(fp: _FilePart, part: int, spec: _Spec, chunk_rows: int = DEFAULT_PARTITION_ROWS) -> _Partial:
    """Read one file partition on a worker and count it; a read failure names the file."""
    cols = spec.columns
    if fp.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(fp.path).read_row_groups(list(fp.row_groups), columns=cols)
            df = table.to_pandas()
        except Exception as exc:  # noqa: BLE001
            raise PartitionFailed(f"cannot read {fp.name}: {type(exc).__name__}: {exc}", file=fp.path,
                                  hint="the file is damaged, unreadable or changed during the run") from None
        del table
        return _count_frame(df, part, spec)
    partials = []
    row0 = 0
    try:
        reader = pd.read_csv(fp.path, usecols=cols, dtype=str, keep_default_na=False, na_values=[""],
                             chunksize=chunk_rows, encoding="utf-8-sig", skipinitialspace=False)
        for chunk in reader:
            p = _count_frame(chunk, part, spec, row0)
            row0 += len(chunk)
            partials.append(p)
            if p.errors:
                break
            if len(partials) > 1:
                partials = [_merge(partials, chunks=True)]
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise PartitionFailed(f"cannot read {fp.path}: {type(exc).__name__}: {exc}", file=fp.path) from None
    if not partials:
        return _count_frame(pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}), part, spec)
    return _merge(partials, chunks=True) if len(partials) > 1 else partials[0]


# --------------------------------------------------------------------------- client side
def _stage_spec(stages: Any, code_col: str, strata_col: str | None, sex_col: str | None) -> _Spec:
    if isinstance(stages, str):
        stages = [stages]
    if isinstance(stages, Mapping):
        names, cols = [str(s) for s in stages], [str(c) for c in stages.values()]
    else:
        names = cols = [str(c) for c in stages]
    applied_col = None
    if names and names[0] == APPLIED:
        applied_col, names, cols = cols[0], names[1:], cols[1:]
    if not cols:
        raise ValidationFailed("no outcome columns given", field="stages")
    names = list(_check_stage_names([APPLIED, *names])[1:])
    return _Spec(tuple(names), tuple(cols), applied_col, code_col, strata_col, sex_col)


def _tasks(source: Any, spec: _Spec, partition_rows: int):
    """Delayed partials, partition names and rows expected per partition (None = unknown)."""
    from dask import delayed

    if hasattr(source, "to_delayed") and hasattr(source, "npartitions"):  # a Dask DataFrame
        missing = [c for c in spec.columns if c not in source.columns]
        if missing:
            raise ValidationFailed(f"column {missing[0]!r} is not in the Dask DataFrame "
                                   f"(found: {', '.join(map(str, source.columns))})", field=missing[0])
        dtypes = tuple((c, _signature(source.dtypes[c])) for c in spec.columns)
        spec = dataclasses.replace(spec, dtypes=dtypes)
        parts = source[spec.columns].to_delayed()
        count = delayed(_count_frame, pure=True)
        tasks = [count(p, i, spec) for i, p in enumerate(parts)]
        return tasks, [f"partition {i} of {len(parts)}" for i in range(len(parts))], [None] * len(parts), None
    files, kind = expand_source(source)
    plan = plan_files(files, kind, spec.columns, partition_rows=partition_rows)
    count = delayed(_count_file_part, pure=True)
    tasks = [count(fp, i, spec, partition_rows) for i, fp in enumerate(plan)]
    return tasks, [fp.name for fp in plan], [fp.rows for fp in plan], plan


def _tree(tasks: list, fan_in: int = 8):
    from dask import delayed

    merge = delayed(_merge, pure=True)
    level = list(tasks)
    while len(level) > 1:
        level = [merge(level[i:i + fan_in]) for i in range(0, len(level), fan_in)]
    return level[0]


def _finalise(p: _Partial, names: list[str], expected: list[int | None], known_codes: Sequence[str],
              has_sex: bool, plan: list[_FilePart] | None, spec: _Spec) -> AuditCounts:
    n_parts = len(names)
    offsets = np.zeros(n_parts + 1, dtype=np.int64)
    for i in range(n_parts):
        offsets[i + 1] = offsets[i] + p.rows.get(i, 0)

    def where(part: int, row: int | None) -> dict:
        """Where to point: a CSV line, a Parquet row (0-based, in the file) or a global row (0-based)."""
        if plan is not None:
            fp = plan[part]
            if row is None:
                return {"file": fp.path, "label": fp.name}
            if fp.kind == "csv":
                return {"file": fp.path, "line": row + 2, "label": fp.name}  # line 1 is the header
            return {"file": fp.path, "row": fp.file_row0 + row, "label": fp.name + ", row 0-based in the file"}
        return {"row": None if row is None else int(offsets[part] + row), "label": names[part]}

    def loc(w: dict) -> dict:
        return {k: w[k] for k in ("file", "row", "line") if k in w}

    if p.errors:
        part, row, fld, msg, hint = min(p.errors, key=lambda e: (e[0], -1 if e[1] is None else e[1]))
        w = where(part, row)
        extra = len(p.errors) - 1
        raise PartitionFailed(f"{msg} [{w['label']}]" + (f"; {extra} more problem(s) in other partitions"
                                                        if extra else "") + "; nothing was audited",
                              field=fld, hint=hint, **loc(w))
    missing = sorted(set(range(n_parts)) - set(p.rows))
    if missing:
        raise PartitionFailed(f"{len(missing)} partition(s) did not report (first: {names[missing[0]]}); "
                              "nothing was audited", hint="a partial result is never reported as whole")
    for i, exp in enumerate(expected):
        if exp is not None and p.rows[i] != exp:
            raise PartitionFailed(f"read {p.rows[i]} rows from {names[i]} but its metadata says {exp}; "
                                  "nothing was audited", file=plan[i].path if plan else None,
                                  hint="the file changed during the run or is damaged")
    total = int(offsets[-1])
    if int(p.cells.sum()) != total:
        raise PartitionFailed(f"counted {int(p.cells.sum())} rows but read {total}; nothing was audited",
                              hint="please report this")
    if total == 0:
        raise ValidationFailed("no rows to audit", field=spec.code_col, hint="the outcome and group columns are empty")

    # rules that need every partition: a column mixing numbers and text
    dims = [(p.codes, spec.code_col, set(known_codes) | set(nhs_categories()[0]))]
    if spec.sex_col:
        dims.append((p.sexes, spec.sex_col, set()))
    if spec.strata_col:
        dims.append((p.strata, spec.strata_col, set()))
    for dim, fld, known in dims:
        if any(dim.text) and any(v is not None for v in dim.number):
            bad = [v for lab, v in zip(dim.labels, dim.number) if v is not None and lab not in known]
            if bad:
                part, row, raw = min(bad)
                w = where(part, None if row < 0 else row)
                raise PartitionFailed(f"the column mixes numbers and text, and the number {raw} is not a known code "
                                      f"[{w['label']}]", field=fld, **loc(w),
                                      hint="give every code as text (e.g. 'A', 'Z', '99'); a number like 1 could "
                                           "be an index, not a code")

    def order(dim: _Dim) -> np.ndarray:
        return np.array(sorted(range(len(dim.labels)), key=lambda i: dim.first[i]), dtype=np.int64)

    co, so = order(p.codes), order(p.strata)
    cells = p.cells[so][:, :, co]
    codes = tuple(p.codes.labels[i] for i in co)
    strata = tuple(str(p.strata.labels[i]) for i in so) if spec.strata_col else ("all",)
    if spec.sex_col:
        raw = [_sex_label(s) for s in p.sexes.labels]
        uniq = sorted(set(raw), key=lambda s: (s == UNKNOWN, s))
        to = np.array([uniq.index(s) for s in raw], dtype=np.int64)
        sexed = np.zeros((cells.shape[0], len(uniq)) + cells.shape[2:], dtype=np.int64)
        np.add.at(sexed, (slice(None), to), cells)
        cells, sexes = sexed, tuple(uniq)
    else:
        sexes = ("all",)
    first_bad = {s: int(offsets[part] + row) for s, (part, row) in p.first_bad.items()}
    stages = (APPLIED, *spec.stage_names)
    if cells.shape[-1] != 1 << (len(stages) - 1):
        raise PartitionFailed("partition counts have different stage counts", hint="please report this")
    return AuditCounts(stages=stages, codes=codes, sexes=sexes, strata=strata, cells=cells,
                       first_violation_row=first_bad, scores=None, has_sex=has_sex, rows=None)


def dask_counts(
    source: Any,
    *,
    stages: Any,
    code_col: str = "ethnic_code",
    strata_col: str | None = None,
    sex_col: str | None = None,
    known_codes: Sequence[str] = (),
    client: Any = None,
    retries: int = 2,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    progress: bool = False,
) -> AuditCounts:
    """Count a Dask DataFrame or a glob of Parquet/CSV files into one :class:`AuditCounts`.

    ``stages`` are the 0/1 outcome columns in funnel order (stage name = column name), or a
    mapping stage name → column; a first stage named ``applied`` must be all 1 and is dropped,
    as in :func:`vbr.fairness.counts.count`. One outcome column is named ``selected`` in error
    messages, several by their stage. ``code_col`` holds the ethnic codes, ``strata_col`` the
    campaign or site, ``sex_col`` the sex (optional). ``known_codes`` are the codes a number may
    stand for when numbers and text are mixed (the grouping's codes; the NHS codes are always known).

    With ``client`` the work runs there (with ``retries`` per task); without, on the current
    Dask scheduler. Raises :class:`PartitionFailed` (a :class:`ValidationFailed`) naming the file
    or partition for unreadable or mismatched input, and never returns a partial count.
    """
    spec = _stage_spec(stages, code_col, strata_col, sex_col)
    tasks, names, expected, plan = _tasks(source, spec, partition_rows)
    if not tasks:
        raise ValidationFailed("no partitions to audit", field=code_col)
    final = _tree(tasks)
    partial = _run(final, client=client, retries=retries, progress=progress, names=names)
    return _finalise(partial, names, expected, known_codes, has_sex=sex_col is not None, plan=plan, spec=spec)


def _run(final: Any, *, client: Any, retries: int, progress: bool, names: list[str]) -> _Partial:
    try:
        if client is None:
            import dask

            return dask.compute(final)[0]
        fut = client.compute(final, retries=retries)
        if progress:  # Dask's text bar writes to stdout: keep stdout for the report (JSON, HTML)
            import contextlib
            import sys

            from distributed import progress as _progress

            with contextlib.redirect_stdout(sys.stderr):
                _progress(fut)
            print(file=sys.stderr)
        return fut.result()
    except PartitionFailed:
        raise
    except ValidationFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - a worker lost too often, a read error inside Dask, ...
        name = type(exc).__name__
        hint = ("a worker died repeatedly on the same task (out of memory?)" if name == "KilledWorker"
                else "see the Dask error above")
        raise PartitionFailed(f"the Dask computation failed ({name}: {exc}); nothing was audited", hint=hint) from exc


def local_cluster(*, n_workers: int = 2, threads_per_worker: int = 1, memory_limit: str | None = "auto"):
    """A ``LocalCluster`` of worker processes listening on 127.0.0.1 only, without a dashboard."""
    import warnings

    from distributed import LocalCluster

    with warnings.catch_warnings():  # the dashboard-less HTTP endpoint moves off a busy port 8787
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                            host="127.0.0.1", dashboard_address=None, memory_limit=memory_limit)


@contextmanager
def dask_client(client: Any = None, scheduler: str | None = None, *, n_workers: int = 2,
                threads_per_worker: int = 1, memory_limit: str | None = "auto") -> Iterator[Any]:
    """The client to use: ``client`` as given; a new one for ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``); or a local cluster (``n_workers`` processes on 127.0.0.1, no
    dashboard), closed on exit."""
    if client is not None:
        yield client
        return
    from distributed import Client

    if scheduler:
        c = Client(scheduler)
        try:
            yield c
        finally:
            c.close()
        return
    cluster = local_cluster(n_workers=n_workers, threads_per_worker=threads_per_worker, memory_limit=memory_limit)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def selection_audit_dask(
    source: Any,
    *,
    stages: Any,
    code_col: str = "ethnic_code",
    strata_col: str | None = None,
    sex_col: str | None = None,
    client: Any = None,
    scheduler: str | None = None,
    regime: Any = "ugesp",
    grouping: Any = "detailed",
    reference: str | None = None,
    config: Any = None,
    retries: int = 2,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    progress: bool = False,
):
    """:func:`vbr.fairness.selection_audit` on a Dask DataFrame or a glob of Parquet/CSV files.

    Rows are counted on Dask (``client``, or a new client for ``scheduler``, or a local cluster of
    two worker processes on 127.0.0.1) and the counts are audited by
    :func:`vbr.fairness.audit.audit_counts`, the same code as the in-memory path, so the figures,
    verdicts and findings are identical. The fairlearn cross-check needs rows on the client and is
    not run (the result says so). Score audits need row-level scores and are not offered here.
    """
    from vbr.fairness.audit import audit_counts
    from vbr.fairness.config import AuditConfig
    from vbr.fairness.groupings import resolve_grouping

    cfg = config if isinstance(config, AuditConfig) else AuditConfig(**(config or {}))
    grp = resolve_grouping(grouping)
    with dask_client(client, scheduler) as c:
        counts = dask_counts(source, stages=stages, code_col=code_col, strata_col=strata_col, sex_col=sex_col,
                             known_codes=tuple(grp.code_to_group), client=c, retries=retries,
                             partition_rows=partition_rows, progress=progress)
    result = audit_counts(counts, regime=regime, grouping=grp, reference=reference, config=cfg)
    result.fairlearn = {"checked": False, "max_difference": None,
                        "note": "fairlearn cross-check not run: rows were counted on Dask workers, "
                                "none are held on the client"}
    return result


__all__ = ["dask_counts", "selection_audit_dask", "dask_client", "local_cluster", "expand_source", "plan_files",
           "PartitionFailed", "DEFAULT_PARTITION_ROWS"]
