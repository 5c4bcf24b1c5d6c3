"""Example vbr plugin: one extra rubric and an event recorder an ATS would replace with API calls."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from vbr.hookspecs import hookimpl

EVENTS_ENV = "VBR_EXAMPLE_EVENTS"


@hookimpl
def vbr_register_rubrics():
    return [Path(str(resources.files("vbr_example").joinpath("student-nurse-values.yaml")))]


def _record(event: str, **data) -> None:
    target = os.environ.get(EVENTS_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": event, **data}, default=str) + "\n")


# The event hooks also pass ``store`` (the vbr.store.Store the shortlist is in); an implementation
# names only the arguments it uses, so these two, which need no database, leave it out.
@hookimpl
def vbr_shortlist_released(campaign_id, decision, application_ids):
    _record("shortlist_released", campaign_id=campaign_id, decision=decision.decision.value,
            n=len(application_ids))


@hookimpl
def vbr_shortlist_held(campaign_id, decision):
    _record("shortlist_held", campaign_id=campaign_id, decision=decision.decision.value,
            reasons=list(decision.reasons))
