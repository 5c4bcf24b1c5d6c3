"""Benchmark: the count-first audit at national scale, in memory vs on a Dask local cluster.

For each size (default 1 M, 10 M and 50 M rows) synthetic applicants are written to Parquet in
a temporary directory, generated in chunks of 1 M rows so the generator's memory stays bounded:
ethnic code (18 NHS codes plus a stray code and blanks), site (40 strata), sex, and a funnel
shortlisted → interviewed → appointed with a few rows that do not reconcile. Codes, sites and
sex are dictionary columns, outcomes booleans, 1 M rows per row group, 5 M rows per file.

Then, each in a fresh process so peak memory is that engine's own:

* ``memory``: read the Parquet files into pandas (categoricals) and run
  ``selection_audit`` (fairlearn cross-check off) -- only up to ``--memory-max`` rows;
* ``dask``: ``selection_audit_dask(glob)`` on a new ``LocalCluster`` (2 worker processes,
  1 thread each, 127.0.0.1); the cluster start (and the workers' first imports) is timed
  separately; peak RSS of the client
  and of each worker (``getrusage`` in the worker processes, fresh cluster per size);
* ``fairlearn``: ``MetricFrame(selection_rate)`` per stage on the rows in memory -- only up to
  ``--fairlearn-max`` rows (it takes seconds per million rows and several GB).

Every engine's per-group rates are checked equal. Prints wall time, rows per second and peak
memory. Target (issue 9): 50 M rows audited on a 2-core machine in under a minute with bounded
memory.

    python benchmarks/audit_scale.py [--sizes 1000000 10000000 50000000] [--no-50m] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CODES = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99", "Q", ""]
CODE_P = np.array([60, 3, 8, 1, 1, 1, 1, 6, 3, 1.5, 2, 1.5, 4, 0.5, 1, 2, 2, 1, 0.05, 0.45])
CODE_P = CODE_P / CODE_P.sum()
SITES = [f"trust{i:02d}" for i in range(40)]
SEXES = ["F", "M", "U"]
STAGES = ["shortlisted", "interviewed", "appointed"]
CHUNK = 1_000_000
FILE_ROWS = 5_000_000


def generate(path: Path, n: int, seed: int = 0) -> float:
    """Write ``n`` rows as Parquet files under ``path``; returns seconds taken."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    code_dict, site_dict, sex_dict = pa.array(CODES), pa.array(SITES), pa.array(SEXES)
    rate = np.linspace(0.35, 0.55, len(CODES))
    writer, file_no, in_file = None, 0, 0
    done = 0
    while done < n:
        m = min(CHUNK, n - done)
        code = rng.choice(len(CODES), size=m, p=CODE_P).astype(np.int8)
        site = rng.integers(0, len(SITES), size=m, dtype=np.int8)
        sex = rng.choice(3, size=m, p=[0.75, 0.24, 0.01]).astype(np.int8)
        short = rng.random(m) < rate[code]
        inter = short & (rng.random(m) < 0.5)
        appt = (inter & (rng.random(m) < 0.4)) | (rng.random(m) < 1e-5)
        table = pa.table({
            "ethnic_code": pa.DictionaryArray.from_arrays(pa.array(code), code_dict),
            "site": pa.DictionaryArray.from_arrays(pa.array(site), site_dict),
            "sex": pa.DictionaryArray.from_arrays(pa.array(sex), sex_dict),
            "shortlisted": pa.array(short), "interviewed": pa.array(inter), "appointed": pa.array(appt),
        })
        if writer is None:
            writer = pq.ParquetWriter(path / f"part-{file_no:04d}.parquet", table.schema, compression="snappy")
        writer.write_table(table, row_group_size=CHUNK)
        done += m
        in_file += m
        if in_file >= FILE_ROWS:
            writer.close()
            writer, file_no, in_file = None, file_no + 1, 0
    if writer is not None:
        writer.close()
    return time.perf_counter() - t0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rates(result) -> dict:
    return {f"{s.table}/{s.from_stage}>{s.stage}/{r.group}": (r.applicants, r.selected)
            for s in result.regime.stages for r in s.groups}


def _warm_up() -> None:
    """Load plugins, scipy and the regimes once, so the timings are of the audit, not of imports."""
    from vbr.fairness import selection_audit

    selection_audit({"shortlisted": [1, 0, 1, 0]}, ["A", "A", "H", "H"], strata=["s", "s", "s", "s"])


def run_memory(path: str) -> dict:
    import pandas as pd

    from vbr.fairness.audit import audit_counts
    from vbr.fairness.counts import count

    _warm_up()
    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    t_read = time.perf_counter() - t0
    counts = count(df[STAGES], df["ethnic_code"], strata=df["site"], sex=df["sex"])
    t_count = time.perf_counter() - t0
    del df
    res = audit_counts(counts, config={"fairlearn_check": False})
    wall = time.perf_counter() - t0
    return {"wall": wall, "read": t_read, "count": t_count, "audit": wall - t_count, "rows": res.counts.n_rows,
            "peak_mb": _peak_mb(), "outcome": res.outcome.value, "rates": _rates(res)}


def _import_on_worker() -> None:
    import pyarrow.parquet  # noqa: F401

    import vbr.fairness.distributed  # noqa: F401


