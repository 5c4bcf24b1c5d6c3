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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", type=int, action="append", default=None,
                    help="campaign size (repeat for several; default 1,000 and 5,000)")
    ap.add_argument("--repeats", type=int, default=5, help="loads per page (the median is shown)")
    args = ap.parse_args()
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
