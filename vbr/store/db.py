"""Database connection and migrations (SQLite by default, any SQLAlchemy URL otherwise)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text

from vbr.store.migrations import DIALECT_WORDS, guards

_ENGINES: dict[str, Engine] = {}

# PostgreSQL advisory-lock keys (two int4s: "vbr", what): one migrator at a time per database,
# one audit-log appender at a time (see vbr.store.log).
PG_LOCK_NAMESPACE = 0x766272
PG_LOCK_MIGRATE = 1
PG_LOCK_AUDIT_LOG = 2


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and foreign keys, and their folder is created."""
    if url in _ENGINES:
        return _ENGINES[url]
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    _ENGINES[url] = engine
    return engine


_RELAXED: dict[int, Engine] = {}


def relaxed_commit_engine(engine: Engine) -> Engine:
    """An engine on the same database for records whose last few commits may be lost in an OS
    crash (a cache of answers, such as idempotency records), whose commits need not wait for the
    disk: on PostgreSQL its sessions run with ``synchronous_commit = off`` (no corruption is
    possible, and the next ordinary commit on the database flushes them with its own). Without
    it, each such record costs a WAL flush, which with durable settings bounds submissions to
    the disk's flush rate. Elsewhere it is ``engine`` itself. Disposed with ``engine``."""
    if engine.dialect.name != "postgresql":
        return engine
    relaxed = _RELAXED.get(id(engine))
    if relaxed is None:
        relaxed = create_engine(engine.url, future=True)

        @event.listens_for(relaxed, "connect")
        def _no_flush_wait(dbapi_conn, _record):  # pragma: no cover - exercised by the PostgreSQL tests
            cur = dbapi_conn.cursor()
            cur.execute("SET synchronous_commit = off")
            cur.close()
            dbapi_conn.commit()

        @event.listens_for(engine, "engine_disposed")
        def _dispose_too(_engine):  # pragma: no cover - exercised by the PostgreSQL tests
            gone = _RELAXED.pop(id(engine), None)
            if gone is not None:
                gone.dispose()

        _RELAXED[id(engine)] = relaxed
    return relaxed


@contextlib.contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for a single statement, read or write, committed when the block ends.

    On PostgreSQL it runs in autocommit: no BEGIN before it and no COMMIT or ROLLBACK after it
    (round trips saved, and psycopg's prepared statements, which a ROLLBACK discards, stay
    prepared). One statement is atomic and sees one snapshot either way, so only use it for
    blocks that run exactly one. Elsewhere it is ``engine.begin()``.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate-lock`` while migrating. SQLite serialises
    each write, but two processes creating the same new database would both find no migrations
    applied and both run them (the second fails on a table that now exists). In-memory databases,
    and systems without ``fcntl``, need no lock: only one process can see them / run vbr there."""
    database = engine.url.database
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock so that processes opening the same database
    at once (server workers, a CLI beside the server) apply migrations one at a time; on a SQLite
    file, the same through an exclusive lock on a file beside it."""
    if engine.dialect.name == "sqlite":
        with _sqlite_migration_lock(engine):
            yield
        return
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:ns, :k)"), {"ns": PG_LOCK_NAMESPACE, "k": PG_LOCK_MIGRATE})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": PG_LOCK_NAMESPACE, "k": PG_LOCK_MIGRATE})
            conn.commit()


def migrate(
    engine: Engine, migrations: list[tuple[int, str, list[str]]], append_only: tuple[str, ...] = ()
) -> list[int]:
    """Apply the migrations not yet applied, each in its own transaction; return their numbers."""
    words = DIALECT_WORDS.get(engine.dialect.name, DIALECT_WORDS["sqlite"])
    with _migration_lock(engine):
        return _migrate(engine, words, migrations, append_only)


def _migrate(engine: Engine, words: dict[str, str], migrations: list[tuple[int, str, list[str]]],
             append_only: tuple[str, ...]) -> list[int]:
    applied: list[int] = []
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        ))
        done = {row[0] for row in conn.execute(text("SELECT version FROM schema_migrations"))}
    # Each part's migrations are numbered in a block of a hundred (the store 1-99, the server's
    # 100-199, webhooks 200-299, plugins' their own) sharing one schema_migrations table.
    known = max((m[0] for m in migrations), default=0)
    ours = {v for v in done if v // 100 == known // 100}
    if ours and max(ours) > known:
        # An older vbr writing to a newer schema would leave out what the newer one keeps in step
        # (since migration 3, every log entry's campaign index row): refuse before writing anything.
        from vbr.errors import IntegrityError

        raise IntegrityError(
            f"this database was upgraded by a newer vbr (schema {max(ours)}; this vbr knows up to {known})",
            file=engine.url.render_as_string(hide_password=True),
            hint="upgrade vbr on this machine (every process using the database runs the same version)")
    for version, name, statements in migrations:
        if version in done:
            continue
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql.format(**words)))
            conn.execute(
                text("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)"),
                {"v": version, "n": name, "t": now()},
            )
        applied.append(version)
    with engine.begin() as conn:
        for sql in guards(engine.dialect.name, append_only):
            conn.execute(text(sql))
    return applied
