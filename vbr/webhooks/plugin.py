"""vbr's event hooks, turned into outbox rows (one per subscribed endpoint) in the main database.

Each hook runs the relay (:mod:`vbr.webhooks.relay`), which records the events of every new
audit-log entry: the change the hook announces was logged in the same transaction as the change,
so the event is recorded from the log, with an id derived from the log entry. The hook only makes
that happen at once; the delivery worker runs the relay too, so an event is recorded even if the
process died before its hook ran. Events and their ``data`` (deliberately little: the ATS fetches
details over the API with its own key and role, so a webhook never carries more than that role
may read):

* ``scores.ready``: ``campaign_id``, ``scores`` (how many were stored), ``scorer``, ``to_mark``
  (answers left wholly or partly without a score, for a person: ``GET .../to-mark``). **No levels**:
  an ATS that could sort by score before the gate has passed could bulk-advance on it.
* ``audit.completed``: ``campaign_id``, ``shortlist_id``, ``decision``, ``regime``. No group
  tables or reasons (equality figures that only an equality officer reads).
* ``shortlist.released``: ``campaign_id``, ``shortlist_id``, ``decision``, ``override`` (an officer
  released a held shortlist), ``application_ids`` (the released list, in order).
* ``shortlist.held``: ``campaign_id``, ``shortlist_id``, ``decision`` (REVIEW or BLOCK).

Which database: each event hook is passed ``store``, the :class:`vbr.store.Store` the change was
written to, and this module's own hook implementations (the default plugin) relay that store's
log into that store's outbox, and touch no other database: a process may have several stores
open, and the same campaign id may be in more than one. A hook called with ``store=None`` (an
event from no store) records nothing. :class:`WebhookEvents` is instead bound to one database
explicitly (tests, embedders: ``vbr.plugins.build(extra_plugins=(WebhookEvents(url),))``) and
relays it on every event. (Whatever a hook misses, the worker's relay still records.)
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from vbr.hookspecs import hookimpl
from vbr.webhooks.outbox import Outbox

log = logging.getLogger("vbr.webhooks")


class WebhookEvents:
    """Event hooks writing to the outbox of one database (a URL, an engine or a :class:`vbr.store.Store`)."""

    def __init__(self, db: "str | Engine | Any") -> None:
        self._db = db
        self._outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            db = self._db
            if isinstance(db, Engine):
                self._outbox = Outbox(db)
            elif isinstance(db, str):
                self._outbox = Outbox.open(db)
            else:  # a Store
                self._outbox = Outbox(db.engine)
        return self._outbox

    def relay(self) -> int:
        from vbr.webhooks.relay import relay

        return relay(self.outbox)

    def _on_event(self, campaign_id: str) -> None:
        n = self.relay()
        log.info("webhook relay recorded %d event(s)", n)

    # ------------------------------------------------------------------ the hooks
    @hookimpl
    def vbr_scores_ready(self, campaign_id, scores):
        self._on_event(campaign_id)

    @hookimpl
    def vbr_audit_complete(self, campaign_id, audit):
        self._on_event(campaign_id)

    @hookimpl
    def vbr_shortlist_released(self, campaign_id, decision, application_ids):
        self._on_event(campaign_id)

    @hookimpl
    def vbr_shortlist_held(self, campaign_id, decision):
        self._on_event(campaign_id)


# ---------------------------------------------------------------------- the default plugin
def _relay(store: Any) -> None:
    """Record the events of ``store``'s new log entries in its outbox (nothing without a store)."""
    if store is None:
        return
    from vbr.webhooks.relay import relay

    n = relay(Outbox(store.engine))  # the outbox's tables are migrated once per engine
    log.info("webhook relay recorded %d event(s) in %s", n, store.engine.url)


@hookimpl
def vbr_scores_ready(campaign_id, scores, store):
    _relay(store)


@hookimpl
def vbr_audit_complete(campaign_id, audit, store):
    _relay(store)


@hookimpl
def vbr_shortlist_released(campaign_id, decision, application_ids, store):
    _relay(store)


@hookimpl
def vbr_shortlist_held(campaign_id, decision, store):
    _relay(store)


__all__ = ["WebhookEvents"]
