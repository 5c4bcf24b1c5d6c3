"""``kill -9`` during a 100,000-row applications import, then run it again.

Deterministic: the subprocess prints ``COMMITTED n`` after each batch commits and, in the third
batch, prints ``MID-TRANSACTION`` once the applications and half the answers are inserted but not
committed, then waits to be killed. The test SIGKILLs it at that moment, so the kill always lands
inside a transaction, never after a sleep. After the kill exactly the committed batches are
stored, every stored application has its answer, and running the same import again completes it
(resumable by application id) with nothing duplicated and nothing lost.

Candidate names cycle through a few values: redaction compiles a pattern per distinct name, and
this test is about crash safety, not redaction speed.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import create_engine, text

ROWS = 100_000
BATCH = 5_000

DRIVER = textwrap.dedent('''
    import sys
    from vbr.engine import Engine
    from vbr.formats import import_applications

    db, path, stop_in_batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = Engine(db)
    real = engine.store.add_applications
    calls = {"n": 0}

    def add_applications(apps, answers=(), **kw):
        calls["n"] += 1
        if calls["n"] != stop_in_batch:
            return real(apps, answers, **kw)
        answers = list(answers)

        def slow():
            for i, a in enumerate(answers):
                if i == len(answers) // 2:
                    print("MID-TRANSACTION", flush=True)
                    import time
                    time.sleep(120)  # the test kills us here
                yield a
        return real(apps, slow(), **kw)

    engine.store.add_applications = add_applications
    report = import_applications(engine, path, "c1", actor="importer", batch_size=%d,
                                 progress=lambda done, total: print("COMMITTED", done, total, flush=True))
    print("DONE", report.imported, report.already_stored, flush=True)
''' % BATCH)


def counts(db: str) -> tuple[int, int, int]:
    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as conn:
        apps = conn.execute(text("SELECT COUNT(*) FROM applications")).scalar_one()
        resp = conn.execute(text("SELECT COUNT(*) FROM responses")).scalar_one()
        orphans = conn.execute(text(
            "SELECT COUNT(*) FROM applications a WHERE NOT EXISTS (SELECT 1 FROM responses r"
            " WHERE r.application_id = a.id)")).scalar_one()
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    eng.dispose()
    return apps, resp, orphans


def run_driver(tmp_path, db, path, stop_in_batch, kill_on=None):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    env = {**os.environ, "VBR_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(path), str(stop_in_batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_on and line.startswith(kill_on):
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, lines, proc.stderr.read()


def test_kill_9_mid_transaction_then_resume_to_complete(tmp_path):
    from vbr.engine import Engine

    db = tmp_path / "vbr.sqlite"
    Engine(db).create_campaign("c1", "Staff nurse", "6cs", question_ids=["6cs-care-1"], actor="recruiter")
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Application ID", "Vacancy Reference", "First Name", "Last Name", "6cs-care-1"])
        for i in range(ROWS):
            w.writerow([f"A{i:06d}", "V-1", "Ann", f"Lee{i % 20}", f"I listened to patient {i} and her family."])

    code, lines, err = run_driver(tmp_path, db, path, stop_in_batch=3, kill_on="MID-TRANSACTION")
    assert code == -signal.SIGKILL, (lines, err)
    assert lines[-1] == "MID-TRANSACTION" and lines[-2] == f"COMMITTED {2 * BATCH} {ROWS}"
    apps, resp, orphans = counts(db)
    assert (apps, resp, orphans) == (2 * BATCH, 2 * BATCH, 0)  # the third batch was rolled back whole

    code, lines, err = run_driver(tmp_path, db, path, stop_in_batch=0)
    assert code == 0, err
    assert lines[-1] == f"DONE {ROWS - 2 * BATCH} {2 * BATCH}"
    assert counts(db) == (ROWS, ROWS, 0)
    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM applications ORDER BY id"))]
        log = conn.execute(text("SELECT COUNT(*) FROM audit_log WHERE action='applications.imported'")).scalar_one()
    eng.dispose()
    assert ids == [f"A{i:06d}" for i in range(ROWS)]
    assert log == 1  # only the completed run logs an import
