"""Crash safety: ``kill -9`` at random moments during a large import and during webhook delivery.

The CI tests (tests/formats/test_crash_import.py, tests/webhooks/test_crash_delivery.py) kill at
one chosen moment each, deterministically. This benchmark kills at *random* moments, several
times, against the real command line and worker, and prints what was stored after each kill and
after the restart:

* **import**: ``vbr import applications`` of an N-row NHS Jobs-style CSV (default 100,000 rows,
  one answer each, batches of 1,000 per transaction) is SIGKILLed at a random moment once it has
  committed its first batch (up to 95 % of an uninterrupted run's time), then run again to
  completion. After the kill the store
  must hold whole batches only (every application with its answer, nothing half-written, SQLite
  ``integrity_check`` ok); after the rerun it must hold exactly N applications and N answers,
  none twice.
* **webhooks**: N events (default 1,000) queued in the outbox; a delivery worker process sending
  them to a local receiver (which verifies each signature) is SIGKILLed at random moments and
  restarted each time (each kill a random moment within half a second of that worker's first
  send), and a last worker runs until all are delivered. Every event must arrive at least once; only
  deliveries in flight at a kill may arrive twice, always under the same ``webhook-id``, so the
  receiver deduplicates them.

    python benchmarks/crash.py [--rows 100000] [--kills 5] [--events 1000] [--seed 7]

SQLite always; PostgreSQL too for the import when ``VBR_BENCH_PG_URL`` is set (a scratch schema,
dropped afterwards, as in http_load.py). Candidate names cycle through a few values (redaction
compiles a pattern per distinct name; this is about crash safety, not redaction speed).
Nothing asserts on timing; the script exits non-zero if any invariant fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

QUESTION = "6cs-care-1"
CAMPAIGN = "crash"


# ----------------------------------------------------------------------------- import


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Application ID", "Vacancy Reference", "First Name", "Last Name", QUESTION])
        for i in range(rows):
            w.writerow([f"A{i:07d}", "V-1", "Ann", f"Lee{i % 20}",
                        f"I listened to patient {i} and her family, then asked the nurse in charge."])


def import_cmd(url: str, path: Path, batch: int) -> list[str]:
    return [sys.executable, "-m", "vbr", "import", "applications", str(path), "--campaign", CAMPAIGN, "--db", url,
            "--batch-size", str(batch), "--as", "crash-benchmark", "--json"]


def store_state(url: str) -> dict[str, int | bool]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            one = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
            state = {
                "apps": one("SELECT COUNT(*) FROM applications"),
                "distinct_apps": one("SELECT COUNT(DISTINCT id) FROM applications"),
                "answers": one("SELECT COUNT(*) FROM responses"),
                "apps_without_answer": one("SELECT COUNT(*) FROM applications a WHERE NOT EXISTS "
                                           "(SELECT 1 FROM responses r WHERE r.application_id = a.id)"),
                "answers_without_app": one("SELECT COUNT(*) FROM responses r WHERE NOT EXISTS "
                                           "(SELECT 1 FROM applications a WHERE a.id = r.application_id)"),
                "integrity_ok": (one("PRAGMA integrity_check") == "ok") if eng.dialect.name == "sqlite" else True,
            }
    finally:
        eng.dispose()
    return state


def fresh_store(url: str) -> None:
    from vbr.engine import Engine

    Engine(url).create_campaign(CAMPAIGN, "Crash benchmark", "6cs", question_ids=[QUESTION], actor="benchmark")


def wait_for_rows(url: str, proc: subprocess.Popen, timeout: float = 600) -> float:
    """Seconds until the import has committed something (or ended): kills then land in the
    import itself, not in the interpreter's start-up."""
    eng = create_engine(url)
    t = time.perf_counter()
    try:
        while proc.poll() is None and time.perf_counter() - t < timeout:
            with eng.connect() as conn:
                if conn.execute(text("SELECT COUNT(*) FROM applications")).scalar_one():
                    break
            time.sleep(0.02)
    finally:
        eng.dispose()
    return time.perf_counter() - t


def run_import(url: str, path: Path, batch: int) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(import_cmd(url, path, batch), cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"import failed ({out.returncode}): {out.stderr[-2000:]}")
    return time.perf_counter() - t, out.stdout


