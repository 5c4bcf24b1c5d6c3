"""Two engines sharing one plugin system (a process serving two databases, a benchmark, a test
run): each adapter completes interviews only for scores stored in its own database, and an event
from the other database neither reaches its tables nor logs an error."""

from __future__ import annotations

import logging

import vbr_greenhouse
from vbr import Engine
from vbr.plugins import build
from vbr_greenhouse.adapter import Caller, GreenhouseAdapter, SendTest
from vbr_greenhouse.settings import Settings

ANSWER = ("When a patient on my ward was frightened before surgery I sat with her, listened to her worries, "
          "explained what would happen and asked the team to involve her daughter.")
CALLER = Caller(tenant="default", actor="greenhouse")


def _send(adapter: GreenhouseAdapter) -> str:
    body = SendTest(partner_test_id="nurse-2026", candidate={
        "first_name": "Ada", "last_name": "Okafor", "email": "ada@example.org",
        "greenhouse_profile_url": "https://app.greenhouse.io/people/1?application_id=5699620"})
    return adapter.send_test(CALLER, body)[0]["partner_interview_id"]


def test_each_adapter_hears_only_its_own_database(tmp_path, caplog):
    plugins = build(load_entrypoints=False, extra_plugins=(vbr_greenhouse,))
    settings = Settings(public_url="https://vbr.trust.example", background_delivery=False)
    engines = [Engine(tmp_path / f"{name}.sqlite", plugins=plugins) for name in ("one", "two")]
    adapters = [GreenhouseAdapter(e, settings) for e in engines]
    interviews = []
    for engine, adapter in zip(engines, adapters):
        engine.create_campaign("nurse-2026", "Staff nurse", "nhs-constitution", actor="recruiter")
        interviews.append(_send(adapter))
    # the second database goes away, as a finished benchmark's or test's is deleted
    engines[1].store.engine.dispose()
    (tmp_path / "two.sqlite").rename(tmp_path / "gone.sqlite")

    one = engines[0]
    qids = one.store.campaign("nurse-2026")["question_ids"][:3]
    one.store.add_applications([], [("gh-nurse-2026-5699620", q, ANSWER, ANSWER, None) for q in qids])
    with caplog.at_level(logging.ERROR):
        one.score("nurse-2026", actor="recruiter")
    assert not caplog.records, caplog.text  # before the fix: "could not complete Greenhouse interviews"
    assert adapters[0].interview(None, interviews[0])["completed_at"] is not None
    assert not (tmp_path / "two.sqlite").exists()  # the other adapter did not reopen its database
