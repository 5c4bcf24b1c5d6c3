"""Equality-monitoring data, kept apart from everything else.

UK GDPR Art. 9 and DPA 2018 Sch. 1 para 8 allow equality-monitoring data to be processed only
to monitor equality of opportunity. So it lives in its *own* database (by default a sibling
SQLite file of the main store: ``vbr.sqlite`` -> ``vbr-equality.sqlite``), with its own
migrations, and only the audit reads it, joined by application id through
:meth:`EqualityStore.records_for`. Nothing in :mod:`vbr.scoring` may import this module (a
test walks the scoring package to make sure).

Codes are kept as the candidate's record gives them (trimmed and upper-cased): ``Z`` (asked
and declined), ``99`` (not known), a blank, or a code that is not in the grouping in use are
all valid answers. They are stored as given and the audit reports them as unknown; they are
never guessed or dropped. Only rows that are *malformed* (no application id, a duplicated id,
the wrong number of fields, a code that cannot be a category code) are rejected.

Import semantics (upsert): an import writes a whole file or nothing. A record for an
application id already stored replaces the earlier ethnic code (a candidate may update their
declaration); ``sex`` and ``disability`` are replaced only when the file has that column, so a
file with just ``application_id,ethnic_code`` keeps previously imported sex and disability
values. Every import is recorded (file, its SHA-256, rows inserted and updated, who) in the
equality database, and every read by the audit is recorded there too (how many records, for
what purpose), so access to special-category data can be shown.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url

from vbr.errors import ValidationFailed, VbrError
from vbr.store.db import connect, migrate, now

EQUALITY_DB_ENV = "VBR_EQUALITY_DB"

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "equality records, imports, reads", [
        """CREATE TABLE equality_records (
            application_id TEXT PRIMARY KEY, ethnic_code TEXT NOT NULL DEFAULT '',
            sex TEXT, disability TEXT, source TEXT, import_id INTEGER,
            created_at {ts} NOT NULL, updated_at {ts} NOT NULL)""",
        """CREATE TABLE equality_imports (
            id {pk}, source TEXT NOT NULL, sha256 TEXT, rows INTEGER NOT NULL,
            inserted INTEGER NOT NULL, updated INTEGER NOT NULL, actor TEXT NOT NULL,
            imported_at {ts} NOT NULL)""",
        """CREATE TABLE equality_reads (
            id {pk}, purpose TEXT NOT NULL, requested INTEGER NOT NULL, found INTEGER NOT NULL,
            actor TEXT NOT NULL, read_at {ts} NOT NULL)""",
    ]),
]
APPEND_ONLY = ("equality_imports", "equality_reads")

# A category code is short and made of letters and digits (NHS: A-S, Z, 99; local extensions
# such as "A1" or "GF"). Anything else ("White British", "A;B") is malformed, not unknown.
_CODE = re.compile(r"^[A-Z0-9]{0,4}$")
_SHORT_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{0,40}$")
MAX_PROBLEMS = 20


class EqualityRecord(BaseModel):
    """One candidate's equality-monitoring answers, keyed by application id only."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    application_id: Annotated[str, Field(min_length=1, max_length=120)]
    ethnic_code: str = ""
    sex: str | None = None
    disability: str | None = None

    @field_validator("ethnic_code", mode="before")
    @classmethod
    def _code(cls, v: object) -> str:
        if v is None:
            return ""
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise ValueError("an ethnic category code must be text such as 'A', 'Z' or '99'")
        code = str(v).strip().upper()
        if not _CODE.match(code):
            raise ValueError(
                f"{str(v)!r} is not an ethnic category code: expected letters/digits, at most "
                "4 characters (NHS codes A-S, Z = not stated, 99 = not known; blank if missing)")
        return code

    @field_validator("sex", "disability", mode="before")
    @classmethod
    def _optional_text(cls, v: object) -> str | None:
        if v is None:
            return None
        s = str(v).strip()
        if not s:
            return None
        if not _SHORT_TEXT.match(s):
            raise ValueError(f"{s[:50]!r} is too long or contains control characters (max 40)")
        return s


