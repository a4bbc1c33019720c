"""Assignment in the engine: the same buckets and variants as Python, counts, one import batch, export."""

from __future__ import annotations

import csv
import hashlib
from bisect import bisect_right
from datetime import datetime
from pathlib import Path

import ibis
import pytest

from levier.analysis.experiments.assignment import (
    HASH_BITS,
    _cumulative,
    assign_batch,
    bucket,
    cumulative_thresholds,
    plan_assignments,
)
from levier.analysis.experiments.engine import (
    bucket_expr,
    bucket_int,
    plan_in_engine,
    units_table,
    variant_expr,
)
from levier.analysis.experiments.storage import (
    existing_assignments,
    lead_exclusions,
    unit_exclusion,
)
from levier.data._frames import insert_frames
from levier.errors import OptionError

SCALE = float(1 << HASH_BITS)
EDGE_IDS = ["L1", "", " ", "é", "Zoë/ß", "日本語", "😀👍", "a/b/c", "x" * 500, "NULL", "0", "-1", "L1 ", "\t", "'quote\"",
            "ﬁ", "e\u0301", "\u00e9"]
WEIGHTS = [None, [2, 1, 1], [1, 0, 1], [0.1, 0.2, 0.7], [1e-9, 1, 3], [1 / 3, 1 / 3, 1 / 3]]


def _engine_frame(con, key: str, ids: list[str], weights) -> dict[str, tuple[float, str]]:  # noqa: ANN001
    t = units_table(ids)
    h = bucket_int(key, t.unit_id)
    arms = ["control", "b", "c"]
    df = con.execute(t.select(unit_id=t.unit_id, h=h, b=bucket_expr(key, t.unit_id), v=variant_expr(h, arms, weights)))
    return {u: (b, v, int(hh)) for u, hh, b, v in df.itertuples(index=False)}


def test_every_demo_lead_gets_the_python_bucket_and_variant(demo_ws) -> None:  # noqa: ANN001
    ids = [str(x) for x in demo_ws.table("leads").lead_id.execute()]
    assert len(ids) == 20_000
    con = demo_ws.facts.con
    for key, weights in (("demo-exp", None), ("cta/2026", [2, 1, 1]), ("é-test", [0.1, 0.2, 0.7])):
        got = _engine_frame(con, key, ids, weights)
        want = assign_batch(key, ids, ["control", "b", "c"], weights)
        assert sum(got[u][0] == bucket(key, u) for u in ids) == len(ids)  # exact float equality
        assert sum(got[u][1] == want[u] for u in ids) == len(ids)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_edge_ids_and_weights(weights) -> None:  # noqa: ANN001
    con = ibis.duckdb.connect()
    got = _engine_frame(con, "k/ü", EDGE_IDS, weights)
    want = assign_batch("k/ü", EDGE_IDS, ["control", "b", "c"], weights)
    for u in EDGE_IDS:
        digest = hashlib.sha256(f"k/ü/{u}".encode()).hexdigest()
        assert got[u][2] == int(digest[:13], 16)
        assert got[u][0] == bucket("k/ü", u) and got[u][1] == want[u]


@pytest.mark.parametrize("weights", WEIGHTS[1:])
def test_thresholds_pick_bisect_right_at_every_boundary(weights) -> None:  # noqa: ANN001
    """h just below, at and above each threshold: the engine's integer test == bisect_right on the float."""
    cum, limits = _cumulative(weights), cumulative_thresholds(weights)
    hs = sorted({max(0, min((1 << HASH_BITS) - 1, t + d)) for t in limits for d in (-1, 0, 1)} | {0, (1 << HASH_BITS) - 1})
    t = ibis.memtable({"h": hs}, schema={"h": "int64"})
    got = ibis.duckdb.connect().execute(t.select(t.h, v=variant_expr(t.h, ["a", "b", "c"], weights)))
    for h, v in got.itertuples(index=False):
        assert v == ["a", "b", "c"][bisect_right(cum, h / SCALE)], (h, weights)


def test_bad_variants_and_weights_are_refused() -> None:
    t = ibis.memtable({"h": [1]})
    with pytest.raises(OptionError):
        variant_expr(t.h, ["only"])
    with pytest.raises(OptionError):
        variant_expr(t.h, ["a", "b"], [1, 2, 3])
    with pytest.raises(OptionError):
        variant_expr(t.h, ["a", "b"], [0, 0])


