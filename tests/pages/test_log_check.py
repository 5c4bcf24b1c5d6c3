"""The dashboard's "Log intact" line: the whole log on the first load, then only what was written
since (and the row it was checked up to), a full re-check once the last is older than the
interval, and a failure that stays until a full check passes. The clock is the service's fake
one; background checks run at once (or when the test says) through an injected ``start``."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from typing import Callable

import pytest

import vbr.store.log as log_module
from tests.pages.conftest import CAMPAIGN, Pages
from vbr.pages import logcheck
from vbr.pages.logcheck import LogChecks

DASH = f"/pages/campaigns/{CAMPAIGN}/equality"
INTERVAL = dt.timedelta(minutes=10)


class Deferred:
    """A ``start`` that keeps the background check until the test runs it."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []

    def __call__(self, run: Callable[[], None]) -> None:
        self.waiting.append(run)

    def run_all(self) -> None:
        while self.waiting:
            self.waiting.pop(0)()


def officer(pages: Pages, start=lambda run: run()) -> Pages:
    pages.app.state.pages_log_checks = LogChecks(interval=INTERVAL, start=start)
    pages.sign_in("equality_officer")
    return pages


def tamper(pages: Pages, sql: str) -> None:
    """Change the log behind vbr's back: lift the append-only triggers, run ``sql``, put them back."""
    con = sqlite3.connect(pages.engine.store.url.removeprefix("sqlite:///"))
    triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")
    triggers = triggers.fetchall()
    assert triggers
    for name, _ in triggers:
        con.execute(f"DROP TRIGGER {name}")
    con.execute(sql)
    for _, ddl in triggers:
        con.execute(ddl)
    con.commit()
    con.close()


def head(pages: Pages) -> int:
    return list(pages.engine.store.log.entries(newest_first=True, limit=1))[0].seq


def append(pages: Pages, n: int) -> None:
    for i in range(n):
        pages.engine.store.log.append("ats:test", "test.note", f"campaign:{CAMPAIGN}", payload={"i": i})


def status(html: str) -> str:
    m = re.search(r'<p class="verify [^"]*"[^>]*>(.*?)</p>', html, re.S)
    assert m, html[-3000:]
    return " ".join(re.sub(r"<[^>]+>", "", m.group(1)).split())


def load(pages: Pages) -> str:
    r = pages.client.get(DASH)
    assert r.status_code == 200
    return status(r.text)


@pytest.fixture
def digests(monkeypatch) -> list[int]:
    """The seq of every row hashed by a log check."""
    calls: list[int] = []
    real = log_module._digest
    monkeypatch.setattr(log_module, "_digest", lambda *a: calls.append(a[0]) or real(*a))
    return calls


def test_later_loads_hash_only_the_new_entries_and_the_last_checked_one(pages, digests):
    officer(pages)
    append(pages, 200)
    n = head(pages)
    digests.clear()  # appending hashes each new entry once too
    first = load(pages)
    assert sorted(digests) == list(range(1, n + 1))  # the whole log, as every load did before
    assert first.startswith("Log intact.") and f"All {n:,} entries were checked in full at 09:00 UTC" in first
    assert "written since" not in first

    pages.clock.advance(minutes=3)
    append(pages, 3)
    digests.clear()
    second = load(pages)
    assert digests == [n, n + 1, n + 2, n + 3]  # the row it was checked up to, then the three new ones
    assert f"All {n:,} entries were checked in full at 09:00 UTC" in second
    assert "The 3 entries written since were checked now" in second

    digests.clear()
    assert "The 3 entries written since were checked by earlier loads of this page" in load(pages)
    assert digests == [n + 3]

    append(pages, 1)
    digests.clear()
    assert "The 4 entries written since were checked by this and earlier loads of this page (1 now)" in load(pages)
    assert digests == [n + 3, n + 4]


def test_a_full_re_check_starts_once_the_last_is_older_than_the_interval(pages, digests):
    later = Deferred()
    officer(pages, later)
    n = head(pages)
    load(pages)
    pages.clock.advance(minutes=9, seconds=59)
    load(pages)
    assert later.waiting == []  # not yet
    pages.clock.advance(seconds=1)
    append(pages, 2)
    digests.clear()
    text = load(pages)
    assert digests == [n, n + 1, n + 2]  # this load checks only the new entries; the full check waits
    assert len(later.waiting) == 1 and "one is running now" in text
    load(pages)
    assert len(later.waiting) == 1  # at most one at a time per store
    digests.clear()
    later.run_all()
    assert sorted(digests) == [*range(1, n + 3), n + 2]  # the whole log, then the newest point it knew
    text = load(pages)
    assert f"All {n + 2:,} entries were checked in full at 09:10 UTC" in text and "written since" not in text
    assert "the whole log is checked again every 10 minutes" in text


