"""The equality dashboard's "Log intact" line, without re-hashing the whole log on every load.

Recomputing the chain costs about 24 µs an entry: a trust's log of a million entries made every
dashboard load take 24 s. So the pages remember, per process and per store URL, the newest point
(seq, hash) a check found good. The first load checks the whole log (as every load did before);
later loads check only the entries written since that point, after confirming that the row at
the point is still there with the same hash (``AuditLog.verify(after_seq, after_hash)``). A
change to an older entry is found by the next full check, which a load starts in the background
(at most one at a time per store) once the last one is older than ``interval`` (10 minutes by
default). A full check must also still contain the newest point found good, so cutting entries
off the end of the log is caught too.

A failure is never remembered as good: once a check (full or incremental) finds tampering, every
later load shows it until a full check that started after it was found passes.

The clock is the service's (``web.clock``), passed in by the caller, and the background thread
is started by an injectable ``start`` (tests pass one that runs it at once), so nothing here
depends on timing. Give the app another policy with ``app.state.pages_log_checks = LogChecks(...)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from vbr.store.log import GENESIS, AuditLog, Verification

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = dt.timedelta(minutes=10)


def in_thread(run: Callable[[], None]) -> None:
    """Run ``run`` in a daemon thread (a full check must not hold up the page that starts it)."""
    threading.Thread(target=run, name="vbr-pages-log-check", daemon=True).start()


@dataclass
class _State:
    """What this process knows about one store's log. Guarded by ``LogChecks._lock``."""

    full_at: dt.datetime | None = None  # when the last full check that completed was started
    full_seq: int = 0  # the last entry the last passing full check covered
    good_seq: int = 0  # the newest point found good (by a full or an incremental check)
    good_hash: str = GENESIS
    failure: Verification | None = None  # tampering found and not yet cleared by a full check
    failure_at: dt.datetime | None = None
    failures: int = 0  # failures found so far: a full check started before one cannot clear it
    running: bool = False  # a background full check is under way


@dataclass(frozen=True)
class LogStatus:
    """What the dashboard says about the log, and what was checked to say it."""

    ok: bool
    now: dt.datetime
    problem: str | None = None
    first_bad_seq: int | None = None
    found_at: dt.datetime | None = None  # when the failure was found
    full_rows: int = 0  # entries the last passing full check covered
    full_at: dt.datetime | None = None
    since: int = 0  # entries after those, checked by incremental checks since
    new: int = 0  # of which checked by this load
    running: bool = False  # a full check is running in the background
    interval: dt.timedelta = DEFAULT_INTERVAL

    def clock(self, t: dt.datetime | None) -> str:
        """``09:10 UTC`` (with the date when it is not today's)."""
        if t is None:
            return ""
        utc, today = t.astimezone(dt.timezone.utc), self.now.astimezone(dt.timezone.utc)
        return utc.strftime("%H:%M UTC" if utc.date() == today.date() else "%d %b %Y %H:%M UTC")

    @property
    def minutes(self) -> str:
        """The interval between full checks, in words."""
        m = int(self.interval.total_seconds() // 60)
        if m < 1:
            return f"{int(self.interval.total_seconds())} seconds"
        return "minute" if m == 1 else f"{m} minutes"


class LogChecks:
    """Per-process cache of audit-log checks, keyed by store URL (see the module docstring).

    ``interval``: how old the last full check may be before a load starts another.
    ``start``: how a background full check is run (default: a daemon thread)."""

    def __init__(self, interval: dt.timedelta = DEFAULT_INTERVAL,
                 start: Callable[[Callable[[], None]], None] = in_thread) -> None:
        self.interval = interval
        self.start = start
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def check(self, log: AuditLog, key: str, now: dt.datetime) -> LogStatus:
        """Check what needs checking for this load of the page; say what is known."""
        with self._lock:
            st = self._states.setdefault(key, _State())
            first, failed, point = st.full_at is None, st.failure is not None, (st.good_seq, st.good_hash)
            failures = st.failures
        new = 0
        if first:
            self._full(log, st, now, failures)  # nothing to go on yet: the whole log, before the page answers
        elif not failed:
            v = log.verify(*point)
            self._record(st, v, now)
            new = v.rows if v.ok else 0
        self._maybe_start_full(log, st, now)
        with self._lock:
            if st.failure is not None:
                f = st.failure
                return LogStatus(False, now, f.problem, f.first_bad_seq, st.failure_at, running=st.running,
                                 interval=self.interval)
            since = st.good_seq - st.full_seq
            return LogStatus(True, now, full_rows=st.full_seq, full_at=st.full_at, since=since,
                             new=min(new, since), running=st.running, interval=self.interval)

    # ------------------------------------------------------------------ internals

    def _record(self, st: _State, v: Verification, now: dt.datetime) -> None:
        with self._lock:
            self._note(st, v, now)

    @staticmethod
    def _note(st: _State, v: Verification, at: dt.datetime) -> None:
        """Keep the newest good point; a failure stays until a full check clears it. The caller
        holds the lock."""
        if not v.ok:
            st.failure, st.failure_at, st.failures = v, at, st.failures + 1
        elif v.last_seq > st.good_seq:
            st.good_seq, st.good_hash = v.last_seq, v.last_hash

    def _full(self, log: AuditLog, st: _State, started: dt.datetime, failures: int) -> None:
        """The whole chain, then the newest point found good before it (still there, same hash,
        and the entries after it): a log rebuilt or cut short behind the page's back fails.
        ``failures``: how many had been found when the check was started; if more are found
        before it ends, its pass does not clear them (it may have read the rows before they changed)."""
        v = log.verify()
        with self._lock:
            point = (st.good_seq, st.good_hash)
        if v.ok and point[0] > 0:
            after = log.verify(*point)
            if not after.ok:
                v = after
            else:
                self._record(st, after, started)  # entries written while the full check ran
        with self._lock:
            st.full_at = started
            self._note(st, v, started)
            if v.ok:
                st.full_seq = v.last_seq
                if st.failures == failures:  # nothing was found while this check ran
                    st.failure = st.failure_at = None

    def _maybe_start_full(self, log: AuditLog, st: _State, now: dt.datetime) -> None:
        with self._lock:
            if st.running or st.full_at is None or now - st.full_at < self.interval:
                return
            st.running, failures = True, st.failures

        def run() -> None:
            try:
                self._full(log, st, now, failures)
            except Exception:  # e.g. the database went away: nothing is recorded, a later load retries
                logger.exception("the full check of the audit log could not finish")
            finally:
                with self._lock:
                    st.running = False

        try:
            self.start(run)
        except BaseException:
            with self._lock:
                st.running = False
            raise


CHECKS = LogChecks()  # the process's cache, unless the app is given its own (app.state.pages_log_checks)
