"""Invariants of the count-based audit (hypothesis): fairlearn agrees, row order does not matter,
intervals hold their estimates, and the JSON never carries NaN."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vbr.fairness import builtin_grouping, selection_audit

CODES = list("ABCDEFGHJKLMNPRSZ") + ["99", None, "", "X"]
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def audit_data(draw, max_rows=120):
    n = draw(st.integers(1, max_rows))
    codes = draw(st.lists(st.sampled_from(CODES), min_size=n, max_size=n))
    sel = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return sel, codes


@SETTINGS
@given(audit_data(), st.sampled_from(["detailed", "broad", "wres"]))
def test_rates_equal_fairlearn_metricframe(data, grouping_id):
    sel, codes = data
    grouping = builtin_grouping(grouping_id)
    result = selection_audit(sel, codes, grouping=grouping_id, config={"fairlearn_check": False})
    labels = [grouping.group_of(c) for c in codes]
    y = np.array(sel, dtype=int)
    mf = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y, sensitive_features=labels)
    ours = {r.group: r.rate for r in result.regime.stages[0].groups if r.applicants}
    assert set(ours) == set(mf.by_group.index)
    for g, rate in mf.by_group.items():
        assert ours[g] == rate


@SETTINGS
@given(audit_data(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_result(data, rnd):
    sel, codes = data
    order = list(range(len(sel)))
    rnd.shuffle(order)
    a = selection_audit(sel, codes, grouping="broad").to_dict()
    b = selection_audit([sel[i] for i in order], [codes[i] for i in order], grouping="broad").to_dict()
    for d in (a, b):

        d["findings"] = sorted(json.dumps(f, sort_keys=True) for f in d["findings"])
        d["reasons"] = sorted(d["reasons"])
    assert a == b


@SETTINGS
@given(audit_data(), st.sampled_from(["wilson", "clopper_pearson"]))
def test_intervals_hold_the_estimate_and_json_is_strict(data, method):
    sel, codes = data
    result = selection_audit(sel, codes, grouping="broad", config={"rate_interval": method})
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
    for stage in result.regime.stages:
        for r in stage.groups:
            if r.rate is not None:
                lo, hi = r.rate_ci
                assert 0 <= lo <= r.rate + 1e-12 and r.rate - 1e-12 <= hi <= 1
            if r.ratio_ci is not None and r.impact_ratio is not None:
                lo, hi = r.ratio_ci
                assert lo <= r.impact_ratio + 1e-9
                assert hi is None or r.impact_ratio <= hi + 1e-9
            if r.p_value is not None:
                assert 0 <= r.p_value <= r.p_adjusted <= 1


@settings(max_examples=10, deadline=None)
@given(audit_data(max_rows=60))
def test_in_audit_fairlearn_cross_check_runs_on_small_data(data):
    sel, codes = data
    result = selection_audit(sel, codes)
    d = result.to_dict()
    assert d["fairlearn_checked"] is True and d["fairlearn_max_difference"] == 0.0


def test_cross_check_skipped_above_the_limit():
    d = selection_audit([1, 0, 1], ["A", "N", "A"], config={"fairlearn_check_limit": 2}).to_dict()
    assert d["fairlearn_checked"] is False and "above the cross-check limit" in d["fairlearn_note"]


def test_categorical_and_series_inputs_match_lists():
    import pandas as pd

    sel, codes = [1, 0, 1, 1, 0, 0], ["A", "N", "A", "Z", "N", "A"]
    a = selection_audit(sel, codes).to_dict()["results"]
    b = selection_audit(pd.Series(sel), pd.Categorical(codes)).to_dict()["results"]
    c = selection_audit(np.array(sel, dtype=bool), np.array(codes, dtype=object)).to_dict()["results"]
    assert a == b == c