@dataclass(frozen=True)
class ImportReport:
    """What one import did: rows read, new records, replaced records."""

    source: str
    rows: int
    inserted: int
    updated: int
    import_id: int

    @property
    def imported(self) -> int:
        """Records written (new plus replaced)."""
        return self.rows


def equality_url_for(main_url: str) -> str:
    """The equality database that goes with the main store at ``main_url``.

    ``VBR_EQUALITY_DB`` wins when set. A SQLite file gets a sibling file
    (``.../vbr.sqlite`` -> ``.../vbr-equality.sqlite``); a server database gets a database of
    the same name with ``_equality`` appended. An in-memory main store has no sibling: pass an
    equality URL explicitly.
    """
    env = os.environ.get(EQUALITY_DB_ENV)
    if env:
        return env if "://" in env else f"sqlite:///{Path(env).expanduser().resolve()}"
    url = make_url(main_url)
    db = url.database or ""
    if url.get_backend_name() == "sqlite":
        if db in ("", ":memory:") or db.startswith("file:"):
            raise ValidationFailed(
                "an in-memory main store has no sibling equality database",
                hint=f"pass an equality database URL explicitly or set {EQUALITY_DB_ENV}")
        p = Path(db)
        return str(url.set(database=str(p.with_name(f"{p.stem}-equality{p.suffix or '.sqlite'}"))))
    if not db:
        raise ValidationFailed(f"cannot derive an equality database from {url.render_as_string()}",
                               hint=f"set {EQUALITY_DB_ENV}")
    return url.set(database=f"{db}_equality").render_as_string(hide_password=False)


