"""CSV plumbing shared by the file adapters: strict UTF-8 reading, rejected-row files, safe cells.

* Files must be UTF-8 (Excel's "CSV UTF-8" byte-order mark is fine). Anything else is refused
  with the row of the first byte that is not UTF-8, never guessed: a wrong guess would store
  mangled names in redaction and mangled answers in scoring.
* Rows are numbered as a spreadsheet shows them: the header is row 1.
* Rejected rows go to ``<file>.rejected.csv``: ``row``, ``column``, ``reason``, ``what_to_do``,
  then the row exactly as it was (not altered, so a fixed row imports as the candidate wrote it;
  the extra columns are dropped by the importer with a warning).
* Cells vbr *exports* are protected against formula injection: a value starting
  with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe (OWASP).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from vbr.errors import ValidationFailed, VbrError

MAX_PROBLEMS_SHOWN = 20
csv.field_size_limit(10 * 1024 * 1024)


@dataclass(frozen=True)
class Rejection:
    """One row that was not imported, and why."""

    row: int
    reason: str
    column: str | None = None
    hint: str = "correct the row and import the file again"
    raw: Sequence[str] | str | None = None

    def as_error(self, file: str) -> VbrError:
        return VbrError(self.reason, file=file, row=self.row, field=self.column, hint=self.hint)


def norm(name: str) -> str:
    """Header names compare trimmed, case-insensitively, with runs of spaces collapsed."""
    return " ".join(name.replace("\ufeff", "").split()).lower()


def read_text(path: str | Path, *, what: str) -> str:
    """The file's text, or a :class:`ValidationFailed` naming the file and what to do."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(f"cannot read the {what} file: {exc.strerror or exc}", file=str(path)) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = raw.count(b"\n", 0, exc.start) + 1
        raise ValidationFailed(
            f"the {what} file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at row {row} is not UTF-8; "
            "it looks like another encoding such as Windows-1252); nothing was imported",
            file=str(path), row=row,
            hint="in Excel use Save As > 'CSV UTF-8 (Comma delimited)', or convert it with "
                 "`iconv -f WINDOWS-1252 -t UTF-8`, and import it again") from exc


def read_rows(path: str | Path, *, what: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and an iterator of ``(row number, fields)`` for the non-blank rows."""
    content = read_text(path, what=what)
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)  # an unclosed quote is an error
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValidationFailed(f"the header row is not valid CSV: {exc}", file=str(path), row=1) from exc
    if not header or not any(h.strip() for h in header):
        raise ValidationFailed(f"the {what} file is empty: it needs a header row", file=str(path), row=1,
                               hint="export the file again with its column names in the first row")
    names = [norm(h) for h in header]
    dup = sorted({h for h in names if h and names.count(h) > 1})
    if dup:
        raise ValidationFailed(f"the header names column(s) {dup} more than once", file=str(path), row=1,
                               hint="rename or remove the repeated column")

    def rows() -> Iterator[tuple[int, list[str]]]:
        rowno = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValidationFailed(f"the file is not valid CSV after row {rowno}: {exc}", file=str(path),
                                       row=rowno + 1,
                                       hint="check that row for an unclosed or stray quote; nothing was imported") from exc
            rowno += 1
            if not fields or all(not f.strip() for f in fields):
                continue
            yield rowno, fields

    return header, rows()


def rejected_path(path: str | Path) -> Path:
    return Path(f"{path}.rejected.csv")


def write_rejected(path: str | Path, header: Sequence[str] | None, rejections: Sequence[Rejection]) -> Path | None:
    """Write ``<file>.rejected.csv`` (or remove a stale one when nothing was rejected)."""
    out = rejected_path(path)
    if not rejections:
        if out.exists():
            out.unlink()
        return None
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "column", "reason", "what_to_do", *(header or ["line"])])
        for r in sorted(rejections, key=lambda r: r.row):
            raw = [r.raw] if isinstance(r.raw, str) else list(r.raw or [])
            w.writerow([r.row, r.column or "", r.reason, r.hint, *raw])
    os.replace(tmp, out)
    return out


def raise_rejected(path: str | Path, rejections: Sequence[Rejection], *, what: str, written: Path | None) -> None:
    """One error listing the first problems (file, row, column, what to do); nothing was stored."""
    problems = [r.as_error(str(path)) for r in sorted(rejections, key=lambda r: r.row)[:MAX_PROBLEMS_SHOWN]]
    more = f" (first {MAX_PROBLEMS_SHOWN} shown)" if len(rejections) > MAX_PROBLEMS_SHOWN else ""
    where = f"; every rejected row is in {written} with its reason" if written else ""
    raise ValidationFailed(
        f"{len(rejections)} {what} row(s) rejected, nothing was imported{more}{where}", file=str(path),
        hint="fix those rows and import the file again (or pass --skip-rejected to import the others)",
        problems=problems)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA) else s


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, safe: bool = True) -> int:
    """Write a UTF-8 CSV atomically (a temporary file renamed into place); returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow([safe_cell(v) if safe else ("" if v is None else v) for v in row])
            n += 1
    os.replace(tmp, path)
    return n