def import_trials(label: str, make_url, path: Path, rows: int, batch: int, kills: int, rng: random.Random) -> list[str]:
    """Returns the invariant failures (empty when all held); prints one line per trial."""
    failures: list[str] = []
    url = make_url("clean")
    fresh_store(url)
    clean, _ = run_import(url, path, batch)
    print(f"\n[import, {label}] {rows:,} rows in batches of {batch:,}: uninterrupted run {clean:.1f} s "
          f"({rows / clean:,.0f} rows/s, process start included)")
    print(f"{'trial':>5} {'kill at s':>9} {'stored at kill':>14} {'whole batches':>13} {'half-written':>12} "
          f"{'after rerun':>11} {'duplicates':>10} {'lost':>5} {'rerun s':>8}")
    for k in range(1, kills + 1):
        url = make_url(f"k{k}")
        fresh_store(url)
        proc = subprocess.Popen(import_cmd(url, path, batch), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        t = time.perf_counter()
        first = wait_for_rows(url, proc)  # the process has started and committed its first batch
        time.sleep(rng.uniform(0.0, 0.95) * max(0.0, clean - first))
        at = time.perf_counter() - t
        killed = proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL) if killed else None
        proc.wait()
        s = store_state(url)
        half = s["apps_without_answer"] + s["answers_without_app"] + (s["apps"] % batch if s["apps"] < rows else 0)
        whole = s["apps"] % batch == 0 or s["apps"] == rows
        rerun, _ = run_import(url, path, batch)
        after = store_state(url)
        dupes = after["apps"] - after["distinct_apps"]
        lost = rows - after["distinct_apps"]
        print(f"{k:>5} {at:>9.1f} {s['apps']:>14,} {'yes' if whole else 'NO':>13} {half:>12} {after['apps']:>11,} "
              f"{dupes:>10} {lost:>5} {rerun:>8.1f}" + ("" if killed else "  (finished before the kill)"))
        if not (whole and half == 0 and s["integrity_ok"]):
            failures.append(f"import {label} trial {k}: after the kill {s}")
        if not (after["apps"] == after["answers"] == rows and dupes == 0 and lost == 0 and after["integrity_ok"]
                and after["apps_without_answer"] == 0):
            failures.append(f"import {label} trial {k}: after the rerun {after}")
    return failures


# ----------------------------------------------------------------------------- webhooks

WORKER = textwrap.dedent('''
    import sys
    from vbr.webhooks.delivery import DeliveryWorker
    from vbr.webhooks.outbox import Outbox

    outbox = Outbox.open(sys.argv[1])
    worker = DeliveryWorker(outbox, timeout=5, lease_seconds=float(sys.argv[2]), batch=50)
    worker.run(stop=lambda: outbox.counts().get("pending", 0) == 0, idle_seconds=0.2)
''')


