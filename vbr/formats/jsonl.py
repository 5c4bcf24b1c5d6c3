"""JSON lines: applications in, scores with evidence out.

**Import** (one application per line; blank lines ignored; UTF-8)::

    {"application_id": "A-1001", "vacancy_reference": "C9-123", "reference": null,
     "disability_confident": false, "submitted_at": "2025-03-01T09:30:00Z",
     "names": ["Mary", "Okafor"],                      # redaction only, then dropped
     "answers": {"6cs-care-1": "I sat with ...",
                 "6cs-sjt-rank-speaking-up": {"ranking": {"a": 1, "b": 2, ...}},
                 "6cs-rating-distress-at-night": {"rating": 3}}}

Unknown keys are rejected (a stray ``ethnicity`` must never travel with answers: equality data
has its own import). Semantics as for every applications import: checked whole, written in
resumable batches keyed by application id (:mod:`vbr.formats.applications`).

**Export**: one current score per line with its evidence, source (scorer or override), who and
why, as :func:`vbr.formats.scores.score_rows` gives them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vbr.formats.applications import ParsedApplication, ParsedFile
from vbr.formats.csvio import Rejection, read_text
from vbr.models import Application, Question, Response


class _Structured(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    ranking: dict[str, int | None] | None = None
    choices: list[str] | None = None
    rating: int | None = None


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    application_id: str = Field(min_length=1, max_length=120)
    vacancy_reference: str | None = None
    reference: str | None = None
    disability_confident: bool = False
    submitted_at: str | None = None
    names: list[str] = Field(default_factory=list)
    answers: dict[str, str | _Structured] = Field(default_factory=dict)


class JsonLinesImporter:
    id = "jsonl"
    kind = "applications"
    title = "Applications and answers as JSON lines (one application per line)"
    suffixes = (".jsonl", ".ndjson")

    def read(self, path: str | Path, *, campaign_id: str, questions: Mapping[str, Question],
             mapping: Any = None, vacancy: str | None = None, progress=None) -> ParsedFile:
        content = read_text(path, what="JSON lines")
        records: list[ParsedApplication] = []
        rejections: list[Rejection] = []
        seen: dict[str, int] = {}
        for lineno, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            if "\x00" in line or "\\u0000" in line:
                rejections.append(Rejection(lineno, "the line contains a NUL character",
                                            hint="the file may be damaged; export it again", raw=line.replace("\x00", "")))
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                rejections.append(Rejection(lineno, f"not valid JSON: {exc.msg} at character {exc.colno}",
                                            hint="each line must be one complete JSON object", raw=line))
                continue
            try:
                rec = _Line.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(x) for x in err["loc"])
                hint = ("equality data is imported separately with `vbr import equality`"
                        if err["type"] == "extra_forbidden" else "correct the value and import the file again")
                rejections.append(Rejection(lineno, f"{err['msg']}", column=loc or None, hint=hint, raw=line))
                continue
            if rec.application_id in seen:
                rejections.append(Rejection(lineno, f"application id '{rec.application_id}' already appears on line "
                                            f"{seen[rec.application_id]}", column="application_id",
                                            hint="keep one line per application", raw=line))
                continue
            seen[rec.application_id] = lineno
            if vacancy and rec.vacancy_reference and rec.vacancy_reference != vacancy:
                rejections.append(Rejection(lineno, f"vacancy '{rec.vacancy_reference}' is not '{vacancy}'",
                                            column="vacancy_reference",
                                            hint="import each vacancy into its own campaign", raw=line))
                continue
            try:
                unknown = sorted(set(rec.answers) - set(questions))
                if unknown:
                    rejections.append(Rejection(lineno, f"question(s) {unknown} are not in campaign '{campaign_id}'",
                                                column="answers", hint=f"questions: {', '.join(sorted(questions))}",
                                                raw=line))
                    continue
                answers = []
                for qid, ans in rec.answers.items():
                    if isinstance(ans, str):
                        if ans.strip():
                            answers.append(Response(application_id=rec.application_id, question_id=qid, text=ans))
                        continue
                    answers.append(Response(application_id=rec.application_id, question_id=qid, text=ans.text,
                                            ranking=ans.ranking, rating=ans.rating,
                                            choices=tuple(ans.choices) if ans.choices is not None else None))
                app = Application(id=rec.application_id, campaign_id=campaign_id, reference=rec.reference,
                                  disability_confident=rec.disability_confident, submitted_at=rec.submitted_at)
            except ValidationError as exc:
                err = exc.errors()[0]
                rejections.append(Rejection(lineno, err["msg"], column=".".join(str(x) for x in err["loc"]) or None,
                                            raw=line))
                continue
            records.append(ParsedApplication(lineno, app, answers, tuple(n for n in rec.names if n.strip()), line))
        return ParsedFile(records, rejections, [], None)


class ScoresJsonLinesExporter:
    id = "scores-jsonl"
    kind = "scores"
    title = "Current scores with evidence, one JSON object per line"
    suffixes = (".jsonl", ".ndjson")

    def write(self, rows: Iterable[dict[str, Any]], path: str | Path) -> int:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        n = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str) + "\n")
                n += 1
        os.replace(tmp, path)
        return n
