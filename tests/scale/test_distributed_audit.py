"""The Dask path gives the same audit as the in-memory path, and fails loudly on bad input."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")

from vbr.errors import ValidationFailed  # noqa: E402
from vbr.fairness import selection_audit  # noqa: E402
from vbr.fairness.counts import count  # noqa: E402
from vbr.fairness.distributed import PartitionFailed, dask_counts, selection_audit_dask  # noqa: E402

STAGES = ["shortlisted", "interviewed", "appointed"]
NO_FAIRLEARN = {"fairlearn_check": False}  # the Dask path cannot run it and it is slow: compare without
CODES = ["A", "B", "C", "H", "J", "M", "N", "R", "Z", "99", "", None, "Q7", " a", "h "]


def make_frame(seed: int, n: int, *, violations: bool = True, n_strata: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(CODES)))
    df = pd.DataFrame({
        "ethnic_code": pd.Series(rng.choice(np.array(CODES, dtype=object), size=n, p=p), dtype=object),
        "site": rng.choice([f"site{i}" for i in range(n_strata)], size=n),
        "sex": pd.Series(rng.choice(np.array(["F", "M", "female", None, "U", "Male"], dtype=object), size=n),
                         dtype=object),
    })
    rate = rng.uniform(0.2, 0.8, size=len(CODES))[pd.Series(df.ethnic_code).map(
        {c: i for i, c in enumerate(CODES)}).fillna(CODES.index(None)).astype(int)]
    df["shortlisted"] = rng.random(n) < rate
    df["interviewed"] = df.shortlisted & (rng.random(n) < 0.6)
    df["appointed"] = df.interviewed & (rng.random(n) < 0.4)
    if violations:
        df["appointed"] |= rng.random(n) < 0.002
    return df


def strip(d: dict) -> dict:
    """An audit's dict without the fairlearn cross-check, which needs rows on the client."""
    return {k: v for k, v in d.items() if not k.startswith("fairlearn")}


def in_memory(df, regime="ugesp", grouping="detailed", strata=True, sex=True):
    return selection_audit(df[STAGES], df["ethnic_code"], strata=df["site"] if strata else None,
                           sex=df["sex"] if sex else None, regime=regime, grouping=grouping,
                           config=NO_FAIRLEARN)


@pytest.mark.parametrize("seed,regime,grouping", [(0, "ugesp", "detailed"), (1, "ll144", "broad"),
                                                  (2, "wres", "wres"), (3, "ugesp", "broad")])
def test_dask_dataframe_identical_to_in_memory(client, seed, regime, grouping):
    df = make_frame(seed, 20_000)
    ddf = dd.from_pandas(df, npartitions=5)
    got = selection_audit_dask(ddf, stages=STAGES, strata_col="site", sex_col="sex", client=client,
                               regime=regime, grouping=grouping, config=NO_FAIRLEARN)
    want = in_memory(df, regime, grouping)
    assert strip(got.to_dict()) == strip(want.to_dict())
    assert got.outcome == want.outcome
    pd.testing.assert_frame_equal(got.to_frame(), want.to_frame())
    assert any(f.code == "funnel_does_not_reconcile" for f in got.findings)
    assert any(f.code == "codes_not_in_grouping" for f in got.findings)
    assert got.fairlearn["checked"] is False


