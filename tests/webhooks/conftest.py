"""Fixtures for webhook tests: a main store, an outbox on it, a clock tests move by hand."""

from __future__ import annotations

import pytest

from vbr.store import Store
from vbr.webhooks.outbox import Outbox


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'vbr.sqlite'}"


@pytest.fixture
def store(db_url) -> Store:
    return Store(db_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(store, clock) -> Outbox:
    return Outbox(store.engine, clock=clock)