def _norm(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def read_equality_csv(
    path: str | Path,
    *,
    id_col: str = "application_id",
    ethnic_col: str = "ethnic_code",
    sex_col: str = "sex",
    disability_col: str = "disability",
) -> tuple[list[EqualityRecord], set[str]]:
    """Read and validate an equality CSV without storing it.

    Returns the records and the optional columns the file has (``{"sex", "disability"}`` or
    fewer). Raises :class:`ValidationFailed` listing every problem (file, row, column, what to
    do) if any row is malformed, so nothing partial is ever used. Rows are numbered as a
    spreadsheet shows them: the header is row 1. Header names match case-insensitively, and a
    UTF-8 byte-order mark (Excel's "CSV UTF-8") is ignored.
    """
    path = Path(path)
    fname = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(f"cannot read the equality file: {exc.strerror or exc}", file=fname) from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the equality file is not UTF-8 text", file=fname,
                               hint="save it as 'CSV UTF-8' and import it again") from exc
    reader = csv.reader(io.StringIO(content, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ValidationFailed("the equality file is empty: it needs a header row", file=fname, row=1,
                               hint=f"first row: {id_col},{ethnic_col}[,{sex_col},{disability_col}]")
    names = [_norm(h) for h in header]
    if len(set(n for n in names if n)) != len([n for n in names if n]):
        dup = sorted({n for n in names if n and names.count(n) > 1})
        raise ValidationFailed(f"the header names column(s) {dup} twice", file=fname, row=1,
                               hint="rename or remove the repeated column")
    index: dict[str, int] = {}
    for key, col, required in (("application_id", id_col, True), ("ethnic_code", ethnic_col, True),
                               ("sex", sex_col, False), ("disability", disability_col, False)):
        if _norm(col) in names:
            index[key] = names.index(_norm(col))
        elif required:
            raise ValidationFailed(
                f"no column '{col}' in the header (found: {', '.join(h.strip() for h in header)})",
                file=fname, row=1, field=col,
                hint="rename the column or pass its name (--id-col / --ethnic-col)")
    problems: list[VbrError] = []
    records: list[EqualityRecord] = []
    seen: dict[str, int] = {}
    width = len(header)
    rowno = 1
    for fields in reader:
        rowno += 1
        if len(problems) >= MAX_PROBLEMS:
            break
        if not fields or all(not f.strip() for f in fields):
            continue  # blank line
        if len(fields) != width:
            problems.append(VbrError(f"{len(fields)} fields, the header has {width}", file=fname, row=rowno,
                                     hint="check for a stray comma or an unquoted value"))
            continue
        values = {k: fields[i] for k, i in index.items()}
        app_id = values["application_id"].strip()
        if not app_id:
            problems.append(VbrError("no application id", file=fname, row=rowno, field=id_col,
                                     hint="every row needs the application id it belongs to"))
            continue
        if app_id in seen:
            problems.append(VbrError(f"application id '{app_id}' already appears in row {seen[app_id]}",
                                     file=fname, row=rowno, field=id_col,
                                     hint="keep one row per application"))
            continue
        seen[app_id] = rowno
        try:
            records.append(EqualityRecord(**values))
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else ""
                col = {"application_id": id_col, "ethnic_code": ethnic_col, "sex": sex_col,
                       "disability": disability_col}.get(key, key)
                problems.append(VbrError(err["msg"].removeprefix("Value error, "), file=fname, row=rowno,
                                         field=col, hint="correct the value and import the file again"))
    if problems:
        more = " (stopped after the first {})".format(MAX_PROBLEMS) if len(problems) >= MAX_PROBLEMS else ""
        raise ValidationFailed(f"{len(problems)} malformed row(s); nothing was imported{more}", file=fname,
                               problems=problems)
    return records, {k for k in ("sex", "disability") if k in index}


class EqualityStore:
    """The equality-monitoring database. Read only by the audit, through :meth:`records_for`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = connect(url)
        migrate(self.engine, MIGRATIONS, APPEND_ONLY)

    @classmethod
    def beside(cls, main_url: str) -> "EqualityStore":
        """The equality store that goes with the main store at ``main_url``."""
        return cls(equality_url_for(main_url))

    # ------------------------------------------------------------------ writing
    def import_csv(self, path: str | Path, *, actor: str, id_col: str = "application_id",
                   ethnic_col: str = "ethnic_code", sex_col: str = "sex",
                   disability_col: str = "disability") -> ImportReport:
        """Import a CSV file, all rows or none (see the module docstring for upsert rules)."""
        records, optional = read_equality_csv(path, id_col=id_col, ethnic_col=ethnic_col,
                                               sex_col=sex_col, disability_col=disability_col)
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return self.import_records(records, actor=actor, source=str(path), sha256=sha, columns=optional)

    def import_from(self, importer: Any, path: str | Path, *, actor: str, plugins: Any = None) -> ImportReport:
        """Import with an importer plugin (``vbr_register_importers``, ``kind == "equality"``).

        ``importer`` is the object or its registered id. Its ``read(path)`` yields
        :class:`EqualityRecord` objects or mappings with the same fields; every record is
        validated first and the file is imported whole or not at all.
        """
        if isinstance(importer, str):
            if plugins is None:
                from vbr.plugins import get_plugins

                plugins = get_plugins()
            importers = plugins.registry("importers")
            if importer not in importers:
                raise ValidationFailed(f"no importer '{importer}'", field="importer",
                                       hint=f"installed: {', '.join(sorted(importers)) or 'none'}")
            importer = importers[importer]
        name = getattr(importer, "id", type(importer).__name__)
        if getattr(importer, "kind", None) != "equality":
            raise ValidationFailed(f"importer '{name}' reads {getattr(importer, 'kind', 'unknown')} data, "
                                   "not equality data", field="importer",
                                   hint="equality records may only come from an importer of kind 'equality'")
        problems: list[VbrError] = []
        records: list[EqualityRecord] = []
        seen: dict[str, int] = {}
        for n, item in enumerate(importer.read(path), start=1):
            try:
                rec = item if isinstance(item, EqualityRecord) else EqualityRecord.model_validate(
                    item if isinstance(item, dict) else dict(item))
            except (ValidationError, TypeError, ValueError) as exc:
                problems.append(VbrError(f"record {n} is malformed: {exc}".splitlines()[0], file=str(path), row=n))
            else:
                if rec.application_id in seen:
                    problems.append(VbrError(f"application id '{rec.application_id}' already in record "
                                             f"{seen[rec.application_id]}", file=str(path), row=n))
                seen.setdefault(rec.application_id, n)
                records.append(rec)
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise ValidationFailed(f"{len(problems)} malformed record(s) from importer '{name}'; nothing was imported",
                                   file=str(path), problems=problems)
        return self.import_records(records, actor=actor, source=f"{name}:{path}")

    def import_records(self, records: Iterable[EqualityRecord], *, actor: str, source: str = "api",
                       sha256: str | None = None,
                       columns: set[str] | None = None) -> ImportReport:
        """Upsert records in one transaction. ``columns`` names which of ``sex``/``disability``
        the source carries (default: both), so a source without them keeps stored values."""
        if not actor or not actor.strip():
            raise ValidationFailed("an import needs an actor (who is importing)", field="actor")
        records = list(records)
        ids = [r.application_id for r in records]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValidationFailed(f"application id(s) {dup} appear more than once; nothing was imported",
                                   file=source if source != "api" else None)
        columns = {"sex", "disability"} if columns is None else set(columns)
        ts = now()
        with self.engine.begin() as conn:
            existing = self._existing(conn, ids)
            import_id = conn.execute(text(
                "INSERT INTO equality_imports (source, sha256, rows, inserted, updated, actor, imported_at)"
                " VALUES (:s, :h, :n, :i, :u, :a, :t) RETURNING id"),
                {"s": source, "h": sha256, "n": len(records), "i": len(set(ids) - existing),
                 "u": len(existing & set(ids)), "a": actor, "t": ts}).scalar_one()
            for r in records:
                params = {"a": r.application_id, "e": r.ethnic_code, "s": r.sex, "d": r.disability,
                          "src": source, "i": import_id, "t": ts}
                if r.application_id in existing:
                    sets = ["ethnic_code=:e", "source=:src", "import_id=:i", "updated_at=:t"]
                    sets += [f"{c}=:{c[0]}" for c in ("sex", "disability") if c in columns]
                    conn.execute(text(f"UPDATE equality_records SET {', '.join(sets)} WHERE application_id=:a"),
                                 params)
                else:
                    conn.execute(text(
                        "INSERT INTO equality_records (application_id, ethnic_code, sex, disability, source,"
                        " import_id, created_at, updated_at) VALUES (:a, :e, :s, :d, :src, :i, :t, :t)"), params)
        n_new = len(set(ids) - existing)
        return ImportReport(source, len(records), n_new, len(records) - n_new, import_id)

    @staticmethod
    def _existing(conn, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        q = text("SELECT application_id FROM equality_records WHERE application_id IN :ids").bindparams(
            bindparam("ids", expanding=True))
        for i in range(0, len(ids), 500):
            found.update(r[0] for r in conn.execute(q, {"ids": list(ids[i:i + 500])}))
        return found

    # ------------------------------------------------------------------ reading (the audit only)
    def records_for(self, application_ids: Sequence[str], *, purpose: str = "adverse-impact audit",
                    actor: str = "vbr.audit") -> dict[str, EqualityRecord]:
        """Records for ``application_ids`` (ids without a record are simply absent).

        Only the audit calls this; each call is recorded in ``equality_reads``.
        """
        ids = list(dict.fromkeys(application_ids))
        out: dict[str, EqualityRecord] = {}
        q = text("SELECT application_id, ethnic_code, sex, disability FROM equality_records"
                 " WHERE application_id IN :ids").bindparams(bindparam("ids", expanding=True))
        with self.engine.begin() as conn:
            for i in range(0, len(ids), 500):
                for a, e, s, d in conn.execute(q, {"ids": ids[i:i + 500]}):
                    out[a] = EqualityRecord.model_construct(application_id=a, ethnic_code=e or "",
                                                            sex=s, disability=d)
            conn.execute(text("INSERT INTO equality_reads (purpose, requested, found, actor, read_at)"
                              " VALUES (:p, :r, :f, :a, :t)"),
                         {"p": purpose, "r": len(ids), "f": len(out), "a": actor, "t": now()})
        return out

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM equality_records")).scalar_one()

    def imports(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text("SELECT * FROM equality_imports ORDER BY id")).mappings()]


__all__ = ["EqualityRecord", "EqualityStore", "ImportReport", "equality_url_for", "read_equality_csv",
           "EQUALITY_DB_ENV"]
