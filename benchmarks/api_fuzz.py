"""A longer schemathesis run against the HTTP service's OpenAPI document than CI's bounded one.

CI runs tests/server/test_schema.py with up to 15 generated cases per operation (valid and
invalid input, as each of the roles that may call it). This runs the same test with more
(``--examples``, default 1,000 per operation) and, for reference in the same run, with CI's 15,
and prints how long each took and whether any response was a 5xx or broke the schema (status,
content type, headers, body). Exit status is pytest's: non-zero if any check failed.

    python benchmarks/api_fuzz.py [--examples 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/server/test_schema.py::test_api_conforms_to_its_schema"


def run(examples: int) -> tuple[int, float, str]:
    env = {**os.environ, "VBR_SCHEMATHESIS_EXAMPLES": str(examples)}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:warnings", "-p", "no:cacheprovider"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    return out.returncode, time.perf_counter() - t, out.stdout[-4000:] + out.stderr[-2000:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=1000, help="generated cases per operation (CI: 15)")
    args = ap.parse_args()
    rows = []
    for label, n in (("CI's bounded run", 15), ("this run", args.examples)):
        code, seconds, tail = run(n)
        rows.append((label, n, code, seconds))
        print(f"{label:<17} up to {n:>4} cases per operation: {'no 5xx, every answer fits the schema' if code == 0 else 'FAILED'}"
              f" ({seconds:.0f} s)", flush=True)
        if code != 0:
            print(tail)
    ratio = rows[1][3] / rows[0][3] if rows[0][3] else float("nan")
    print(f"time ratio {ratio:.1f} for {args.examples / 15:.1f}x the cases")
    sys.exit(max(code for _, _, code, _ in rows))


if __name__ == "__main__":
    main()
