"""Hash parts (levier.data.parts): disjoint slices that cover every key, and their sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levier.data import parts
from levier.data.parts import add_frames, in_part, part_count
from levier.workspace import Workspace


def _touches(ws: Workspace, n: int) -> None:
    ws.facts.con.raw_sql(
        "INSERT INTO touches (touch_id, lead_id, \"at\", channel, direction, _row_id, _batch) "
        f"SELECT 'T' || i, 'L' || (i % 97), TIMESTAMP '2026-10-01' + to_seconds(i::BIGINT), 'email', 'out', i, 1 FROM range({n}) AS r(i)"
    )


def test_parts_are_disjoint_and_cover_every_key(workspace: Workspace) -> None:
    _touches(workspace, 1000)
    t = workspace.table("touches")
    seen: list[str] = []
    for p in parts.parts(5):
        ids = in_part(t, "lead_id", p).select("lead_id").distinct().execute()["lead_id"].tolist()
        seen.extend(ids)
    assert sorted(seen) == sorted(f"L{i}" for i in range(97))  # each key in exactly one part
    assert in_part(t, "lead_id", (0, 1)).count().execute() == 1000
    assert in_part(t, "lead_id", None).count().execute() == 1000


def test_part_count_follows_part_rows_on_duckdb(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _touches(workspace, 1000)
    assert part_count(workspace) == 1
    monkeypatch.setattr(parts, "PART_ROWS", 300)
    assert part_count(workspace) == 4  # ceil(1000 / 300)
    assert part_count(workspace, ("touches", "leads")) == 4  # the leads table is empty
    assert part_count(workspace, rows_per_part=100) == 10
    assert parts.parts(0) == [(0, 1)]
    t = workspace.facts.raw("touches")
    assert parts.count_for(workspace, t.filter(t._row_id <= 301).count()) == 2  # a filtered count, run on DuckDB
    assert parts.count_for(workspace, 0) == 1 and parts.count_for(workspace, 300) == 1
    assert parts.count_for("duckdb", 301) == 2 and parts.count_for("pyspark", 10**9) == 1  # the engine's name alone
    monkeypatch.setattr(type(workspace.facts), "backend_name", property(lambda self: "pyspark"))
    assert part_count(workspace) == parts.count_for(workspace, 10**9) == 1  # other engines: one part


def test_add_frames_sums_cells_keeps_null_keys_and_takes_max_min() -> None:
    a = pd.DataFrame({"seg": ["x", None, "y"], "k": [1, 1, 2], "n": [3, 4, 5], "top": [1, 0, 9], "lo": [5.0, 2.0, 1.0]})
    b = pd.DataFrame({"seg": [None, "y", "z"], "k": [1, 2, 1], "n": [10, 1, 7], "top": [1, 4, 0], "lo": [1.0, 3.0, np.nan]})
    out = add_frames([a, b], ["seg", "k"], maxes=["top"], mins=["lo"])
    got = {(r.seg if isinstance(r.seg, str) else None, r.k): (r.n, r.top, r.lo) for r in out.itertuples()}
    assert got[(None, 1)] == (14, 1, 1.0)
    assert got[("y", 2)] == (6, 9, 1.0)
    assert got[("x", 1)] == (3, 1, 5.0)
    assert got[("z", 1)][:2] == (7, 0)
    assert list(out.columns) == list(a.columns) and len(out) == 4


def test_add_frames_without_keys_and_single_frame() -> None:
    a = pd.DataFrame({"n": [2], "m": [5]})
    b = pd.DataFrame({"n": [3], "m": [1]})
    assert add_frames([a, b], [], maxes=["m"]).to_dict("records") == [{"n": 5, "m": 5}]
    assert add_frames([a], ["n"]) is a
    with pytest.raises(ValueError):
        add_frames([], ["n"])


def test_add_frames_of_hundreds_of_columns_equal_a_groupby_without_a_fragmentation_warning() -> None:
    """The experiment read-out adds frames of ~200 sums per cell: one reduction call per kind, no
    column-by-column insertion (pandas' PerformanceWarning), the same cells as a per-column agg."""
    import warnings

    rng = np.random.default_rng(1)
    frames = [pd.DataFrame({"k": rng.integers(0, 5, 50), "g": rng.choice(["a", None], 50),
                            **{f"c{j}": rng.normal(size=50) for j in range(200)}}) for _ in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = add_frames(frames, ["k", "g"], maxes=("c1",), mins=("c2",))
    whole = pd.concat(frames)
    how = {c: "max" if c == "c1" else "min" if c == "c2" else "sum" for c in whole.columns if c not in ("k", "g")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = whole.groupby(["k", "g"], dropna=False).agg(how).reset_index()
    a, b = (f.sort_values(["k", "g"]).reset_index(drop=True) for f in (out, ref))
    assert list(out.columns) == list(whole.columns) and len(a) == 10
    pd.testing.assert_frame_equal(a, b[list(a.columns)])
