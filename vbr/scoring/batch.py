"""Batch scoring on Dask: re-score millions of (redacted) answers with one trained scorer.

The scorer is shipped to the workers once (``client.scatter(..., broadcast=True)``), each
partition is scored with ``map_partitions`` and written as one Parquet file of the output
directory, and a progress bar follows the partitions as they finish. The output is long:
one row per answer and value, with the scorer's id and version on every row, so a year of
scores from different models can sit in one table and always says which model produced it.

Two kinds of scorer:

* a :class:`~vbr.scoring.base.Scorer` (``id``, ``version``, ``score(rubric, question, text)``),
  such as the evidence scorer: needs the rubric, and a question per row (``question_col``) or
  one ``question`` for every row; one output row per value the question targets;
* a fitted estimator with ``predict`` (and ideally ``predict_with_confidence``), such as a
  :class:`~vbr.scoring.learned.LearnedScorer` loaded with :func:`vbr.scoring.model_io.load_model`:
  one output row per answer, labelled with ``value_id`` when given.

Scoring sees answer text only: this module never imports :mod:`vbr.fairness` and does not read
equality data. Texts should already be redacted (``redact=True`` runs the built-in redactors
first, on the workers).
"""

from __future__ import annotations

import glob as _glob
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from vbr.errors import ValidationFailed

OUTPUT_COLUMNS = ("answer_id", "question_id", "value_id", "level", "confidence", "n_evidence",
                  "scorer_id", "scorer_version")
_META = pd.DataFrame({
    "answer_id": pd.Series([], dtype=object), "question_id": pd.Series([], dtype=object),
    "value_id": pd.Series([], dtype=object), "level": pd.Series([], dtype="int64"),
    "confidence": pd.Series([], dtype="float64"), "n_evidence": pd.Series([], dtype="int64"),
    "scorer_id": pd.Series([], dtype=object), "scorer_version": pd.Series([], dtype=object),
})


@dataclass(frozen=True)
class ScoringJob:
    """Everything a worker needs besides the rows: shipped once to every worker."""

    scorer: Any
    scorer_id: str
    scorer_version: str
    rubric: Any = None
    questions: dict = field(default_factory=dict)  # question id -> Question
    question: Any = None  # used when there is no question column
    value_id: str | None = None  # label for an estimator's output
    id_col: str = "answer_id"
    text_col: str = "answer"
    question_col: str | None = None
    key_col: str | None = None
    redact: bool = False

    @property
    def kind(self) -> str:
        return "scorer" if hasattr(self.scorer, "score") and hasattr(self.scorer, "id") and \
            not hasattr(self.scorer, "predict") else "estimator"


@dataclass
class BatchReport:
    output: str
    rows_in: int
    rows_out: int
    partitions: int
    seconds: float
    scorer_id: str
    scorer_version: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def make_job(scorer: Any, *, rubric: Any = None, question: Any = None, value_id: str | None = None,
             scorer_id: str | None = None, scorer_version: str | None = None, id_col: str = "answer_id",
             text_col: str = "answer", question_col: str | None = None, key_col: str | None = None,
             redact: bool = False) -> ScoringJob:
    """Check the scorer and its context once, on the client, before anything is shipped."""
    is_estimator = hasattr(scorer, "predict")
    if not is_estimator and not hasattr(scorer, "score"):
        raise ValidationFailed(f"{type(scorer).__name__} is neither a scorer (score(rubric, question, text)) "
                               "nor a fitted estimator (predict(texts))", field="scorer")
    sid = scorer_id or getattr(scorer, "id", None) or type(scorer).__name__
    version = scorer_version or getattr(scorer, "version", None)
    if not version:
        raise ValidationFailed(f"scorer {sid!r} has no version", field="scorer_version",
                               hint="pass scorer_version= (for a saved model, e.g. its card's model_sha256[:12])")
    questions: dict = {}
    if not is_estimator:
        if rubric is None:
            raise ValidationFailed(f"scorer {sid!r} needs the rubric", field="rubric")
        questions = {q.id: q for q in getattr(rubric, "questions", ())}
        if isinstance(question, str):
            if question not in questions:
                raise ValidationFailed(f"no question {question!r} in rubric {rubric.id!r}", field="question",
                                       hint=f"questions: {', '.join(questions) or 'none'}")
            question = questions[question]
        if question is None and question_col is None:
            raise ValidationFailed("give question= (one question for every row) or question_col=", field="question")
    return ScoringJob(scorer=scorer, scorer_id=str(sid), scorer_version=str(version), rubric=rubric,
                      questions=questions, question=question, value_id=value_id, id_col=id_col,
                      text_col=text_col, question_col=question_col, key_col=key_col, redact=redact)


