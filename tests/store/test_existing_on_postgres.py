"""The existing audit-log, equality-store and gate tests, run a second time on PostgreSQL.

Those modules build their stores through the fixtures ``store`` (tests/test_log.py), ``estore``
(tests/fairness/test_equality.py) and ``env`` (tests/fairness/test_gate.py) on SQLite. This
module collects every test of theirs that takes one of those fixtures and overrides the
fixtures to hand out stores on a fresh PostgreSQL schema, so a new test added there runs here
too. Tests that do not use those fixtures (pure functions, or SQLite-file specifics such as
tampering with the file through ``sqlite3``) run only there; the PostgreSQL counterparts of the
SQLite-specific ones are in test_backends.py. Skipped without ``VBR_TEST_PG_URL``.
"""

from __future__ import annotations

import inspect

import pytest

from tests import test_log as _log
from tests.fairness import test_equality as _equality
from tests.fairness import test_gate as _gate
from vbr.fairness.equality import EqualityStore
from vbr.fairness.gate import ShortlistGate
from vbr.plugins import build
from vbr.store import Store, open_store

OVERRIDDEN = {"store", "estore", "env"}


def _collect(module, prefix: str) -> list[str]:
    names = []
    for name, obj in list(vars(module).items()):
        if not (name.startswith("test_") and inspect.isfunction(obj)):
            continue
        if "sqlite" in inspect.getsource(obj):
            continue  # works on the SQLite file itself
        if OVERRIDDEN & set(inspect.signature(obj).parameters):
            new = f"test_pg_{prefix}_{name.removeprefix('test_')}"
            globals()[new] = obj
            names.append(new)
    return names


COLLECTED = _collect(_log, "log") + _collect(_equality, "equality") + _collect(_gate, "gate")


@pytest.fixture
def store(pg_backend):
    return open_store(pg_backend.main_url)


@pytest.fixture
def estore(pg_backend):
    return EqualityStore(pg_backend.equality_url)


@pytest.fixture
def env(pg_backend):
    store = Store(pg_backend.main_url)
    equality = EqualityStore(pg_backend.equality_url)
    rec = _gate.Recorder()
    gate = ShortlistGate(store, equality, plugins=build(load_entrypoints=False, extra_plugins=(rec,)))
    return store, equality, gate, rec


def test_something_was_collected():
    assert len(COLLECTED) >= 20, COLLECTED
