"""Reading CSV files of marked answers, with errors that say where and what to do.

Any CSV with a header row, a text column and a whole-number score column will do: any score
scale (0-2, 1-5, 0-10 ...), UTF-8 with or without a byte-order mark, quoted answers that span
several lines, comma, semicolon or tab separated. Every problem is a
:class:`vbr.errors.ValidationFailed` naming the file, the row (and the line where that row
starts), the column, and what to do about it.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vbr.errors import NotFound, ValidationFailed
from vbr.models import MAX_ANSWER_CHARS

__all__ = ["ScoredAnswers", "read_scored_csv", "parse_level", "file_sha256"]


@dataclass(frozen=True)
class ScoredAnswers:
    """Answers and their marks, in file order; ``rows`` are 1-based data row numbers."""

    path: str
    text_col: str
    score_col: str
    texts: list[str]
    scores: np.ndarray
    second: np.ndarray | None  # floats: NaN where the second rater did not mark the answer
    rows: list[int]
    sha256: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def levels(self) -> tuple[int, int]:
        return int(self.scores.min()), int(self.scores.max())


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_level(raw: str) -> int | None:
    """A whole number from a cell ("3", " 3 ", "3.0"); None when it is not one."""
    s = raw.strip()
    if not s:
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        return None
    if math.isfinite(f) and f == int(f):
        return int(f)
    return None


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationFailed(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at byte {exc.start})",
            file=str(path), line=line,
            hint="save it as UTF-8, e.g. in Excel 'Save As' > 'CSV UTF-8 (Comma delimited)'",
        ) from None


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _column(path: Path, header: list[str], name: str, option: str) -> int:
    if name in header:
        if header.count(name) > 1:
            raise ValidationFailed(f"the header names column '{name}' more than once",
                                   file=str(path), line=1, field=name,
                                   hint="give every column a different name")
        return header.index(name)
    close = difflib.get_close_matches(name, header, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(repr(h) for h in header[:20]) + (" ..." if len(header) > 20 else "")
    raise ValidationFailed(
        f"no column named '{name}'", file=str(path), line=1, field=name,
        hint=f"{hint}the columns are {shown}; pass the right name with {option}",
    )


def read_scored_csv(path: str | Path, text_col: str, score_col: str,
                    second_rater_col: str | None = None, *,
                    min_rows: int = 1, second_rater_optional: bool = False) -> ScoredAnswers:
    """Read answers and integer marks from a CSV; raise ValidationFailed on the first problem.

    Each row needs a non-blank answer of at most 50,000 characters and a whole-number score.
    In ``second_rater_col`` a blank cell is an answer the second rater did not mark (NaN in
    ``second``: institutions usually double-mark a sample); anything else must be a whole
    number. With ``second_rater_optional`` a file without that column reads as marked once
    (``second`` None). The file must have at least ``min_rows`` rows.
    """
    p = Path(path)
    if not p.exists():
        raise NotFound("no such file", file=str(p), hint="check the path")
    if p.is_dir():
        raise ValidationFailed("this is a folder, not a CSV file", file=str(p))
    data = p.read_bytes()
    text = _decode(p, data)
    if not text.strip():
        raise ValidationFailed("the file is empty", file=str(p),
                               hint="it needs a header row and one row per marked answer")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line),
                        strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ValidationFailed(f"the header row cannot be read as CSV ({exc})", file=str(p),
                               line=1) from None
    header = [h.strip() for h in header]
    ti = _column(p, header, text_col, "--text-col")
    si = _column(p, header, score_col, "--score-col")
    ri = None
    if second_rater_col and not (second_rater_optional and second_rater_col not in header):
        ri = _column(p, header, second_rater_col, "--second-rater-col")

    texts: list[str] = []
    scores: list[int] = []
    second: list[float] = []
    rows: list[int] = []
    row_no = 0
    prev_line = reader.line_num
    while True:
        start_line = prev_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ValidationFailed(f"this row cannot be read as CSV ({exc})", file=str(p),
                                   row=row_no + 1, line=start_line,
                                   hint="check for an unclosed quote (\") in or before this row") from None
        prev_line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue  # a blank line is not an answer
        row_no += 1
        where = {"file": str(p), "row": row_no, "line": start_line}
        need = max(i for i in (ti, si, ri) if i is not None)
        if len(record) <= need:
            raise ValidationFailed(
                f"this row has {len(record)} field(s) but the header has {len(header)}",
                **where, hint="check for a missing separator or an unquoted line break")
        answer = record[ti]
        if not answer.strip():
            raise ValidationFailed("the answer is empty", **where, field=text_col,
                                   hint="remove the row or add the answer text")
        if len(answer) > MAX_ANSWER_CHARS:
            raise ValidationFailed(
                f"the answer is {len(answer):,} characters, over the {MAX_ANSWER_CHARS:,} limit",
                **where, field=text_col, hint="check that columns are not run together")
        for col, idx, out in ((score_col, si, scores), (second_rater_col, ri, second)):
            if idx is None:
                continue
            raw = record[idx]
            if out is second and not raw.strip():
                second.append(math.nan)  # not double-marked
                continue
            level = parse_level(raw)
            if level is None:
                what = "is missing" if not raw.strip() else f"'{raw.strip()[:20]}' is not a whole number"
                hint = ("every row needs a whole-number score such as 0, 1, 2 or 3" if out is scores else
                        "a second rater's score is a whole number such as 0, 1, 2 or 3, or blank for "
                        "an answer marked once")
                raise ValidationFailed(f"the score {what}", **where, field=col, hint=hint)
            out.append(level)
        texts.append(answer)
        rows.append(row_no)
    if row_no < min_rows:
        raise ValidationFailed(
            f"the file has {row_no} answer row(s); at least {min_rows} are needed",
            file=str(p), hint="add more marked answers")
    return ScoredAnswers(
        path=str(p), text_col=text_col, score_col=score_col, texts=texts,
        scores=np.asarray(scores, dtype=np.int64),
        second=np.asarray(second, dtype=float) if ri is not None else None,
        rows=rows, sha256=hashlib.sha256(data).hexdigest(),
    )