def test_counts_identical_without_strata_and_sex(client):
    df = make_frame(7, 5_000, violations=False)
    mem = count(df[STAGES], df["ethnic_code"])
    got = dask_counts(dd.from_pandas(df, npartitions=4), stages=STAGES, client=client)
    assert (got.codes, got.sexes, got.strata, got.has_sex) == (mem.codes, mem.sexes, mem.strata, mem.has_sex)
    np.testing.assert_array_equal(got.cells, mem.cells)
    assert got.first_violation_row == mem.first_violation_row == {}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_glob_of_files_identical_to_in_memory(client, tmp_path, fmt):
    df = make_frame(11, 24_000)
    # codes first appear in different files; blank and missing codes in both
    for i, chunk in enumerate(np.array_split(np.arange(len(df)), 4)):
        part = df.iloc[chunk]
        if fmt == "parquet":
            part = part.astype({"ethnic_code": "category", "site": "category"})
            part.to_parquet(tmp_path / f"part{i}.parquet", row_group_size=1500, index=False)
        else:
            part.to_csv(tmp_path / f"part{i}.csv", index=False)
    got = selection_audit_dask(str(tmp_path / f"*.{fmt}"), stages=STAGES, strata_col="site", sex_col="sex",
                               client=client, partition_rows=2000, config=NO_FAIRLEARN)
    if fmt == "csv":  # CSV has no missing-vs-blank distinction: both are blank
        df = df.assign(ethnic_code=df.ethnic_code.replace({"": None}), sex=df.sex)
    want = in_memory(df)
    assert strip(got.to_dict()) == strip(want.to_dict())


def test_schema_mismatch_names_the_file(client, tmp_path):
    df = make_frame(3, 2_000)
    df.iloc[:1000].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[1000:].astype({"appointed": "int64"}).to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(PartitionFailed, match="b.parquet") as exc:
        dask_counts(str(tmp_path / "*.parquet"), stages=STAGES, client=client)
    assert "appointed" in str(exc.value) and "int64" in str(exc.value)
    df.iloc[1000:].drop(columns=["site"]).to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(PartitionFailed, match=r"b\.parquet.*'site' is missing"):
        dask_counts(str(tmp_path / "*.parquet"), stages=STAGES, strata_col="site", client=client)


