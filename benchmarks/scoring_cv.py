"""Compare learned-scorer settings by repeated cross-validation on the ASAP training files only.

Run: ``.venv/bin/python benchmarks/scoring_cv.py [--data ../shared/data] [--repeats 0-7]
[--prompts 1-5] [--jobs 2] NAME=JSON [NAME=JSON ...]``

This is how every change to the learned scorer's model was chosen (see the README): the test
files (``*_test.csv``) are never read, so choosing by it cannot tune the model to them. For each
prompt and repeat ``r``, the prompt's ``*_train.csv`` is split into 5 stratified folds (shuffled
with ``random_state=1000 + r``); each setting is trained on four folds and scores the fifth,
against ``Score1``. A prompt's figure for one repeat is the mean QWK over its five held-out
folds. Each setting after the first is reported against the first (the reference): the mean gain
over prompts and repeats, how many repeats gained, and the gain on each prompt.

A setting is ``LearnedScorer`` keyword arguments as JSON, e.g. ``default={}``
``once='{"cut_bags": 0}'``. Work is spread over ``--jobs`` processes (each fit on one thread); a
fit of 1,200-1,600 answers takes a few seconds, so 8 repeats of 5 prompts cost about 25 minutes
of CPU per setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vbr.scoring.agreement import quadratic_weighted_kappa as qwk  # noqa: E402
from vbr.scoring.learned import LearnedScorer  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def numbers(spec: str) -> list[int]:
    """``"0-7"`` or ``"1,3,5"`` as a list of whole numbers."""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def setting(text: str) -> tuple[str, dict]:
    name, sep, params = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write a setting as NAME=JSON, e.g. default={{}}")
    try:
        kwargs = json.loads(params)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"{name}: the settings are not JSON ({e})") from None
    if not isinstance(kwargs, dict):
        raise argparse.ArgumentTypeError(f"{name}: the settings must be a JSON object of LearnedScorer arguments")
    LearnedScorer(**kwargs)  # an unknown argument is refused here, before any work
    return name, kwargs


def held_out_qwk(path: str, repeat: int, kwargs: dict) -> float:
    """Mean QWK over the five held-out folds of one prompt's training file."""
    df = pd.read_csv(path)
    texts = np.array(df.EssayText.astype(str).tolist(), dtype=object)
    y = df.Score1.to_numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=1000 + repeat).split(texts, y)
    return float(np.mean([qwk(y[va], LearnedScorer(**kwargs).fit(list(texts[tr]), y[tr]).predict(list(texts[va])))
                          for tr, va in folds]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("settings", nargs="+", type=setting, metavar="NAME=JSON",
                    help="LearnedScorer arguments as JSON; the first is the reference")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=numbers, default=numbers("0-7"), help="e.g. 0-7 (the default) or 0,3")
    ap.add_argument("--prompts", type=numbers, default=numbers("1-5"), help="ASAP prompts, e.g. 1-5 (the default)")
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = ap.parse_args(argv)
    files = {p: args.data / "asap-sas" / f"{p}_GOLD_train.csv" for p in args.prompts}
    missing = [str(f) for f in files.values() if not f.exists()]
    if missing:
        sys.exit(f"no data at {', '.join(missing)}: pass --data path/to/shared/data")
    if len({name for name, _ in args.settings}) < len(args.settings):
        sys.exit("give each setting its own name")

    tasks = [(name, p, r) for name, _ in args.settings for p in args.prompts for r in args.repeats]
    params = dict(args.settings)
    print(f"{len(tasks)} runs of 5 folds: settings {', '.join(params)}; prompts {args.prompts}; "
          f"repeats {args.repeats}", flush=True)
    scores: dict[tuple[str, int, int], float] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {(n, p, r): pool.submit(held_out_qwk, str(files[p]), r, params[n]) for n, p, r in tasks}
        for i, (key, fut) in enumerate(futures.items(), 1):
            scores[key] = fut.result()
            print(f"  [{i}/{len(tasks)}] {key[0]} prompt {key[1]} repeat {key[2]}: {scores[key]:.4f}", flush=True)

    ref = args.settings[0][0]
    print(f"\nmean held-out QWK over prompts {args.prompts} and repeats {args.repeats}")
    for name in params:
        mean = np.mean([scores[(name, p, r)] for p in args.prompts for r in args.repeats])
        line = f"  {name:>16} {mean:.4f}"
        if name != ref:
            gain = np.array([[scores[(name, p, r)] - scores[(ref, p, r)] for p in args.prompts]
                             for r in args.repeats])
            by_repeat = gain.mean(axis=1)
            line += (f"  vs {ref}: {gain.mean():+.4f}, higher in {int((by_repeat > 0).sum())} of "
                     f"{len(by_repeat)} repeats; by prompt "
                     + ", ".join(f"{p}: {g:+.4f}" for p, g in zip(args.prompts, gain.mean(axis=0))))
        print(line)


if __name__ == "__main__":
    main()
