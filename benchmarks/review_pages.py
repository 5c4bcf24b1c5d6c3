"""Review pages at campaign scale: how long the recruiter's and equality officer's pages take as
a campaign grows.

Builds a campaign of synthetic candidates (``vbr.demo.generate``: the demo's answers, scored by
the evidence scorer, a shortlist proposed), then serves the real pages in-process (FastAPI's
TestClient, signed in as a recruiter and as an equality officer) and times each page, median
of ``--repeats`` loads. The reference, in the same run, is reading the campaign's current
scores whole with their evidence (``Store.current_scores``): what every review page did once
per load (three times for a candidate page) before they read only what they show. A page about
one candidate should not grow with the campaign; a list of every candidate does, but gently.
The dashboard's first load (one, not a median) checks the whole audit log; later loads check only
the entries written since (``vbr.pages.logcheck``).

    python benchmarks/review_pages.py [--candidates 1000 --candidates 5000] [--repeats 5]

``--campaigns N`` times the "Your campaigns" page in a store of a trust's size instead: N
campaigns of ``--campaign-candidates`` candidates each (one campaign generated and scored, then
copied in SQL under new ids and dates), a tenth of each campaign's scores accepted in the log
(as the review page writes them) and a few overridden, plus as many campaigns of another tenant.
The page is timed for a recruiter (with each campaign's review progress) and an equality officer.
To time an older version of vbr, copy this file into a checkout of it and run it there: it
imports the vbr beside it, and says which.

    python benchmarks/review_pages.py --campaigns 200 [--campaign-candidates 300]

Nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from vbr.demo import generate  # noqa: E402
from vbr.engine import Engine  # noqa: E402
from vbr.server.app import Settings, create_app  # noqa: E402

RUBRIC = "nhs-constitution"
CAMPAIGN = "bench-review"


def build(folder: Path, n: int) -> tuple[Engine, float]:
    t = time.perf_counter()
    engine = Engine(folder / "vbr.sqlite")
    demo = generate(engine.rubric(RUBRIC), campaign_id=CAMPAIGN, n=n, seed=11)
    engine.create_campaign(CAMPAIGN, "Benchmark", RUBRIC, question_ids=demo.question_ids, actor="bench",
                           tenant="t1")
    engine.submit(CAMPAIGN, demo.applications, demo.responses, names=demo.names)
    engine.add_equality_records(demo.equality, actor="bench")
    engine.score(CAMPAIGN)
    engine.propose_shortlist(CAMPAIGN, top=max(1, n // 10), actor="bench")
    return engine, time.perf_counter() - t


def sign_in(client: TestClient, key: str) -> None:
    client.cookies.clear()
    page = client.get("/pages/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/pages/sign-in", data={"csrf": csrf, "api_key": key, "next": "/pages/campaigns"},
                    follow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text[:300])


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(n: int, repeats: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine, setup = build(Path(tmp), n)
        app = create_app(engine, settings=Settings())
        scores = len(engine.store.score_states(CAMPAIGN))
        first = engine.store.application_ids(CAMPAIGN)[n // 2]
        rows = [("setup (generate, submit, score), s", setup), ("current scores", float(scores))]
        rows.append(("reference: read every current score", timed(lambda: engine.store.current_scores(CAMPAIGN),
                                                                  repeats)))
        with TestClient(app) as client:
            def get(path: str):
                def run():
                    r = client.get(path)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                return run

            sign_in(client, app.state.keys.create("recruiter", tenant="t1", actor="bench", name="recruiter")[0])
            for label, path in (("campaigns (recruiter)", "/pages/campaigns"),
                                ("review list", f"/pages/campaigns/{CAMPAIGN}/review"),
                                ("candidate page", f"/pages/campaigns/{CAMPAIGN}/review/{first}")):
                rows.append((label, timed(get(path), repeats)))
            sign_in(client, app.state.keys.create("equality_officer", tenant="t1", actor="bench",
                                                  name="officer")[0])
            # the first load checks the whole audit log; later ones only what was written since
            rows.append(("equality dashboard, first load", timed(get(f"/pages/campaigns/{CAMPAIGN}/equality"), 1)))
            rows.append(("equality dashboard", timed(get(f"/pages/campaigns/{CAMPAIGN}/equality"), repeats)))
        for e in (engine.store.engine, engine.equality.engine):
            e.dispose()
        return rows


# ---------------------------------------------------------------------------- many campaigns

_CLONE = [
    "INSERT INTO campaigns (id, title, rubric_id, rubric_ref, question_ids, organisation, tenant, created_at)"
    " SELECT :new, :title, rubric_id, rubric_ref, question_ids, organisation, :tenant, :ts FROM campaigns WHERE id = :old",
    "INSERT INTO applications (id, campaign_id, reference, disability_confident, submitted_at, created_at)"
    " SELECT :p || id, :new, reference, disability_confident, submitted_at, created_at FROM applications"
    " WHERE campaign_id = :old",
    "INSERT INTO responses (application_id, question_id, original_text, redacted_text, structured, received_at)"
    " SELECT :p || r.application_id, r.question_id, r.original_text, r.redacted_text, r.structured, r.received_at"
    " FROM responses r JOIN applications a ON a.id = r.application_id WHERE a.campaign_id = :old",
    "INSERT INTO scores (application_id, question_id, value_id, level, confidence, evidence, anchor, scorer_id,"
    " scorer_version, rubric_ref, flags, source, created_by, reason, supersedes, created_at)"
    " SELECT :p || s.application_id, s.question_id, s.value_id, s.level, s.confidence, s.evidence, s.anchor,"
    " s.scorer_id, s.scorer_version, s.rubric_ref, s.flags, s.source, s.created_by, s.reason, s.supersedes,"
    " s.created_at FROM scores s JOIN applications a ON a.id = s.application_id WHERE a.campaign_id = :old"
    " ORDER BY s.id",
]


def build_many(folder: Path, campaigns: int, per_campaign: int) -> tuple[Engine, float]:
    """``campaigns`` campaigns of tenant t1 and as many of t2, each a copy of one generated and
    scored campaign of ``per_campaign`` candidates; a tenth of each one's scores accepted and a
    few overridden."""
    import datetime as dt

    from sqlalchemy import text

    t = time.perf_counter()
    engine = Engine(folder / "vbr.sqlite")
    template = "bench-template"
    demo = generate(engine.rubric(RUBRIC), campaign_id=template, n=per_campaign, seed=11)
    engine.create_campaign(template, "Template", RUBRIC, question_ids=demo.question_ids, actor="bench",
                           tenant="template")
    engine.submit(template, demo.applications, demo.responses, names=demo.names)
    engine.score(template)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    store = engine.store
    for i in range(2 * campaigns):
        tenant = "t1" if i % 2 == 0 else "t2"
        cid = f"bench-{tenant}-{i // 2:04d}"
        params = {"new": cid, "old": template, "p": f"{cid}/", "tenant": tenant, "title": f"Campaign {i // 2}",
                  "ts": (start + dt.timedelta(hours=i)).isoformat()}
        with store.engine.begin() as conn:
            for sql in _CLONE:
                conn.execute(text(sql), params)
            store.log.append("bench", "campaign.created", f"campaign:{cid}", payload={"rubric": RUBRIC},
                             conn=conn, campaign_id=cid)
            states = [r for r in conn.execute(text(
                "SELECT s.id, s.application_id, s.question_id, s.value_id, s.level FROM scores s"
                " JOIN applications a ON a.id = s.application_id WHERE a.campaign_id = :c ORDER BY s.id"),
                {"c": cid}).all()]
            for row in states[::10]:  # a tenth accepted, as the review page writes an accept
                store.log.append("recruiter:bench", "score.accepted",
                                 f"score:{row.application_id}/{row.question_id}/{row.value_id}",
                                 payload={"campaign": cid, "score_id": row.id, "level": row.level,
                                          "reviewer_key": "bench", "at": params["ts"],
                                          "fast_accepts_median_seconds": None}, conn=conn, campaign_id=cid)
        for row in states[5::50][:5]:  # and a few changed by a person
            store.override_score(row.application_id, row.question_id, row.value_id, 2, actor="recruiter:bench",
                                 reason="benchmark override")
    return engine, time.perf_counter() - t


def measure_many(campaigns: int, per_campaign: int, repeats: int) -> list[tuple[str, str]]:
    from sqlalchemy import text

    import vbr

    with tempfile.TemporaryDirectory() as tmp:
        engine, setup = build_many(Path(tmp), campaigns, per_campaign)
        with engine.store.engine.connect() as conn:
            count = {name: conn.execute(text(sql)).scalar_one() for name, sql in (
                ("campaigns", "SELECT COUNT(*) FROM campaigns"),
                ("applications", "SELECT COUNT(*) FROM applications"),
                ("score rows", "SELECT COUNT(*) FROM scores"),
                ("log entries", "SELECT COUNT(*) FROM audit_log"),
                ("accepts", "SELECT COUNT(*) FROM audit_log WHERE action = 'score.accepted'"))}
        rows = [("vbr imported from", str(Path(vbr.__file__).resolve().parents[1])),
                ("setup (generate, score, copy, accept)", f"{setup:.1f} s")]
        rows += [(f"{name} in the store", f"{n:,}") for name, n in count.items()]
        app = create_app(engine, settings=Settings())
        with TestClient(app) as client:
            def get(path: str):
                def run():
                    r = client.get(path)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                    return r
                return run

            sign_in(client, app.state.keys.create("recruiter", tenant="t1", actor="bench", name="recruiter")[0])
            shown = len(re.findall(r'<li class="card">', get("/pages/campaigns")().text))
            rows.append(("campaigns shown on the page", f"{shown:,} of {campaigns:,}"))
            rows.append(("campaigns page (recruiter)", f"{timed(get('/pages/campaigns'), repeats):.1f} ms"))
            rows.append(("campaigns page 2 (recruiter)", f"{timed(get('/pages/campaigns?page=2'), repeats):.1f} ms"))
            sign_in(client, app.state.keys.create("equality_officer", tenant="t1", actor="bench",
                                                  name="officer")[0])
            rows.append(("campaigns page (equality officer)", f"{timed(get('/pages/campaigns'), repeats):.1f} ms"))
        for e in (engine.store.engine, engine.equality.engine):
            e.dispose()
        return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", type=int, action="append", default=None,
                    help="campaign size (repeat for several; default 1,000 and 5,000, unless --campaigns)")
    ap.add_argument("--repeats", type=int, default=5, help="loads per page (the median is shown)")
    ap.add_argument("--campaigns", type=int, default=None,
                    help="time the campaigns page with this many campaigns of the recruiter's tenant (and as "
                         "many of another tenant)")
    ap.add_argument("--campaign-candidates", type=int, default=300,
                    help="candidates in each of the --campaigns campaigns (default 300)")
    args = ap.parse_args()
    if args.campaigns:
        rows = measure_many(args.campaigns, args.campaign_candidates, args.repeats)
        print(f"{args.campaigns:,} campaigns of {args.campaign_candidates:,} candidates each (and as many of "
              "another tenant)")
        for label, value in rows:
            print(f"{label:<40}{value:>28}")
        print("median of", args.repeats, "loads")
        if not args.candidates:
            return
    sizes = args.candidates or [1000, 5000]
    results = {n: measure(n, args.repeats) for n in sizes}
    print(f"{'':<38}" + "".join(f"{f'{n:,} candidates':>18}" for n in sizes))
    labels = [label for label, _ in results[sizes[0]]]
    for i, label in enumerate(labels):
        cells = []
        for n in sizes:
            value = results[n][i][1]
            if label.startswith("setup"):
                cells.append(f"{value:>18.1f}")
            elif label == "current scores":
                cells.append(f"{int(value):>18,}")
            else:
                ref = results[n][2][1]
                cells.append(f"{value:>9.1f} ms {value / ref:>4.2f}x" if i > 2 else f"{value:>15.1f} ms")
        print(f"{label:<38}" + "".join(cells))
    print("median of", args.repeats, "loads; 'x' is the page's time over the reference's in the same run (the "
          "reference read each review page once did, three times for a candidate page)")


if __name__ == "__main__":
    main()
