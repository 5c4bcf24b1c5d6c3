"""Persistence: SQLite by default (any SQLAlchemy URL otherwise), append-only audit log.

The main store holds campaigns, applications, answers, scores and decisions. Equality data is
*not* here: it has its own database (:mod:`vbr.fairness.equality`) that only the audit reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from vbr.store.db import connect, migrate
from vbr.store.log import AuditLog
from vbr.store.records import Store

DB_ENV = "VBR_DB"


def data_dir() -> Path:
    return Path(os.environ.get("VBR_DATA_DIR") or platformdirs.user_data_dir("vbr", appauthor=False))


def default_db_url() -> str:
    if os.environ.get(DB_ENV):
        value = os.environ[DB_ENV]
        return value if "://" in value else f"sqlite:///{Path(value).expanduser().resolve()}"
    return f"sqlite:///{data_dir() / 'vbr.sqlite'}"


def open_store(url: str | None = None) -> Store:
    """Open (and migrate) the main store at ``url`` or the default location."""
    return Store(url or default_db_url())


__all__ = ["AuditLog", "Store", "connect", "migrate", "open_store", "default_db_url", "data_dir"]
