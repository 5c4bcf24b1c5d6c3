"""The example plugin, installed, is found through the ``vbr`` entry point like any other."""

import json

from vbr.models import Decision, ShortlistDecision
from vbr.plugins import build


def test_installed_plugin_registers_its_rubric():
    system = build()
    assert "example" in [row["name"] for row in system.describe()]
    rubric = system.registry("rubrics")["student-nurse-values"]
    assert [v.id for v in rubric.values] == ["kindness", "honesty"]
    # the built-in rubrics are still there beside it
    assert {"6cs", "nhs-constitution"} <= set(system.registry("rubrics"))


def test_plugin_is_told_about_held_and_released_shortlists(tmp_path, monkeypatch):
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("VBR_EXAMPLE_EVENTS", str(events))
    system = build()
    held = ShortlistDecision(campaign_id="c1", decision=Decision.REVIEW, reasons=("small group",), regime="ugesp")
    system.hook.vbr_shortlist_held(campaign_id="c1", decision=held, store=None)
    passed = ShortlistDecision(campaign_id="c1", decision=Decision.PASS, regime="ugesp", released=True)
    system.hook.vbr_shortlist_released(campaign_id="c1", decision=passed, application_ids=["a", "b"],
                                      store=None)  # no store: the events are made up here
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert lines == [
        {"event": "shortlist_held", "campaign_id": "c1", "decision": "REVIEW", "reasons": ["small group"]},
        {"event": "shortlist_released", "campaign_id": "c1", "decision": "PASS", "n": 2},
    ]


def test_load_plugins_env_can_exclude_it(monkeypatch):
    monkeypatch.setenv("VBR_LOAD_PLUGINS", "")
    system = build()
    assert "example" not in [row["name"] for row in system.describe()]
    assert "student-nurse-values" not in system.registry("rubrics")