FRAMES = {
    "leads": [dict(lead_id=f"L{i:03d}", account_id=f"A{i // 3}", created_at=datetime(2026, 9, 1 + i % 28),
                   opted_out_at=datetime(2026, 9, 2) if i in (3, 40) else None, vip=i in (5, 7),
                   litigation=i == 7, do_not_contact=i == 9) for i in range(90)],
    "assignments": [dict(experiment_key="exp", unit_id=u, variant=v, assigned_at=datetime(2026, 8, 1))
                    for u, v in (("L001", "b"), ("L002", "old-arm"), ("L005", "c"), ("ghost", "b"))]
    + [dict(experiment_key="exp", unit_id="L001", variant="c", assigned_at=datetime(2026, 8, 2)),
       dict(experiment_key="other", unit_id="L010", variant="x", assigned_at=datetime(2026, 8, 1))],
}


def test_plan_store_and_export_match_the_python_plan(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, FRAMES)
    arms, weights = ["control", "b", "c"], [2, 1, 1]
    ids = [f"L{i:03d}" for i in range(90)]
    listed = ["L011", "L012", "L005"]
    excl = {**lead_exclusions(workspace), **{u: "list" for u in listed}}
    before = existing_assignments(workspace, "exp")
    py = plan_assignments("exp", ids, arms, weights, existing=before, exclusions=excl)
    job = plan_in_engine(workspace, "exp", arms, weights, excluded=units_table(listed))
    plan = job.plan()
    assert plan.to_dict() == py.to_dict()
    assert plan.kept_counts == {"b": 1, "old-arm": 1, "c": 1}  # L001 kept in its first arm, L005 kept though listed
    assert plan.excluded_by_reason == {"opted_out": 2, "vip": 1, "do_not_contact": 1, "list": 2}
    assert plan.to_frame()["units"].sum() == 90
    export = tmp_path / "crm.csv"
    assert job.export(export) == len(py.new) + len(py.kept)
    with export.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["unit_id"]: r["variant"] for r in rows} == {**py.kept, **py.new}
    n_imports = workspace.facts.imports().count().execute()
    assert job.store(datetime(2026, 11, 1)) == len(py.new) == 81
    imports = workspace.facts.imports().order_by("batch_id").execute().iloc[-1]
    assert workspace.facts.imports().count().execute() == n_imports + 1
    assert (imports["table_name"], imports["rows_inserted"], imports["file_name"]) == ("assignments", 81, "levier experiment assign exp")
    raw = workspace.facts.raw("assignments").execute()
    new = raw[raw["_batch"] == imports["batch_id"]]
    assert sorted(new["_row_id"]) == list(range(7, 7 + 81)) and (new["assigned_at"] == datetime(2026, 11, 1)).all()
    assert existing_assignments(workspace, "exp") == {**before, **py.new}
    again = plan_in_engine(workspace, "exp", arms, [1, 1, 9], excluded=units_table(listed))
    assert again.plan().new == 0 and again.store(datetime(2026, 11, 2)) == 0  # first assignment wins; no empty batch
    assert workspace.facts.imports().count().execute() == n_imports + 1


def test_account_units_and_single_unit_exclusions(workspace) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": FRAMES["leads"]})
    plan = plan_in_engine(workspace, "abm", ["a", "b"], unit="account", rules=["vip", "litigation"]).plan()
    assert plan.excluded_by_reason == {"vip": 2} and plan.new == 28  # A1 (L005) and A2 (L007, vip before litigation)
    assert unit_exclusion(workspace, "account", "A2", ["litigation", "vip"]) == "vip"
    assert unit_exclusion(workspace, "account", "A2", ["litigation"]) == "litigation"
    assert unit_exclusion(workspace, "lead", "L003") == "opted_out"
    assert unit_exclusion(workspace, "lead", "L004") is None and unit_exclusion(workspace, "lead", "nobody") is None
    assert unit_exclusion(workspace, "visitor", "L003") is None and unit_exclusion(workspace, "lead", "L003", []) is None
    since = plan_in_engine(workspace, "p", ["a", "b"], since=datetime(2026, 9, 28), rules=[]).plan()
    assert since.new == 3 and since.excluded == 0  # leads created on Sept 28 (i = 27, 55, 83)