def test_unreadable_partition_names_the_file(client, tmp_path):
    df = make_frame(4, 3_000)
    for i in range(3):
        df.iloc[i * 1000:(i + 1) * 1000].to_parquet(tmp_path / f"p{i}.parquet", index=False)
    good = (tmp_path / "p1.parquet").read_bytes()
    # a file whose footer is fine but whose data pages are damaged: it fails on the worker
    damaged = bytearray(good)
    mid = len(damaged) // 3
    damaged[4:mid] = b"\x00" * (mid - 4)
    (tmp_path / "p1.parquet").write_bytes(bytes(damaged))
    with pytest.raises(PartitionFailed, match="p1.parquet") as exc:
        dask_counts(str(tmp_path / "*.parquet"), stages=STAGES, client=client, retries=0)
    assert "nothing was audited" in str(exc.value) or "cannot read" in str(exc.value)
    (tmp_path / "p1.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(PartitionFailed, match="p1.parquet"):
        dask_counts(str(tmp_path / "*.parquet"), stages=STAGES, client=client)


def test_bad_value_names_file_and_line(client, tmp_path):
    df = make_frame(5, 2_000)
    df.to_csv(tmp_path / "a.csv", index=False)
    bad = df.astype({"appointed": object})
    bad.loc[bad.index[17], "appointed"] = "maybe"
    bad.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(PartitionFailed, match=r"b\.csv.*line 19.*appointed.*'maybe'"):
        dask_counts(str(tmp_path / "*.csv"), stages=STAGES, client=client)


def test_dask_dataframe_partition_with_other_dtype_is_named(client):
    import dask

    df = make_frame(6, 3_000)
    parts = [dask.delayed(lambda d: d)(df.iloc[:1500]),
             dask.delayed(lambda d: d.astype({"shortlisted": "int64"}))(df.iloc[1500:])]
    ddf = dd.from_delayed(parts, meta=df.iloc[:0], verify_meta=False)
    with pytest.raises(PartitionFailed, match=r"shortlisted.*int64.*partition 1 of 2"):
        dask_counts(ddf, stages=STAGES, client=client)


def test_worker_dying_mid_run_is_retried_and_result_is_whole(client, tmp_path):
    df = make_frame(8, 8_000)
    marker = str(tmp_path / "died")

    def die_once(part, partition_info=None):
        if partition_info and partition_info["number"] == 2 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies; the nanny restarts it and Dask reruns the task
        return part

    ddf = dd.from_pandas(df, npartitions=4).map_partitions(die_once, meta=df.iloc[:0])
    got = dask_counts(ddf, stages=STAGES, strata_col="site", sex_col="sex", client=client)
    assert os.path.exists(marker)
    mem = count(df[STAGES], df["ethnic_code"], strata=df["site"], sex=df["sex"])
    np.testing.assert_array_equal(got.cells, mem.cells)
    assert got.n_rows == len(df)


def test_validation_errors_match_in_memory_rules(client):
    df = make_frame(9, 1_000)
    df.loc[700, "site"] = None
    with pytest.raises(ValidationFailed, match=r"row 700.*site.*missing"):
        dask_counts(dd.from_pandas(df, npartitions=3), stages=STAGES, strata_col="site", client=client)
    mixed = make_frame(9, 1_000)
    mixed["ethnic_code"] = mixed["ethnic_code"].astype(object)
    mixed.loc[900, "ethnic_code"] = 7  # a number in a text column, not a known code
    with pytest.raises(ValidationFailed, match="mixes numbers and text"):
        count(mixed[STAGES], mixed["ethnic_code"])
    import dask

    with dask.config.set({"dataframe.convert-string": False}):  # else Dask turns 7 into "7" itself
        ddf = dd.from_pandas(mixed, npartitions=3)
    with pytest.raises(ValidationFailed, match=r"row 900.*mixes numbers and text"):
        dask_counts(ddf, stages=STAGES, client=client)
    mixed.loc[900, "ethnic_code"] = 99  # the NHS "not known" code as a number is accepted, as in memory
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(mixed, npartitions=3)
    got = dask_counts(ddf, stages=STAGES, client=client)
    assert got.codes == count(mixed[STAGES], mixed["ethnic_code"]).codes


def test_property_counts_identical(client):
    """Small random funnels, odd codes and partitionings: the Dask count table is the in-memory one."""
    import dask
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    code_values = st.sampled_from(["A", "b", " H ", "Z", "99", "", None, "X9", "s"])
    row = st.tuples(code_values, st.sampled_from(["north", "South", "north "]),
                    st.sampled_from(["F", "m", None, "X"]), st.booleans(), st.booleans())

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=st.lists(row, min_size=1, max_size=60), nparts=st.integers(1, 5), categorical=st.booleans())
    def check(rows, nparts, categorical):
        df = pd.DataFrame(rows, columns=["ethnic_code", "site", "sex", "shortlisted", "appointed"])
        df = df.astype({"ethnic_code": object, "sex": object})
        mem = count(df[["shortlisted", "appointed"]], df["ethnic_code"], strata=df["site"], sex=df["sex"])
        src = df.astype({"ethnic_code": "category", "site": "category"}) if categorical else df
        with dask.config.set({"dataframe.convert-string": False}):
            ddf = dd.from_pandas(src, npartitions=min(nparts, len(df)), sort=False)
        got = dask_counts(ddf, stages=["shortlisted", "appointed"], strata_col="site", sex_col="sex", client=client)
        assert (got.codes if not categorical else set(got.codes)) == (mem.codes if not categorical else set(mem.codes))
        assert (got.strata, got.sexes, got.first_violation_row) == (mem.strata, mem.sexes, mem.first_violation_row) \
            or categorical
        if not categorical:
            np.testing.assert_array_equal(got.cells, mem.cells)
        else:  # in memory a Categorical keeps category order (and unused categories): compare per label
            def table(c):
                return {(s, x, k, p): int(c.cells[i, j, m, p]) for i, s in enumerate(c.strata)
                        for j, x in enumerate(c.sexes) for m, k in enumerate(c.codes)
                        for p in range(c.cells.shape[-1]) if c.cells[i, j, m, p]}
            assert table(got) == table(count(df[["shortlisted", "appointed"]], df["ethnic_code"],
                                             strata=df["site"], sex=df["sex"]))

    check()