def test_tampering_with_a_new_entry_shows_on_the_next_load(pages):
    officer(pages)
    load(pages)
    append(pages, 3)
    seq = head(pages) - 1
    tamper(pages, f"UPDATE audit_log SET reason='nothing to see' WHERE seq={seq}")
    pages.clock.advance(minutes=1)
    text = load(pages)
    assert text.startswith("The log has been tampered with.")
    assert f"row {seq} was changed after it was written (entry {seq})" in text and "09:01 UTC" in text
    pages.clock.advance(minutes=1)
    assert load(pages) == text  # remembered, not re-checked as good
    pages.clock.advance(minutes=10)
    assert load(pages).startswith("The log has been tampered with.")  # the full check finds it too


def test_tampering_with_an_old_entry_shows_at_the_next_full_check(pages):
    officer(pages)
    load(pages)
    tamper(pages, "UPDATE audit_log SET reason='nothing to see' WHERE seq=3")
    pages.clock.advance(minutes=5)
    assert load(pages).startswith("Log intact.")  # the page said what it checked: not entry 3 again
    pages.clock.advance(minutes=5)
    text = load(pages)
    assert text.startswith("The log has been tampered with.") and "row 3 was changed" in text
    assert "09:10 UTC" in text
    pages.clock.advance(minutes=1)
    assert load(pages) == text


def test_a_failure_is_never_remembered_as_good(pages, digests):
    later = Deferred()
    officer(pages, later)
    load(pages)
    append(pages, 2)
    seq = head(pages)
    tamper(pages, f"UPDATE audit_log SET actor='someone else' WHERE seq={seq}")
    assert load(pages).startswith("The log has been tampered with.")
    tamper(pages, f"UPDATE audit_log SET actor='ats:test' WHERE seq={seq}")  # put back behind the page's back
    digests.clear()
    assert load(pages).startswith("The log has been tampered with.")
    assert digests == []  # nothing was checked, so nothing can have passed
    pages.clock.advance(minutes=10)
    assert load(pages).startswith("The log has been tampered with.")
    assert len(later.waiting) == 1
    later.run_all()  # the full check finds the log whole again
    text = load(pages)
    assert text.startswith("Log intact.") and "checked in full at 09:10 UTC" in text


def test_a_full_check_started_before_a_failure_was_found_does_not_clear_it(pages):
    later = Deferred()
    officer(pages, later)
    load(pages)
    pages.clock.advance(minutes=10)
    load(pages)  # starts a full check (held)
    append(pages, 1)
    seq = head(pages)
    tamper(pages, f"UPDATE audit_log SET actor='someone else' WHERE seq={seq}")
    assert load(pages).startswith("The log has been tampered with.")
    tamper(pages, f"UPDATE audit_log SET actor='ats:test' WHERE seq={seq}")
    later.run_all()  # passes, but it started before the failure was found
    assert load(pages).startswith("The log has been tampered with.")
    pages.clock.advance(minutes=10)
    load(pages)
    later.run_all()
    assert load(pages).startswith("Log intact.")


def test_entries_cut_off_the_end_are_found_and_a_full_check_does_not_forget_them(pages):
    officer(pages)
    load(pages)
    n = head(pages)
    tamper(pages, f"DELETE FROM audit_log WHERE seq >= {n - 1}")
    assert pages.engine.store.log.verify().ok  # the chain alone cannot see it
    text = load(pages)
    assert text.startswith("The log has been tampered with.") and f"row {n} is missing" in text
    pages.clock.advance(minutes=10)
    assert f"row {n} is missing" in load(pages)  # the full check still misses the row the page had checked


def test_a_deleted_checked_row_is_found(pages):
    officer(pages)
    load(pages)
    append(pages, 2)
    load(pages)  # checked up to the new head
    n = head(pages)
    append(pages, 2)
    tamper(pages, f"DELETE FROM audit_log WHERE seq = {n}")
    text = load(pages)
    assert text.startswith("The log has been tampered with.") and f"row {n} is missing (deleted?) (entry {n})" in text


def test_a_failed_background_check_is_logged_and_retried(pages, monkeypatch, caplog):
    officer(pages)
    load(pages)
    pages.clock.advance(minutes=10)
    real = pages.engine.store.log.verify

    def broken(after_seq: int = 0, after_hash: str = log_module.GENESIS):
        if after_seq == 0:
            raise RuntimeError("the database went away")
        return real(after_seq, after_hash)

    monkeypatch.setattr(pages.engine.store.log, "verify", broken)
    assert load(pages).startswith("Log intact.")  # the incremental check still ran
    assert "could not finish" in caplog.text
    monkeypatch.setattr(pages.engine.store.log, "verify", real)
    assert "checked in full at 09:10 UTC" in load(pages)  # retried by the next load


def test_the_default_is_one_cache_per_process_keyed_by_store_url(pages):
    pages.sign_in("equality_officer")
    assert getattr(pages.app.state, "pages_log_checks", None) is None
    assert load(pages).startswith("Log intact.")
    assert pages.engine.store.url in logcheck.CHECKS._states
    assert logcheck.CHECKS.interval == dt.timedelta(minutes=10) and logcheck.CHECKS.start is logcheck.in_thread


def test_the_background_thread_runs_the_full_check():
    import threading

    done = threading.Event()
    logcheck.in_thread(done.set)
    assert done.wait(10)