def _texts(values: Any) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v) for v in values]


def score_frame(df: pd.DataFrame, job: ScoringJob) -> pd.DataFrame:
    """Score one partition (or any pandas DataFrame) in this process: the long output table."""
    for col in [job.id_col, job.text_col] + [c for c in (job.question_col, job.key_col) if c]:
        if col not in df.columns:
            raise ValidationFailed(f"column {col!r} is missing (found: {', '.join(map(str, df.columns))})",
                                   field=col)
    ids = _texts(df[job.id_col])
    texts = _texts(df[job.text_col])
    if job.redact:
        from vbr.scoring.redaction import redact_answer

        texts = [redact_answer(t).text for t in texts]
    if len(df) == 0:
        return _META.copy()
    if job.kind == "estimator":
        X: Any = texts
        if job.key_col:
            X = list(zip(texts, _texts(df[job.key_col])))
        if hasattr(job.scorer, "predict_with_confidence"):
            levels, conf = job.scorer.predict_with_confidence(X)
        else:
            levels, conf = job.scorer.predict(X), np.full(len(texts), np.nan)
        qids = _texts(df[job.question_col]) if job.question_col else [None] * len(texts)
        return pd.DataFrame({
            "answer_id": pd.Series(ids, dtype=object), "question_id": pd.Series(qids, dtype=object),
            "value_id": pd.Series([job.value_id] * len(texts), dtype=object),
            "level": np.asarray(levels, dtype=np.int64), "confidence": np.asarray(conf, dtype=np.float64),
            "n_evidence": np.zeros(len(texts), dtype=np.int64),
            "scorer_id": job.scorer_id, "scorer_version": job.scorer_version,
        }, columns=list(OUTPUT_COLUMNS))
    qids = _texts(df[job.question_col]) if job.question_col else [job.question.id] * len(texts)
    rec: dict[str, list] = {c: [] for c in OUTPUT_COLUMNS[:6]}
    for row, (aid, qid, text) in enumerate(zip(ids, qids, texts)):
        q = job.questions.get(qid) if job.question_col else job.question
        if q is None:
            raise ValidationFailed(f"no question {qid!r} in rubric {job.rubric.id!r}", row=row,
                                   field=job.question_col)
        for vs in job.scorer.score(job.rubric, q, text):
            rec["answer_id"].append(aid)
            rec["question_id"].append(qid)
            rec["value_id"].append(vs.value_id)
            rec["level"].append(int(vs.level))
            rec["confidence"].append(float(vs.confidence))
            rec["n_evidence"].append(len(vs.evidence))
    out = pd.DataFrame({
        "answer_id": pd.Series(rec["answer_id"], dtype=object), "question_id": pd.Series(rec["question_id"], dtype=object),
        "value_id": pd.Series(rec["value_id"], dtype=object), "level": np.asarray(rec["level"], dtype=np.int64),
        "confidence": np.asarray(rec["confidence"], dtype=np.float64),
        "n_evidence": np.asarray(rec["n_evidence"], dtype=np.int64),
    })
    out["scorer_id"] = job.scorer_id
    out["scorer_version"] = job.scorer_version
    return out[list(OUTPUT_COLUMNS)]


_SUMMARY = pd.DataFrame({"partition": pd.Series([], dtype="int64"), "rows_in": pd.Series([], dtype="int64"),
                         "rows_out": pd.Series([], dtype="int64"), "file": pd.Series([], dtype=object)})


