"""Equality-monitoring CSV import: delegated to :class:`vbr.fairness.equality.EqualityStore`.

Semantics: **all-or-nothing per file** (and an upsert: a later declaration replaces an earlier
one; see :mod:`vbr.fairness.equality`). Columns ``application_id, ethnic_code[, sex, disability]``
(names configurable). Malformed rows fail the whole file and are written to
``<file>.rejected.csv`` with the reason. An ethnic code that is well-formed but not an NHS
category code (``X9``, say) is stored as given and reported: the audit counts it as unknown.
The records go to the equality database only: never beside applications or answers.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vbr.errors import ValidationFailed
from vbr.formats.csvio import Rejection, read_text, write_rejected


@dataclass
class EqualityImportReport:
    source: str
    rows: int
    inserted: int
    updated: int
    import_id: int
    unknown_codes: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _raw_rows(path: str | Path) -> tuple[list[str] | None, dict[int, list[str]]]:
    try:
        reader = csv.reader(io.StringIO(read_text(path, what="equality"), newline=""))
        header = next(reader, None)
        return header, {i: row for i, row in enumerate(reader, start=2)}
    except (ValidationFailed, csv.Error):
        return None, {}


class EqualityCsvImporter:
    id = "equality-csv"
    kind = "equality"
    title = "Equality-monitoring CSV (application_id, ethnic_code[, sex, disability]) into the equality store"
    suffixes = (".csv",)

    def read(self, path: str | Path, **columns):
        """Validated records and the optional columns present (raises on any malformed row)."""
        from vbr.fairness.equality import read_equality_csv

        return read_equality_csv(path, **columns)

    def import_file(self, equality_store, path: str | Path, *, actor: str, id_col: str = "application_id",
                    ethnic_col: str = "ethnic_code", sex_col: str = "sex",
                    disability_col: str = "disability") -> EqualityImportReport:
        from vbr.fairness.groupings import nhs_categories

        cols = dict(id_col=id_col, ethnic_col=ethnic_col, sex_col=sex_col, disability_col=disability_col)
        try:
            records, _ = self.read(path, **cols)
        except ValidationFailed as exc:
            if exc.problems:
                header, raw = _raw_rows(path)
                rejections = [Rejection(p.row or 0, p.message, column=p.field, hint=p.hint or "", raw=raw.get(p.row))
                              for p in exc.problems]
                written = write_rejected(path, header, rejections)
                if written:
                    exc.message += f"; the rejected rows are in {written}"
            raise
        write_rejected(path, None, [])
        report = equality_store.import_csv(path, actor=actor, **cols)
        names, unknown = nhs_categories()
        odd = Counter(r.ethnic_code for r in records if r.ethnic_code and r.ethnic_code not in names)
        warnings = []
        if odd:
            warnings.append(f"ethnic code(s) {dict(sorted(odd.items()))} are not NHS ethnic category codes: kept as "
                            "given, counted as unknown by the audit (check the source if they are typos)")
        blank = sum(1 for r in records if not r.ethnic_code)
        if blank:
            warnings.append(f"{blank} record(s) have no ethnic code: counted as unknown")
        return EqualityImportReport(report.source, report.rows, report.inserted, report.updated, report.import_id,
                                    dict(odd), warnings)