def run_dask(path: str) -> dict:
    from distributed import Client

    from vbr.fairness.audit import audit_counts
    from vbr.fairness.distributed import dask_counts, local_cluster

    _warm_up()
    t0 = time.perf_counter()
    cluster = local_cluster(n_workers=2, threads_per_worker=1)
    client = Client(cluster)
    client.run(_import_on_worker)  # one-off imports on each worker belong to the start, not to the audit
    t_start = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        # what selection_audit_dask does, timed in two steps: count on the cluster, audit the counts
        counts = dask_counts(os.path.join(path, "*.parquet"), stages=STAGES, code_col="ethnic_code",
                             strata_col="site", sex_col="sex", client=client)
        t_count = time.perf_counter() - t1
        res = audit_counts(counts, config={"fairlearn_check": False})
        wall = time.perf_counter() - t1
        workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        client.close()
        cluster.close()
    return {"wall": wall, "start": t_start, "count": t_count, "audit": wall - t_count,
            "rows": res.counts.n_rows, "peak_mb": _peak_mb(),
            "worker_peak_mb": sorted(workers.values()), "outcome": res.outcome.value, "rates": _rates(res)}


def run_fairlearn(path: str) -> dict:
    import pandas as pd
    from fairlearn.metrics import MetricFrame, selection_rate

    df = pd.read_parquet(path)
    codes = df["ethnic_code"].astype(object).to_numpy()
    t0 = time.perf_counter()
    out = {}
    earlier = np.ones(len(df), dtype=bool)
    for s in STAGES:
        y = df[s].to_numpy()[earlier].astype(int)
        mf = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y, sensitive_features=codes[earlier])
        out[s] = {str(k): float(v) for k, v in mf.by_group.items()}
        earlier = earlier & df[s].to_numpy()
    wall = time.perf_counter() - t0
    return {"wall": wall, "count": wall, "audit": 0.0, "rows": len(df), "peak_mb": _peak_mb(), "by_group": out}


def child(engine: str, path: str) -> None:
    fn = {"memory": run_memory, "dask": run_dask, "fairlearn": run_fairlearn}[engine]
    print(json.dumps(fn(path)))


def spawn(engine: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", engine, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_rate(rows: int, secs: float) -> str:
    return f"{rows / secs / 1e6:6.1f} M rows/s"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    ap.add_argument("--no-50m", action="store_true", help="skip sizes above 10 M (short on disk or time)")
    ap.add_argument("--memory-max", type=int, default=50_000_000, help="largest size run in memory")
    ap.add_argument("--fairlearn-max", type=int, default=1_000_000, help="largest size run with fairlearn")
    ap.add_argument("--keep", type=Path, help="write the data here and keep it (default: a temp dir, removed)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    sizes = [s for s in args.sizes if not (args.no_50m and s > 10_000_000)]
    base = args.keep or Path(tempfile.mkdtemp(prefix="vbr-audit-scale-"))
    print(f"machine: {os.cpu_count()} CPUs; data in {base}")
    try:
        for n in sizes:
            path = base / f"rows-{n}"
            if not path.exists():
                secs = generate(path, n)
                size_mb = sum(f.stat().st_size for f in path.glob("*.parquet")) / 2**20
                print(f"\n== {n:,} rows: generated {len(list(path.glob('*.parquet')))} Parquet file(s), "
                      f"{size_mb:.0f} MB, in {secs:.1f} s")
            else:
                print(f"\n== {n:,} rows (existing data in {path})")
            results = {}
            for engine, limit in (("memory", args.memory_max), ("dask", None), ("fairlearn", args.fairlearn_max)):
                if limit is not None and n > limit:
                    print(f"  {engine:9s}  skipped (above --{engine}-max {limit:,})")
                    continue
                r = spawn(engine, path)
                results[engine] = r
                if "error" in r:
                    print(f"  {engine:9s}  FAILED: {r['error']}")
                    continue
                extra = ""
                if engine == "dask":
                    extra = (f"  workers peak {', '.join(f'{m:.0f}' for m in r['worker_peak_mb'])} MB;"
                             f" cluster start {r['start']:.1f} s (not included)")
                elif engine == "memory":
                    extra = f"  (Parquet read {r['read']:.1f} s of the count)"
                print(f"  {engine:9s} total {r['wall']:6.2f} s  {fmt_rate(r['rows'], r['wall'])}  "
                      f"[rows->counts {r['count']:6.2f} s, audit of counts {r['audit']:5.2f} s]  "
                      f"client peak {r['peak_mb']:6.0f} MB{extra}")
            if "memory" in results and "dask" in results and "error" not in results["memory"] \
                    and "error" not in results["dask"]:
                same = results["memory"]["rates"] == results["dask"]["rates"]
                print(f"  dask counts == in-memory counts for every table, stage and group: {same}")
                if not same:
                    raise SystemExit("MISMATCH between the Dask and in-memory audits")
            if "fairlearn" in results and "dask" in results and "error" not in results["fairlearn"] \
                    and "error" not in results["dask"]:
                d = results["dask"]["rates"]
                diff, compared = 0.0, 0
                for stage, groups in results["fairlearn"]["by_group"].items():
                    for code, rate in groups.items():
                        prev = "applied" if stage == STAGES[0] else STAGES[STAGES.index(stage) - 1]
                        key = f"ethnicity/{prev}>{stage}/{code}"
                        if key in d and d[key][0]:
                            diff = max(diff, abs(rate - d[key][1] / d[key][0]))
                            compared += 1
                print(f"  fairlearn MetricFrame rates vs Dask counts: {compared} group-stage rates compared, "
                      f"max difference {diff:.2g}")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