def _score_partition(df: pd.DataFrame, job: ScoringJob, output: str, partition_info: dict | None = None
                     ) -> pd.DataFrame:
    """Score one partition on a worker and write it as ``part-NNNNN.parquet``; a one-row summary."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = partition_info["number"] if partition_info else 0
    try:
        scored = score_frame(df, job)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{exc.message} [partition {number}]", row=exc.row, field=exc.field,
                               hint=exc.hint) from None
    path = os.path.join(output, f"part-{number:05d}.parquet")
    tmp = path + ".tmp"
    pq.write_table(pa.Table.from_pandas(scored, preserve_index=False), tmp)
    os.replace(tmp, path)  # a file in the output is always a whole partition
    return pd.DataFrame({"partition": [number], "rows_in": [len(df)], "rows_out": [len(scored)], "file": [path]})


def read_source(source: Any, columns: Sequence[str]):
    """A Dask DataFrame from a Dask DataFrame, or a glob/directory/list of Parquet or CSV files."""
    import dask.dataframe as dd

    if hasattr(source, "npartitions"):
        return source
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[str] = []
    for item in map(os.fspath, items):
        if os.path.isdir(item):
            found = sorted(_glob.glob(os.path.join(item, "*.parquet")) or _glob.glob(os.path.join(item, "*.csv")))
        else:
            found = sorted(_glob.glob(item))
        if not found:
            raise ValidationFailed(f"no files match {item!r}", file=item)
        files += found
    if all(f.endswith((".parquet", ".pq")) for f in files):
        return dd.read_parquet(files, columns=list(columns))
    if all(f.endswith((".csv", ".csv.gz")) for f in files):
        return dd.read_csv(files, usecols=list(columns), dtype=str, keep_default_na=False, na_values=[""],
                           blocksize="64MB")
    raise ValidationFailed("give Parquet files or CSV files, not a mix", file=files[0])


def score_batch(
    source: Any,
    output: str | Path,
    scorer: Any,
    *,
    rubric: Any = None,
    question: Any = None,
    value_id: str | None = None,
    scorer_id: str | None = None,
    scorer_version: str | None = None,
    id_col: str = "answer_id",
    text_col: str = "answer",
    question_col: str | None = None,
    key_col: str | None = None,
    redact: bool = False,
    client: Any = None,
    scheduler: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    retries: int = 2,
) -> BatchReport:
    """Score every row of ``source`` on Dask and write ``output/part-NNNNN.parquet``.

    ``client`` (a ``distributed.Client``) or ``scheduler`` (an address) says where; with neither
    a local cluster of two worker processes on 127.0.0.1 is started and closed. The scorer is
    scattered to every worker once. Output columns: :data:`OUTPUT_COLUMNS`.
    """
    job = make_job(scorer, rubric=rubric, question=question, value_id=value_id, scorer_id=scorer_id,
                   scorer_version=scorer_version, id_col=id_col, text_col=text_col, question_col=question_col,
                   key_col=key_col, redact=redact)
    out = Path(output)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ValidationFailed(f"{out} exists and is not empty", file=str(out), hint="choose a new folder or overwrite")
        for f in out.glob("part-*.parquet"):
            f.unlink()
    out.mkdir(parents=True, exist_ok=True)
    cols = [c for c in (id_col, text_col, question_col, key_col) if c]
    ddf = read_source(source, cols)
    missing = [c for c in cols if c not in ddf.columns]
    if missing:
        raise ValidationFailed(f"column {missing[0]!r} is missing (found: {', '.join(map(str, ddf.columns))})",
                               field=missing[0])
    with _client(client, scheduler) as c:
        t0 = time.perf_counter()
        shipped = c.scatter(job, broadcast=True, hash=False)  # the model goes to each worker once
        summary = ddf[cols].map_partitions(_score_partition, shipped, str(out), meta=_SUMMARY)
        futures = c.compute(summary.to_delayed(), retries=retries)
        _follow(futures, progress)
        done = pd.concat([f.result() for f in futures], ignore_index=True)
        if sorted(done["partition"]) != list(range(len(futures))):
            raise ValidationFailed("not every partition was scored", hint="a partial output is never reported")
        rows_in, rows_out = int(done["rows_in"].sum()), int(done["rows_out"].sum())
        seconds = time.perf_counter() - t0
    return BatchReport(output=str(out), rows_in=int(rows_in), rows_out=int(rows_out), partitions=len(futures),
                       seconds=seconds, scorer_id=job.scorer_id, scorer_version=job.scorer_version)


def _follow(futures: list, progress: bool) -> None:
    """Wait for the partitions, with a progress bar on stderr; the first failure is raised."""
    from distributed import as_completed

    if not progress:
        for f in as_completed(futures):
            f.result()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("partitions"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("score", total=len(futures))
        for f in as_completed(futures):
            f.result()
            bar.advance(task)


class _client:
    """Context manager: the given client, a client for ``scheduler``, or a local cluster."""

    def __init__(self, client: Any, scheduler: str | None):
        self.given, self.scheduler = client, scheduler
        self.cluster = self.client = None

    def __enter__(self):
        if self.given is not None:
            return self.given
        from distributed import Client, LocalCluster

        if self.scheduler:
            self.client = Client(self.scheduler)
        else:
            import warnings

            with warnings.catch_warnings():  # the dashboard-less HTTP endpoint moves off a busy port 8787
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


__all__ = ["score_batch", "score_frame", "make_job", "ScoringJob", "BatchReport", "OUTPUT_COLUMNS", "read_source"]
