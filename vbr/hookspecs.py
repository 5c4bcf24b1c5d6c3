"""The plugin contract of vbr, and nothing else.

Each hook is one documented spec. Built-in behaviour lives in :mod:`vbr.default_plugins` and
uses exactly these hooks, marked ``trylast`` so any installed plugin can take precedence.
Call hooks with keyword arguments only. A plugin registers under the entry-point group ``vbr``.

Registration hooks return a list of objects; each object has an ``id`` that must be unique
across all plugins (two plugins claiming one id is a start-up error naming both).

Event hooks (``vbr_scores_ready``, ``vbr_audit_complete``, ``vbr_shortlist_released``,
``vbr_shortlist_held``) are called after the change they announce is committed, with ``store``:
the :class:`vbr.store.Store` the change was written to (a process may have several open), so a
plugin that reads or writes the database the event came from uses that one and never has to
guess it. An implementation takes only the arguments it names (pluggy passes nothing else), so
one written before ``store`` was added, such as ``def vbr_scores_ready(campaign_id, scores)``,
keeps working unchanged. Whoever *calls* an event hook (vbr itself; a plugin announcing events,
say scores it stored) passes every argument including ``store`` (a call without it fails with
pluggy's ``HookCallError``, as the built-in webhook plugin takes it): pass ``store=None`` only for
an event that comes from no store, and the built-in webhook plugin then records nothing for it.
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
def vbr_scores_ready(campaign_id, scores, store):
    """Event: ``scores`` (a list of :class:`vbr.models.Score`) were stored for ``campaign_id``
    in ``store`` (the :class:`vbr.store.Store` holding them). Implementations may omit ``store``."""


@hookspec
def vbr_audit_complete(campaign_id, audit, store):
    """Event: an adverse-impact ``audit`` (a dict of the figures) finished for ``campaign_id``;
    its decision is recorded in ``store`` (the :class:`vbr.store.Store`). Implementations may omit
    ``store``."""


@hookspec
def vbr_shortlist_released(campaign_id, decision, application_ids, store):
    """Event: a shortlist left vbr; ``decision`` is the :class:`vbr.models.ShortlistDecision`,
    recorded in ``store`` (the :class:`vbr.store.Store` holding the shortlist). Implementations may
    omit ``store``."""


@hookspec
def vbr_shortlist_held(campaign_id, decision, store):
    """Event: the gate held a shortlist (REVIEW or BLOCK) until an equality officer signs off;
    ``decision`` is recorded in ``store`` (the :class:`vbr.store.Store` holding the shortlist).
    Implementations may omit ``store``."""
