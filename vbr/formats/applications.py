"""Storing parsed application files: validated whole, then written in resumable batches.

Every applications importer (NHS Jobs-style CSV, JSON lines, a plugin's) parses a file into
:class:`ParsedApplication` records and :class:`~vbr.formats.csvio.Rejection` s; this module does
the rest the same way for all of them.

**Semantics: resumable by natural key (the application id).**

1. The whole file is read and checked before anything is written. A rejected row (malformed,
   or an id already stored with *different* answers or in another campaign) fails the import:
   nothing is written, the rows are listed in ``<file>.rejected.csv`` and in the error
   (file, row, column, what to do). ``skip_rejected=True`` imports the other rows instead.
2. Rows are written in batches of ``batch_size`` through :meth:`vbr.Engine.submit`: each batch
   (applications with all their answers, redacted) is one transaction, so a crash or ``kill -9``
   leaves whole applications, never an application without its answers.
3. Running the same import again skips every application already stored with the same answers
   and writes the rest, so an interrupted import is finished by running it again. Importing a
   file twice is harmless.

Names from the file are passed to redaction and then dropped: they are not stored anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, text

from vbr.errors import ValidationFailed
from vbr.formats.csvio import Rejection, raise_rejected, write_rejected
from vbr.models import Application, Response

Progress = Callable[[int, int], None]


@dataclass
class ParsedApplication:
    row: int
    application: Application
    answers: list[Response]
    names: tuple[str, ...] = ()
    raw: Sequence[str] | str | None = None


@dataclass
class ParsedFile:
    """What an importer read: good records, rejected rows, warnings, and the header (for CSV)."""

    records: list[ParsedApplication]
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    header: list[str] | None = None


@dataclass
class ApplicationsImportReport:
    source: str
    rows: int
    imported: int
    already_stored: int
    rejected: int
    batches: int
    rejected_file: str | None
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _existing(engine, ids: Sequence[str]) -> dict[str, str]:
    """application id -> campaign id, for the ids already stored."""
    found: dict[str, str] = {}
    q = text("SELECT id, campaign_id FROM applications WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            found.update({a: c for a, c in conn.execute(q, {"ids": list(ids[i:i + 500])})})
    return found


def _stored_answers(engine, campaign_id: str) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    with engine.connect() as conn:
        for a, q, o, s in conn.execute(text(
                "SELECT r.application_id, r.question_id, r.original_text, r.structured FROM responses r"
                " JOIN applications a ON a.id = r.application_id WHERE a.campaign_id = :c"), {"c": campaign_id}):
            out.setdefault(a, {})[q] = o if o is not None else s
    return out


def _answer_key(r: Response) -> str | None:
    if r.text is not None:
        return r.text
    import json

    return json.dumps({"ranking": r.ranking, "choices": list(r.choices) if r.choices else None, "rating": r.rating})


def store_parsed(engine, parsed: ParsedFile, path: str | Path, campaign_id: str, *, actor: str,
                 skip_rejected: bool = False, batch_size: int = 1000, progress: Progress | None = None,
                 what: str = "application") -> ApplicationsImportReport:
    """Check natural keys, then write ``parsed`` in batches (see the module docstring)."""
    store = engine.store
    rejections = list(parsed.rejections)
    records = parsed.records
    existing = _existing(store.engine, [r.application.id for r in records])
    stored = _stored_answers(store.engine, campaign_id) if existing else {}
    todo: list[ParsedApplication] = []
    skipped = 0
    for rec in records:
        app_id = rec.application.id
        if app_id not in existing:
            todo.append(rec)
            continue
        if existing[app_id] != campaign_id:
            rejections.append(Rejection(rec.row, f"application id '{app_id}' is already stored in campaign "
                                        f"'{existing[app_id]}'", column="application id",
                                        hint="application ids must be unique across campaigns; check the file "
                                             "is for this vacancy", raw=rec.raw))
            continue
        mine = {r.question_id: _answer_key(r) for r in rec.answers}
        if stored.get(app_id, {}) != mine:
            rejections.append(Rejection(rec.row, f"application '{app_id}' is already stored with different answers",
                                        column="application id",
                                        hint="an application is imported once; correct answers by overriding "
                                             "scores, or remove the row", raw=rec.raw))
            continue
        skipped += 1
    written = write_rejected(path, parsed.header, rejections)
    if rejections and not skip_rejected:
        raise_rejected(path, rejections, what=what, written=written)
    total = len(records) - (len(rejections) - len(parsed.rejections))
    done = skipped
    if progress:
        progress(done, total)
    batches = 0
    for i in range(0, len(todo), batch_size):
        chunk = todo[i:i + batch_size]
        engine.submit(campaign_id, [r.application for r in chunk], [a for r in chunk for a in r.answers],
                      names={r.application.id: r.names for r in chunk if r.names})
        batches += 1
        done += len(chunk)
        if progress:
            progress(done, total)
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    store.log.append(actor, "applications.imported", f"campaign:{campaign_id}",
                     payload={"file": Path(path).name, "sha256": sha, "imported": len(todo),
                              "already_stored": skipped, "rejected": len(rejections)})
    return ApplicationsImportReport(str(path), len(records) + len(parsed.rejections), len(todo), skipped,
                                    len(rejections), batches, str(written) if written else None,
                                    list(parsed.warnings))


def campaign_questions(engine, campaign_id: str):
    """The campaign and its questions by id (raises NotFound for an unknown campaign)."""
    campaign, rubric = engine.campaign_rubric(campaign_id)
    qids = set(campaign["question_ids"])
    return campaign, {q.id: q for q in rubric.questions if q.id in qids}


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise ValidationFailed("the batch size must be at least 1", field="batch_size")
    return batch_size
