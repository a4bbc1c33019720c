"""The first row per key without a window on DuckDB (decision 0236) equals ``row_number() = 0``.

``units._first`` ranks by successive ``GROUP BY`` minimum + join back on DuckDB (out of core);
the reference is the window it replaces (ascending, NULLs last), on hand-worked rows and on a
seeded table with ties and NULLs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from levier.analysis.experiments.units import _first, first_assignments

D = datetime(2026, 10, 1)


def _window(t: ibis.Table, by: str, order: list[str]) -> pd.DataFrame:
    ranked = t.mutate(_rn=ibis.row_number().over(group_by=t[by], order_by=[t[c] for c in order]))
    return ranked.filter(ranked._rn == 0).drop("_rn").execute()


def _sorted(df: pd.DataFrame, by: str) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


def test_first_assignment_by_hand() -> None:
    con = ibis.duckdb.connect()
    rows = pd.DataFrame([
        # U1: the earliest wins
        ("exp", "U1", "b", D + timedelta(days=2), 1), ("exp", "U1", "a", D, 2),
        # U2: same time, the first written (_row_id) wins
        ("exp", "U2", "b", D, 4), ("exp", "U2", "a", D, 3),
        # U3: a missing time sorts last
        ("exp", "U3", "a", None, 5), ("exp", "U3", "c", D + timedelta(days=9), 6),
        # U4: only missing times: the first written
        ("exp", "U4", "c", None, 8), ("exp", "U4", "b", None, 7),
        # another experiment's row is not read
        ("other", "U1", "z", D - timedelta(days=1), 0),
    ], columns=["experiment_key", "unit_id", "variant", "assigned_at", "_row_id"])
    got = _sorted(first_assignments(con.create_table("a", rows), "exp").execute(), "unit_id")
    assert got.unit_id.tolist() == ["U1", "U2", "U3", "U4"]
    assert got.variant.tolist() == ["a", "a", "c", "b"]
    assert got.t0.tolist()[:3] == [pd.Timestamp(D), pd.Timestamp(D), pd.Timestamp(D + timedelta(days=9))]
    assert pd.isna(got.t0.iloc[3])


@pytest.fixture(scope="module")
def seeded() -> ibis.Table:
    rng = np.random.default_rng(3)
    n = 4000
    df = pd.DataFrame({
        "k": [f"K{int(x)}" for x in rng.integers(0, 600, n)],
        "a": pd.Timestamp(D) + pd.to_timedelta(rng.integers(0, 4, n), unit="D"),
        "b": rng.integers(0, 3, n).astype("int64"),
        "c": [f"v{int(x)}" for x in rng.integers(0, 3, n)],
        "_row_id": rng.permutation(n).astype("int64"),
    })
    df.loc[rng.random(n) < 0.2, "a"] = pd.NaT
    df.loc[df.k.isin(["K1", "K2", "K3"]), "a"] = pd.NaT  # keys whose first order column is all NULL
    df.loc[rng.random(n) < 0.1, "c"] = None
    return ibis.duckdb.connect().create_table("t", df)


@pytest.mark.parametrize("order", [["a", "_row_id"], ["a", "b", "_row_id"], ["c", "a", "_row_id"]])
def test_first_row_equals_the_window(seeded: ibis.Table, order: list[str]) -> None:
    t = seeded
    got = _sorted(_first(t, t.k, [t[c] for c in order]).execute(), "k")
    want = _sorted(_window(t, "k", order), "k")
    assert len(got) == t.k.nunique().execute() == 600
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("order", [["a", "b"], ["c"]])
def test_rows_tied_on_every_order_column_give_one_row(seeded: ibis.Table, order: list[str]) -> None:
    t = seeded
    got = _sorted(_first(t, t.k, [t[c] for c in order]).execute(), "k")
    want = _sorted(_window(t, "k", order), "k")
    assert len(got) == len(want) == 600
    # the order columns are the window's; the other columns come from rows tied on them
    pd.testing.assert_frame_equal(got[["k", *order]], want[["k", *order]])
    whole = t.execute()
    for row in got.to_dict("records"):
        tied = whole[whole.k == row["k"]]
        for c in order:
            tied = tied[tied[c].isna()] if pd.isna(row[c]) else tied[tied[c] == row[c]]
        for c in ("a", "b", "c", "_row_id"):
            if c not in order:
                assert any((pd.isna(v) and pd.isna(row[c])) or v == row[c] for v in tied[c].tolist()), (row, c)
