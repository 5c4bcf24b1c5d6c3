"""Audit regimes: the rules an audit is read under (UGESP four-fifths, NYC LL144, NHS WRES).

A regime is any object with ``id``, ``title`` and
``audit(counts, config, *, grouping, reference=None) -> RegimeResult``; built-in regimes are
registered by :mod:`vbr.default_plugins.regimes` through the ``vbr_register_regimes`` hook, so a
plugin can add or replace one. ``counts`` is the :class:`~vbr.fairness.counts.AuditCounts`
table; regimes never see rows.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts
from vbr.fairness.groupings import Grouping
from vbr.fairness.results import RegimeResult


@runtime_checkable
class Regime(Protocol):
    """The contract a regime plugin implements."""

    id: str
    title: str

    def audit(self, counts: AuditCounts, config: AuditConfig, *, grouping: Grouping,
              reference: str | None = None) -> RegimeResult:
        """Read the counts under this regime's rules and suggest an outcome."""
        ...


def builtin_regimes() -> list[Regime]:
    from vbr.fairness.regimes.ll144 import LL144
    from vbr.fairness.regimes.ugesp import UGESP
    from vbr.fairness.regimes.wres import WRES

    return [UGESP(), LL144(), WRES()]


__all__ = ["Regime", "builtin_regimes"]
