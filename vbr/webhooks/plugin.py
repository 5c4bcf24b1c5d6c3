"""vbr's event hooks, turned into outbox rows (one per subscribed endpoint) in the main database.

Each hook runs the relay (:mod:`vbr.webhooks.relay`), which records the events of every new
audit-log entry: the change the hook announces was logged in the same transaction as the change,
so the event is recorded from the log, with an id derived from the log entry. The hook only makes
that happen at once; the delivery worker runs the relay too, so an event is recorded even if the
process died before its hook ran. Events and their ``data`` (deliberately little: the ATS fetches
details over the API with its own key and role, so a webhook never carries more than that role
may read):

* ``scores.ready``: ``campaign_id``, ``scores`` (how many were stored), ``scorer``. **No levels**:
  an ATS that could sort by score before the gate has passed could bulk-advance on it.
* ``audit.completed``: ``campaign_id``, ``shortlist_id``, ``decision``, ``regime``. No group
  tables or reasons (equality figures that only an equality officer reads).
* ``shortlist.released``: ``campaign_id``, ``shortlist_id``, ``decision``, ``override`` (an officer
  released a held shortlist), ``application_ids`` (the released list, in order).
* ``shortlist.held``: ``campaign_id``, ``shortlist_id``, ``decision`` (REVIEW or BLOCK).

Which database: the hooks are called with a campaign id only. :class:`WebhookEvents` is bound to a
database explicitly (tests, embedders: ``vbr.plugins.build(extra_plugins=(WebhookEvents(url),))``).
This module's own hook implementations (the default plugin) use the store the hook passes as
``store`` once the hook specs carry it; else the database bound with :func:`bind`; else the one
main store open in this process that holds the campaign (the CLI's ``--db``, the service's
store); else the configured store (``VBR_DB`` / the data dir). They do nothing for a campaign
that database does not hold. (Whatever they miss, the worker's relay still records.)
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, text

from vbr import hookspecs
from vbr.hookspecs import hookimpl
from vbr.webhooks.outbox import Outbox

log = logging.getLogger("vbr.webhooks")
_BOUND: contextvars.ContextVar[str | None] = contextvars.ContextVar("vbr_webhooks_db", default=None)


@contextlib.contextmanager
def bind(url: str) -> Iterator[None]:
    """Within this block, this module's hooks write to the outbox of the database at ``url``."""
    token = _BOUND.set(url)
    try:
        yield
    finally:
        _BOUND.reset(token)


class WebhookEvents:
    """Event hooks writing to the outbox of one database (a URL, an engine or a :class:`vbr.store.Store`)."""

    def __init__(self, db: "str | Engine | Any", *, require_campaign: bool = False) -> None:
        self._db = db
        self.require_campaign = require_campaign
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

    def _holds(self, campaign_id: str) -> bool:
        with self.outbox.engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM campaigns WHERE id=:c"), {"c": campaign_id}).first() is not None

    def _on_event(self, campaign_id: str) -> None:
        if self.require_campaign and not self._holds(campaign_id):
            log.debug("no campaign %s in %s: no webhook event", campaign_id, self.outbox.engine.url)
            return
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
_WRITERS: dict[str, WebhookEvents] = {}


def _open_store_holding(campaign_id: str | None) -> str | None:
    """The URL of the one database already open in this process that holds ``campaign_id``."""
    if campaign_id is None:
        return None
    from vbr.store import db as _db

    found = []
    for url, engine in list(getattr(_db, "_ENGINES", {}).items()):
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT 1 FROM campaigns WHERE id=:c"), {"c": campaign_id}).first():
                    found.append(str(url))
        except Exception:  # noqa: BLE001 - not a main store (the equality database, say)
            continue
    if len(found) > 1:
        log.warning("campaign %s is in %d open databases; no webhook event is written. Bind one with "
                    "vbr.webhooks.plugin.bind(url)", campaign_id, len(found))
    return found[0] if len(found) == 1 else None


def _writer(store: Any = None, campaign_id: str | None = None) -> WebhookEvents | None:
    if store is not None:
        url = str(store.url)
    else:
        from vbr.store import default_db_url

        url = _BOUND.get() or _open_store_holding(campaign_id) or default_db_url()
        if url.startswith("sqlite:///") and not url.endswith(":memory:") \
                and not Path(url.removeprefix("sqlite:///")).exists():
            return None  # no such database: the events are not from it
    if url not in _WRITERS:
        _WRITERS[url] = WebhookEvents(url if store is None else store, require_campaign=True)
    return _WRITERS[url]


def _call(name: str, store: Any = None, **kw: Any) -> None:
    writer = _writer(store, kw.get("campaign_id"))
    if writer is not None:
        getattr(writer, name)(**kw)


if "store" in inspect.signature(hookspecs.vbr_scores_ready).parameters:  # pragma: no cover - once specs pass it
    @hookimpl
    def vbr_scores_ready(campaign_id, scores, store):
        _call("vbr_scores_ready", store, campaign_id=campaign_id, scores=scores)

    @hookimpl
    def vbr_audit_complete(campaign_id, audit, store):
        _call("vbr_audit_complete", store, campaign_id=campaign_id, audit=audit)

    @hookimpl
    def vbr_shortlist_released(campaign_id, decision, application_ids, store):
        _call("vbr_shortlist_released", store, campaign_id=campaign_id, decision=decision,
              application_ids=application_ids)

    @hookimpl
    def vbr_shortlist_held(campaign_id, decision, store):
        _call("vbr_shortlist_held", store, campaign_id=campaign_id, decision=decision)
else:
    @hookimpl
    def vbr_scores_ready(campaign_id, scores):
        _call("vbr_scores_ready", campaign_id=campaign_id, scores=scores)

    @hookimpl
    def vbr_audit_complete(campaign_id, audit):
        _call("vbr_audit_complete", campaign_id=campaign_id, audit=audit)

    @hookimpl
    def vbr_shortlist_released(campaign_id, decision, application_ids):
        _call("vbr_shortlist_released", campaign_id=campaign_id, decision=decision,
              application_ids=application_ids)

    @hookimpl
    def vbr_shortlist_held(campaign_id, decision):
        _call("vbr_shortlist_held", campaign_id=campaign_id, decision=decision)


__all__ = ["WebhookEvents", "bind"]
