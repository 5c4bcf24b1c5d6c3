"""Bad input: a clear error naming the row and field, or a finding that sends the audit to BLOCK.
Never a crash, a NaN in the report or a silent drop."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vbr.errors import ValidationFailed
from vbr.fairness import AuditCounts, audit_counts, selection_audit
from vbr.models import Decision


def strict_json(result):
    return json.loads(json.dumps(result.to_dict(), allow_nan=False))


@pytest.mark.parametrize("bad,row", [([1, 0, 2, 1], 2), (["1", "yes", "0", "1"], 1), ([1.0, np.nan, 0.0, 1.0], 1),
                                     ([True, None, False, True], 1), ([1, 0, 0.5, 1], 2)])
def test_outcomes_other_than_0_1_true_false(bad, row):
    with pytest.raises(ValidationFailed) as e:
        selection_audit(bad, ["A", "N", "A", "N"])
    assert e.value.row == row and e.value.field == "selected"
    assert f"row {row}" in str(e.value)


def test_accepted_outcome_spellings():
    a = selection_audit([True, False, 1, 0, "1", "0", " TRUE", "false"], ["A"] * 4 + ["N"] * 4)
    b = selection_audit([1, 0, 1, 0, 1, 0, 1, 0], ["A"] * 4 + ["N"] * 4)
    assert strict_json(a)["results"] == strict_json(b)["results"]


def test_funnel_column_names_the_stage():
    with pytest.raises(ValidationFailed) as e:
        selection_audit({"shortlisted": [1, 0], "appointed": [1, "maybe"]}, ["A", "N"])
    assert e.value.field == "appointed" and e.value.row == 1


def test_lengths_differ():
    with pytest.raises(ValidationFailed, match="3 outcomes but 2 group codes"):
        selection_audit([1, 0, 1], ["A", "N"])
    with pytest.raises(ValidationFailed, match="sex"):
        selection_audit([1, 0], ["A", "N"], sex=["F"])


def test_empty_input():
    with pytest.raises(ValidationFailed, match="no rows"):
        selection_audit([], [])


def test_mixed_types_known_number_is_a_code():
    # 99 (a number) beside text codes is the NHS "not known" code: accepted, counted as unknown
    r = selection_audit([1, 0, 1, 0], ["A", 99, "N", "A"])
    assert strict_json(r)["data_quality"]["unknown_codes"]["applied"] == {"99": 1}


def test_mixed_types_ambiguous_number_is_an_error():
    with pytest.raises(ValidationFailed) as e:
        selection_audit([1, 0, 1, 0], ["A", "N", 3, "A"])
    assert e.value.row == 2 and "mixes numbers and text" in str(e.value)


def test_bool_or_object_code_is_an_error():
    with pytest.raises(ValidationFailed) as e:
        selection_audit([1, 0], ["A", True])
    assert e.value.row == 1


def test_unknown_codes_are_counted_not_dropped():
    codes = ["A", "a ", "Z", "99", None, "", np.nan, "X9", "N", "N"]
    r = selection_audit([1, 0, 1, 0, 1, 0, 1, 0, 1, 1], codes)
    d = strict_json(r)
    assert d["data_quality"]["unknown_codes"]["applied"] == {"Z": 1, "99": 1, "": 3, "X9": 1}
    stage = d["results"][0]
    unknown = next(g for g in stage["groups"] if g["group"] == "Unknown")
    assert (unknown["applicants"], unknown["selected"]) == (6, 3)
    assert stage["total"] == 10 and stage["declaration_rate"] == pytest.approx(0.4)
    codes_found = {f["code"]: f for f in d["findings"]}
    assert codes_found["codes_not_in_grouping"]["severity"] == "review"
    assert codes_found["low_declaration_rate"]["severity"] == "review"
    assert r.outcome is Decision.REVIEW


def test_all_zero_selections_report_no_one_selected():
    r = selection_audit([0] * 30, ["A"] * 15 + ["N"] * 15)
    d = strict_json(r)
    groups = {g["group"]: g for g in d["results"][0]["groups"]}
    assert groups["N"]["verdict"] == "no_one_selected"
    assert groups["N"]["impact_ratio"] is None and "no one" in groups["N"]["why_missing"]["impact_ratio"]
    assert groups["N"]["rate"] == 0.0
    assert r.outcome is Decision.BLOCK  # an empty selection is bad input: it holds the gate
    assert any(f["code"] == "no_one_selected" and f["severity"] == "block" for f in d["findings"])


def test_empty_groups_have_no_figures_and_say_why():
    d = strict_json(selection_audit([1, 0, 1, 1], ["A", "A", "N", "N"]))
    b = next(g for g in d["results"][0]["groups"] if g["group"] == "B")
    assert b["applicants"] == 0 and b["rate"] is None and b["verdict"] == "no_applicants"
    assert b["why_missing"]["rate"] == "no applicants at this stage"


def test_row_funnel_that_does_not_reconcile_blocks():
    r = selection_audit({"shortlisted": [1, 0, 1, 1], "appointed": [1, 1, 0, 0]}, ["A", "N", "A", "N"])
    d = strict_json(r)
    f = next(f for f in d["findings"] if f["code"] == "funnel_does_not_reconcile")
    assert f["severity"] == "block" and f["row"] == 1 and f["count"] == 1 and f["stage"] == "appointed"
    assert r.outcome is Decision.BLOCK and not d["data_quality"]["funnel_reconciles"]


def test_aggregated_counts_more_selected_than_applied_is_an_error():
    with pytest.raises(ValidationFailed, match="5 selected but only 4 applied"):
        AuditCounts.from_group_counts({"A": [10, 3], "N": [4, 5]})


def test_aggregated_counts_audit():
    r = audit_counts(AuditCounts.from_group_counts({"A": [80, 48], "N": [40, 12]}))
    assert r.outcome is Decision.BLOCK and r.fairlearn["checked"] is False


def test_applied_column_must_be_all_ones():
    with pytest.raises(ValidationFailed, match="applied"):
        selection_audit(pd.DataFrame({"applied": [1, 0], "shortlisted": [1, 0]}), ["A", "N"])
    ok = selection_audit(pd.DataFrame({"applied": [1, 1], "shortlisted": [1, 0]}), ["A", "N"])
    assert ok.counts.stages == ("applied", "shortlisted")


def test_unknown_regime_and_grouping_and_reference():
    from vbr.errors import NotFound

    with pytest.raises(NotFound, match="unknown regime"):
        selection_audit([1, 0], ["A", "N"], regime="nope")
    with pytest.raises(NotFound, match="unknown grouping"):
        selection_audit([1, 0], ["A", "N"], grouping="nope")
    with pytest.raises(ValidationFailed, match="reference"):
        selection_audit([1, 0], ["A", "N"], reference="Martian")


def test_config_rejects_unknown_keys():
    with pytest.raises(Exception, match="extra"):
        selection_audit([1, 0], ["A", "N"], config={"ratio_treshold": 0.5})


def test_no_known_category_at_all():
    r = selection_audit([1, 0, 1], ["Z", None, "99"])
    d = strict_json(r)
    assert any(f["code"] == "no_known_category" for f in d["findings"])
    assert r.outcome is Decision.REVIEW


def test_single_group_has_nothing_to_compare():
    r = selection_audit([1, 0, 1, 1], ["A"] * 4)
    d = strict_json(r)
    assert d["results"][0]["reference"] == "A"
    assert r.outcome is Decision.PASS


@pytest.mark.parametrize("sel,codes,field", [([[1, 1], [1, 0]], ["A", "N"], "selected"),
                                             ([1, 0], [["A"], ["N"]], "groups"),
                                             ([1, 0], [{"x": 1}, "A"], "groups")])
def test_nested_values_are_errors_not_crashes(sel, codes, field):
    with pytest.raises(ValidationFailed) as e:
        selection_audit(sel, codes)
    assert e.value.field == field and e.value.row == 0


def test_two_dimensional_array_is_a_funnel():
    r = selection_audit(np.array([[1, 1], [1, 0], [0, 0], [1, 1]]), ["A", "N", "A", "N"])
    assert r.counts.stages == ("applied", "stage1", "stage2")


def test_scores_must_be_numbers():
    with pytest.raises(ValidationFailed) as e:
        selection_audit([1, 0], ["A", "N"], scores=[1.0, "high"])
    assert e.value.field == "scores" and e.value.row == 1