class Receiver:
    """A local endpoint that verifies every message with vbr's receiving helper and records ids."""

    def __init__(self, secret: str, delay: float) -> None:
        from vbr.webhooks.receiver import verify

        self.ids: list[str] = []
        self.bad = 0
        self.cut = 0  # requests a kill cut off mid-send: fewer bytes than announced, never acknowledged
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                declared = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(declared)
                if len(body) < declared:  # the sender died mid-request: nothing to verify or answer
                    outer.cut += 1
                    self.close_connection = True
                    return
                try:
                    verify(dict(self.headers), body, secret)
                except Exception:  # noqa: BLE001 - counted and reported
                    outer.bad += 1
                    self.send_response(400)
                else:
                    outer.ids.append(self.headers["webhook-id"])
                    time.sleep(delay)  # a receiver that takes a moment, so kills land mid-send too
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def webhook_trials(tmp: Path, events: int, kills: int, lease: float, rng: random.Random) -> list[str]:
    from vbr.webhooks.outbox import Outbox
    from vbr.webhooks.receiver import SeenIds

    url = f"sqlite:///{tmp / 'webhooks.sqlite'}"
    outbox = Outbox.open(url)
    ep = outbox.add_endpoint("http://127.0.0.1:9/placeholder", actor="benchmark")  # replaced below
    receiver = Receiver(ep["secret"], delay=0.003)
    with outbox.engine.begin() as conn:
        conn.execute(text("UPDATE webhook_endpoints SET url=:u WHERE id=:i"), {"u": receiver.url, "i": ep["id"]})
    ids = [outbox.enqueue("scores.ready", {"campaign_id": CAMPAIGN, "n": i})[0] for i in range(events)]
    script = tmp / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    print(f"\n[webhooks, SQLite] {events:,} events to a local receiver that verifies each signature; the worker "
          f"is killed {kills} times at random and restarted (lease {lease:g} s: a killed worker's in-flight "
          "deliveries are taken up again when it runs out)")
    print(f"{'kill':>5} {'after s':>8} {'delivered':>9} {'pending':>8} {'received':>9}")
    t0 = time.perf_counter()
    for k in range(1, kills + 1):
        proc = subprocess.Popen([sys.executable, str(script), url, str(lease)], cwd=ROOT, stderr=subprocess.DEVNULL)
        before, t = len(receiver.ids), time.perf_counter()
        while len(receiver.ids) == before and proc.poll() is None and time.perf_counter() - t < 60:
            time.sleep(0.005)  # until this worker is sending (past start-up and the dead one's leases)
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        c = outbox.counts()
        print(f"{k:>5} {time.perf_counter() - t0:>8.1f} {c.get('delivered', 0):>9,} {c.get('pending', 0):>8,} "
              f"{len(receiver.ids):>9,}")
    proc = subprocess.run([sys.executable, str(script), url, str(lease)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    total = time.perf_counter() - t0
    receiver.server.shutdown()
    seen, acted, replayed = SeenIds(), set(), 0  # what a receiver deduplicating on webhook-id does
    for i in receiver.ids:
        if i in seen:
            replayed += 1
        else:
            seen.add(i)
            acted.add(i)
    counts = outbox.counts()
    lost = len(set(ids) - set(receiver.ids))
    print(f"after the last restart ({total:.1f} s in all): delivered {counts.get('delivered', 0):,} of {events:,}, "
          f"received {len(receiver.ids):,} messages, {replayed} of them again under an id already seen "
          f"(in flight at a kill), distinct ids acted on {len(acted):,}, lost {lost}, bad signatures {receiver.bad}, "
          f"requests cut off mid-send by a kill {receiver.cut}")
    failures = []
    if proc.returncode != 0:
        failures.append(f"webhooks: the last worker failed: {proc.stderr[-2000:]}")
    if not (counts == {"delivered": events} and lost == 0 and acted == set(ids) and receiver.bad == 0):
        failures.append(f"webhooks: counts {counts}, lost {lost}, bad {receiver.bad}")
    if replayed > kills * 1:  # at most the one delivery in flight per kill (one worker, one send at a time)
        failures.append(f"webhooks: {replayed} repeats for {kills} kills")
    return failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows in the import file")
    ap.add_argument("--batch-size", type=int, default=1000, help="applications per transaction (vbr's default)")
    ap.add_argument("--kills", type=int, default=5, help="kills per part")
    ap.add_argument("--events", type=int, default=1000, help="webhook events")
    ap.add_argument("--lease", type=float, default=2.0, help="delivery lease, seconds (vbr's default: timeout + 30)")
    ap.add_argument("--seed", type=int, default=7, help="random seed for the kill moments")
    ap.add_argument("--parts", default="import,webhooks", help="which to run, comma-separated")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    parts = set(args.parts.split(","))
    failures: list[str] = []
    print(f"vbr crash safety: {os.cpu_count()} CPUs, seed {args.seed}, {args.kills} kills per part")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ.setdefault("VBR_DATA_DIR", str(tmp / "data"))
        if "import" in parts:
            path = tmp / "applications.csv"
            write_csv(path, args.rows)
            failures += import_trials("SQLite", lambda name: f"sqlite:///{tmp / name / 'vbr.sqlite'}", path,
                                      args.rows, args.batch_size, args.kills, rng)
            pg = os.environ.get("VBR_BENCH_PG_URL")
            if pg:
                from http_load import pg_schema

                schemas: dict[str, object] = {}

                def pg_url(name: str) -> str:
                    cm = pg_schema(pg)
                    schemas[name] = cm
                    return cm.__enter__()[0]

                try:
                    failures += import_trials("PostgreSQL", pg_url, path, args.rows, args.batch_size, args.kills, rng)
                finally:
                    for cm in schemas.values():
                        cm.__exit__(None, None, None)
            else:
                print("(PostgreSQL import skipped: set VBR_BENCH_PG_URL to include it)")
        if "webhooks" in parts:
            failures += webhook_trials(tmp, args.events, args.kills, args.lease, rng)
    if failures:
        print("\nFAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print("\nall invariants held" + ("; import: whole batches only after every kill, nothing lost or duplicated after "
                                     "the rerun" if "import" in parts else "")
          + ("; webhooks: every event delivered, repeats only under an id already seen" if "webhooks" in parts else ""))


if __name__ == "__main__":
    main()
