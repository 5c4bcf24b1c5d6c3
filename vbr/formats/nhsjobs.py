"""NHS Jobs-style applications CSV: one row per application, one column per question.

Default column mapping (header names match trimmed and case-insensitively; override any of
them with a mapping file, YAML or JSON, passed as ``--mapping``)::

    application_id: Application ID          # required; the natural key of the import
    vacancy_reference: Vacancy Reference    # optional; every row must name the same vacancy
                                            # (or the one given with --vacancy)
    reference: null                         # optional column stored as the application's reference
    disability_confident: Disability Confident   # optional: yes/no, y/n, true/false, 1/0, blank = no
    submitted_at: Date Submitted            # optional: 2025-03-01, 2025-03-01T09:30, 01/03/2025 09:30
    names: [Title, First Name, Forename, Middle Name, Middle Names, Last Name, Surname,
            Preferred Name, Known As]       # used ONLY to redact answers, then dropped
    questions: {}                           # column header -> question id
    auto_questions: true                    # also take a column named like a question id or
                                            # its text (whitespace and case ignored)

Columns that are neither mapped nor questions are **dropped** and named in the report's
warnings (data minimisation: email, phone, address never reach vbr). Columns that look like
equality-monitoring data (ethnicity, religion, sex, date of birth...) are dropped too, with a
warning to import them through ``vbr import equality``: they must never sit beside answers.

An empty answer cell means "not answered" (no answer is stored). Structured answers (SJT
rankings, choices, ratings) are not read from CSV: use JSON lines.

Import semantics: resumable by application id (see :mod:`vbr.formats.applications`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vbr.errors import ValidationFailed
from vbr.formats.applications import ParsedApplication, ParsedFile
from vbr.formats.csvio import Rejection, norm, read_rows
from vbr.models import MAX_ANSWER_CHARS, Application, Question, Response

EQUALITY_LIKE = re.compile(
    r"ethnic|race|religio|belief|sexual|orientation|gender|^sex$|disabilit(?!y confident)|pregnan|marital|"
    r"civil partner|date of birth|^dob$|^age$|nationality", re.I)
_TRUE = {"yes", "y", "true", "1", "t"}
_FALSE = {"no", "n", "false", "0", "f", ""}


class ColumnMapping(BaseModel):
    """Which CSV column holds what. Every field has an NHS Jobs-style default."""

    model_config = ConfigDict(extra="forbid")

    application_id: str = "Application ID"
    vacancy_reference: str | None = "Vacancy Reference"
    reference: str | None = None
    disability_confident: str | None = "Disability Confident"
    submitted_at: str | None = "Date Submitted"
    names: list[str] = Field(default_factory=lambda: [
        "Title", "First Name", "Forename", "Middle Name", "Middle Names", "Last Name", "Surname",
        "Preferred Name", "Known As"])
    questions: dict[str, str] = Field(default_factory=dict)
    auto_questions: bool = True

    @classmethod
    def load(cls, path: str | Path | None) -> "ColumnMapping":
        if path is None:
            return cls()
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
            data = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise ValidationFailed(f"cannot read the column mapping: {exc}", file=str(path),
                                   hint="a YAML or JSON mapping; see `vbr import applications --help`") from exc
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValidationFailed(f"column mapping: {err['msg']}", file=str(path),
                                   field=".".join(str(x) for x in err["loc"]),
                                   hint="known keys: " + ", ".join(cls.model_fields)) from exc


def _parse_date(value: str) -> dt.datetime | None:
    v = value.strip()
    if not v:
        return None
    try:
        d = dt.datetime.fromisoformat(v)
    except ValueError:
        for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
            try:
                d = dt.datetime.strptime(v, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(v)
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


class NhsJobsCsvImporter:
    """Reads an NHS Jobs-style applications CSV into validated records (no database access)."""

    id = "nhs-jobs-csv"
    kind = "applications"
    title = "NHS Jobs-style applications and answers (CSV, one row per application)"
    suffixes = (".csv",)

    def read(self, path: str | Path, *, campaign_id: str, questions: Mapping[str, Question],
             mapping: ColumnMapping | str | Path | None = None, vacancy: str | None = None,
             progress=None) -> ParsedFile:
        m = mapping if isinstance(mapping, ColumnMapping) else ColumnMapping.load(mapping)
        fname = str(path)
        header, rows = read_rows(path, what="applications")
        names = [norm(h) for h in header]
        index = {n: i for i, n in enumerate(names) if n}

        def col(name: str | None, *, required: bool = False, key: str = "") -> int | None:
            if name is None:
                return None
            if norm(name) in index:
                return index[norm(name)]
            if required:
                raise ValidationFailed(
                    f"no column '{name}' in the header (found: {', '.join(h.strip() for h in header)})",
                    file=fname, row=1, field=name,
                    hint=f"rename the column, or map it in a --mapping file ({key}: <your column name>)")
            return None

        id_i = col(m.application_id, required=True, key="application_id")
        vac_i = col(m.vacancy_reference)
        if vacancy and vac_i is None:
            raise ValidationFailed(f"--vacancy {vacancy} was given but the file has no vacancy column "
                                   f"('{m.vacancy_reference}')", file=fname, row=1, field=m.vacancy_reference,
                                   hint="map the vacancy column (vacancy_reference: <column>) or drop --vacancy")
        ref_i = col(m.reference, required=m.reference is not None, key="reference")
        dc_i = col(m.disability_confident)
        sub_i = col(m.submitted_at)
        name_is = [i for i in (col(n) for n in m.names) if i is not None]
        # questions: explicit mapping first (every mapped column must exist), then by id or text
        q_cols: dict[int, str] = {}
        for header_name, qid in m.questions.items():
            if qid not in questions:
                raise ValidationFailed(f"the mapping sends column '{header_name}' to question '{qid}', which is "
                                       f"not in campaign '{campaign_id}'", field=header_name,
                                       hint=f"campaign questions: {', '.join(sorted(questions))}")
            i = col(header_name, required=True, key=f"questions: {{'<column>': {qid}}}")
            q_cols[i] = qid
        if m.auto_questions:
            by_text = {norm(q.id): q.id for q in questions.values()}
            by_text.update({norm(q.text): q.id for q in questions.values()})
            for i, n in enumerate(names):
                if i not in q_cols and n in by_text:
                    q_cols[i] = by_text[n]
        dup_q = sorted({q for q in q_cols.values() if list(q_cols.values()).count(q) > 1})
        if dup_q:
            raise ValidationFailed(f"more than one column holds question(s) {dup_q}", file=fname, row=1,
                                   hint="map each question to one column in the --mapping file")
        if not q_cols:
            raise ValidationFailed(
                f"no column holds an answer to a question of campaign '{campaign_id}'", file=fname, row=1,
                hint="name answer columns by question id or text, or map them in a --mapping file "
                     f"(questions: {{'<column>': <question id>}}); questions: {', '.join(sorted(questions))}")
        used = {id_i, vac_i, ref_i, dc_i, sub_i, *name_is, *q_cols}
        warnings: list[str] = []
        dropped = [header[i].strip() for i in range(len(header)) if i not in used and header[i].strip()]
        equality_like = [h for h in dropped if EQUALITY_LIKE.search(h)]
        if equality_like:
            warnings.append(f"column(s) {equality_like} look like equality-monitoring data and were dropped; "
                            "import that data with `vbr import equality` (its own store, read only by the audit)")
        other = [h for h in dropped if h not in equality_like]
        if other:
            warnings.append(f"column(s) {other} are not used by vbr and were dropped")

        records: list[ParsedApplication] = []
        rejections: list[Rejection] = []
        seen: dict[str, int] = {}
        width = len(header)
        wanted_vacancy = vacancy.strip() if vacancy else None
        id_name = header[id_i].strip()
        for rowno, fields in rows:
            if len(fields) != width:
                rejections.append(Rejection(rowno, f"{len(fields)} fields, the header has {width}",
                                            hint="check for a stray comma or an unquoted value", raw=fields))
                continue
            nul = next((i for i, f in enumerate(fields) if "\x00" in f), None)
            if nul is not None:
                rejections.append(Rejection(rowno, "the cell contains a NUL character", column=header[nul].strip(),
                                            hint="the file may be damaged or not text; export it again as CSV UTF-8",
                                            raw=[f.replace("\x00", "") for f in fields]))
                continue
            app_id = fields[id_i].strip()
            if not app_id:
                rejections.append(Rejection(rowno, "no application id", column=id_name,
                                            hint="every row needs its application id", raw=fields))
                continue
            if app_id in seen:
                rejections.append(Rejection(rowno, f"application id '{app_id}' already appears in row {seen[app_id]}",
                                            column=id_name, hint="keep one row per application", raw=fields))
                continue
            seen[app_id] = rowno
            if vac_i is not None:
                vac = fields[vac_i].strip()
                if wanted_vacancy is None and vac:
                    wanted_vacancy = vac
                if vac and vac != wanted_vacancy:
                    rejections.append(Rejection(
                        rowno, f"vacancy '{vac}' is not the file's vacancy '{wanted_vacancy}'",
                        column=header[vac_i].strip(),
                        hint="import each vacancy into its own campaign (split the file, or pass --vacancy)",
                        raw=fields))
                    continue
            try:
                dc_raw = fields[dc_i].strip().lower() if dc_i is not None else ""
                if dc_raw not in _TRUE | _FALSE:
                    raise _RowError(header[dc_i].strip(), f"'{fields[dc_i].strip()}' is not yes or no",
                                    "write yes, no or leave it blank")
                try:
                    submitted = _parse_date(fields[sub_i]) if sub_i is not None else None
                except ValueError:
                    raise _RowError(header[sub_i].strip(), f"'{fields[sub_i].strip()}' is not a date",
                                    "write 2025-03-01, 2025-03-01T09:30 or 01/03/2025 09:30") from None
                app = Application(id=app_id, campaign_id=campaign_id, disability_confident=dc_raw in _TRUE,
                                  reference=(fields[ref_i].strip() or None) if ref_i is not None else None,
                                  submitted_at=submitted)
                answers = []
                for i, qid in q_cols.items():
                    answer = fields[i].strip()
                    if not answer:
                        continue
                    if len(answer) > MAX_ANSWER_CHARS:
                        raise _RowError(header[i].strip(), f"the answer has {len(answer)} characters, more than "
                                        f"{MAX_ANSWER_CHARS}", "shorten the answer or check the column is right")
                    answers.append(Response(application_id=app_id, question_id=qid, text=answer))
            except _RowError as exc:
                rejections.append(Rejection(rowno, exc.reason, column=exc.column, hint=exc.hint, raw=fields))
                continue
            except ValidationError as exc:
                err = exc.errors()[0]
                rejections.append(Rejection(rowno, err["msg"], column=id_name if err["loc"] == ("id",) else None,
                                            raw=fields))
                continue
            names_ = tuple(fields[i].strip() for i in name_is if fields[i].strip())
            records.append(ParsedApplication(rowno, app, answers, names_, fields))
        return ParsedFile(records, rejections, warnings, header)


class _RowError(Exception):
    def __init__(self, column: str, reason: str, hint: str) -> None:
        self.column, self.reason, self.hint = column, reason, hint
        super().__init__(reason)


def mapping_example() -> dict[str, Any]:
    return ColumnMapping().model_dump()
