"""Assignment: deterministic, balanced, weights honoured, exclusions, no reassignment, engine parity."""

from __future__ import annotations

import hashlib
from collections import Counter

import duckdb
import pytest
from scipy import stats as sps

from levier.analysis.experiments.assignment import (
    assign_batch,
    assign_variant,
    bucket,
    plan_assignments,
    split_units,
    write_csv,
)
from levier.errors import OptionError

UNITS = [f"L{i:06d}" for i in range(20000)]


def test_stable_and_pure() -> None:
    first = assign_batch("exp-1", UNITS, ["control", "treatment"])
    again = assign_batch("exp-1", reversed(UNITS), ["control", "treatment"])
    assert first == again
    assert all(assign_variant("exp-1", u, ["control", "treatment"]) == first[u] for u in UNITS[:500])
    other = assign_batch("exp-2", UNITS, ["control", "treatment"])
    assert sum(first[u] != other[u] for u in UNITS) > 9000  # keys are independent


def test_known_bucket_value() -> None:
    digest = hashlib.sha256(b"exp-1/L000001").hexdigest()
    assert bucket("exp-1", "L000001") == int(digest[:13], 16) / 2**52


def test_balanced_within_binomial_tolerance() -> None:
    counts = list(assign_batch("balance", UNITS, ["a", "b"]).values()).count("a")
    assert sps.binomtest(counts, len(UNITS), 0.5).pvalue > 0.001


def test_weights_are_honoured() -> None:
    res = list(assign_batch("weights", UNITS, ["a", "b", "c"], [0.5, 0.25, 0.25]).values())
    obs = [res.count(v) for v in "abc"]
    assert sps.chisquare(obs, [10000, 5000, 5000]).pvalue > 0.001


def test_exclusions_and_rebalancing_never_reassign() -> None:
    split = split_units("exp", UNITS[:1000], ["control", "treatment"], exclusions={"L000003": "vip"})
    assert "L000003" not in split.new and split.excluded == {"L000003": "vip"}
    existing = dict(split.new)
    rebalanced = split_units("exp", UNITS[:2000], ["control", "treatment"], [0.2, 0.8], existing=existing)
    assert rebalanced.kept == existing  # nobody moves
    assert set(rebalanced.new).isdisjoint(existing)
    share = list(rebalanced.new.values()).count("treatment") / len(rebalanced.new)
    assert share == pytest.approx(0.8, abs=0.05)
    plan = plan_assignments("exp", UNITS[:1000], ["control", "treatment"], exclusions={"L000003": "vip"})
    assert plan.to_dict()["excluded_by_reason"] == {"vip": 1} and (plan.new, plan.kept, plan.excluded) == (999, 0, 1)
    again = rebalanced.plan("exp", ["control", "treatment"], [0.2, 0.8])
    assert again.kept_counts == dict(Counter(existing.values())) and again.new == 2000 - 999  # L000003 no longer excluded
    assert again.counts == {v: list({**existing, **rebalanced.new}.values()).count(v) for v in ("control", "treatment")}


def test_one_plan_counts_in_rule_order_with_zero_arms_and_retired_arms() -> None:
    split = split_units("k", [f"u{i}" for i in range(6)], ["a", "b", "c"], [1, 1, 0],
                        existing={"u0": "old", "u1": "a"}, exclusions={"u2": "list", "u3": "vip", "u4": "opted_out",
                                                                      "u9": "vip"})
    plan = split.plan("k", ["a", "b", "c"], [1, 1, 0])
    assert list(plan.excluded_by_reason.items()) == [("opted_out", 1), ("vip", 1), ("list", 1)]
    assert plan.new_counts == {"a": 1 if split.new["u5"] == "a" else 0, "b": 1 if split.new["u5"] == "b" else 0, "c": 0}
    assert plan.kept_counts == {"old": 1, "a": 1} and plan.counts["c"] == 0 and "old" not in plan.counts
    frame = plan.to_frame()
    assert frame["units"].sum() == 6 and set(frame["status"]) == {"new", "kept", "excluded"}
    assert plan.balance_p_value == 1.0  # one new unit


def test_duckdb_computes_the_same_bucket() -> None:
    con = duckdb.connect()
    rows = con.execute(
        "select u, ('0x' || substr(sha256('exp-1/' || u), 1, 13))::ubigint / 4503599627370496.0 "
        "from unnest(?::varchar[]) t(u)", [UNITS[:200]]).fetchall()
    assert all(b == bucket("exp-1", u) for u, b in rows)


def test_bad_weights_and_csv(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(OptionError):
        assign_variant("k", "u", ["a"], [1])
    with pytest.raises(OptionError):
        assign_variant("k", "u", ["a", "b"], [0, 0])
    split = split_units("k", ["u1", "u2"], ["a", "b"])
    assert write_csv(tmp_path / "x.csv", split.rows("k")) == 2
    assert (tmp_path / "x.csv").read_text().splitlines()[0] == "experiment_key,unit_id,variant"
