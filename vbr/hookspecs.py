"""The plugin contract of vbr, and nothing else.

Each hook is one documented spec. Built-in behaviour lives in :mod:`vbr.default_plugins` and
uses exactly these hooks, marked ``trylast`` so any installed plugin can take precedence.
Call hooks with keyword arguments only. A plugin registers under the entry-point group ``vbr``.

Registration hooks return a list of objects; each object has an ``id`` that must be unique
across all plugins (two plugins claiming one id is a start-up error naming both).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("vbr")
hookimpl = pluggy.HookimplMarker("vbr")


@hookspec
def vbr_register_rubrics():
    """Return rubrics to offer: :class:`vbr.models.Rubric` objects or paths to rubric YAML files."""


@hookspec
def vbr_register_scorers():
    """Return scorers: objects with ``id``, ``version`` and ``score(rubric, question, response_text)``.

    Scorers receive only redacted answer text, never the application or equality data.
    See :class:`vbr.scoring.base.Scorer`.
    """


@hookspec
def vbr_register_redactors():
    """Return redactors: objects with ``id``, ``order`` and ``redact(text, names) -> Redaction``.

    Every redactor runs on every answer, in ascending ``order``, before any scorer sees it.
    """


@hookspec
def vbr_register_regimes():
    """Return audit regimes: objects with ``id``, ``title`` and
    ``audit(counts, config, *, grouping, reference=None) -> RegimeResult``.

    See :class:`vbr.fairness.regimes.Regime`. Built in: ``ugesp``, ``ll144``, ``wres``.
    """


@hookspec
def vbr_register_groupings():
    """Return ethnic-category groupings (:class:`vbr.fairness.groupings.Grouping`) as data."""


@hookspec
def vbr_register_importers():
    """Return importers: objects following :class:`vbr.formats.Importer` (``id``, ``kind``, ``read``).

    ``kind`` is ``applications`` or ``equality``; ``read(path, *, campaign_id=, questions=,
    mapping=, vacancy=)`` returns a ``ParsedFile`` that is checked whole before anything is
    stored. Equality importers write only to the equality store.
    """


@hookspec
def vbr_register_exporters():
    """Return exporters: objects with ``id`` and ``write(rows, path)`` (ATS file formats)."""


@hookspec
def vbr_register_commands(cli):
    """Add sub-commands to the ``vbr`` command: ``cli`` is the root :class:`typer.Typer`."""


@hookspec
def vbr_register_routes(app):
    """Add HTTP routes to the service: ``app`` is the :class:`fastapi.FastAPI` of ``vbr serve``.

    Used by ATS adapters (for example an assessment-partner API) that must answer at their own URLs.
    """


@hookspec
def vbr_scores_ready(campaign_id, scores):
    """Event: ``scores`` (a list of :class:`vbr.models.Score`) were stored for ``campaign_id``."""


@hookspec
def vbr_audit_complete(campaign_id, audit):
    """Event: an adverse-impact ``audit`` (a dict of the figures) finished for ``campaign_id``."""


@hookspec
def vbr_shortlist_released(campaign_id, decision, application_ids):
    """Event: a shortlist left vbr; ``decision`` is the :class:`vbr.models.ShortlistDecision`."""


@hookspec
def vbr_shortlist_held(campaign_id, decision):
    """Event: the gate held a shortlist (REVIEW or BLOCK) until an equality officer signs off."""
