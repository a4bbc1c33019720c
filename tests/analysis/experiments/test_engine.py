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

from .assignment_setup import (
    ARMS,
    BEFORE,
    EDGE_IDS,
    KEY,
    LISTED,
    RULE_EXCLUSIONS,
    engine_variants,
    frames,
    plan_store_run,
    reference,
    write_ids,
)

SCALE = float(1 << HASH_BITS)
WEIGHTS = [None, [2, 1, 1], [1, 0, 1], [0.1, 0.2, 0.7], [1e-9, 1, 3], [1 / 3, 1 / 3, 1 / 3]]


def test_every_demo_lead_gets_the_python_bucket_and_variant(demo_ws) -> None:  # noqa: ANN001
    ids = [str(x) for x in demo_ws.table("leads").lead_id.execute()]
    assert len(ids) == 20_000
    cases = [("demo-exp", None), ("cta/2026", [2, 1, 1]), ("é-test", [0.1, 0.2, 0.7])]
    for (key, weights), got in zip(cases, engine_variants(demo_ws.facts.con, ids, cases), strict=True):
        want = assign_batch(key, ids, ARMS, weights)
        assert sum(got[u][1] == bucket(key, u) for u in ids) == len(ids)  # exact float equality
        assert sum(got[u][2] == want[u] for u in ids) == len(ids)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_edge_ids_and_weights(weights) -> None:  # noqa: ANN001
    con = ibis.duckdb.connect()
    (got,) = engine_variants(con, EDGE_IDS, [("k/ü", weights)])
    want = assign_batch("k/ü", EDGE_IDS, ARMS, weights)
    assert len(got) == len(EDGE_IDS) == 17
    for u in EDGE_IDS:
        digest = hashlib.sha256(f"k/ü/{u}".encode()).hexdigest()
        assert got[u][0] == int(digest[:13], 16)
        assert got[u][1] == bucket("k/ü", u) and got[u][2] == want[u]
    edge = units_table(EDGE_IDS)  # bucket_expr itself (the same formula)
    assert [float(x) for x in con.execute(edge.select(b=bucket_expr("k/ü", edge.unit_id)))["b"]] == \
        [bucket("k/ü", u) for u in EDGE_IDS]


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


def test_plan_store_and_export_match_the_python_plan(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, frames(90))
    weights = [2, 1, 1]
    py = reference(90, weights)
    assert lead_exclusions(workspace) == {**RULE_EXCLUSIONS, "L005": "vip"}
    assert py.excluded == {**RULE_EXCLUSIONS, "L011": "list", "L012": "list"}  # L005 is kept, not excluded
    job = plan_in_engine(workspace, KEY, ARMS, weights, excluded=units_table(LISTED))
    plan = job.plan()
    assert plan == py.plan(KEY, ARMS, weights)  # one plan type, equal field by field
    assert plan == plan_assignments(KEY, [f"L{i:03d}" for i in range(90)], ARMS, weights, existing=BEFORE,
                                    exclusions={**RULE_EXCLUSIONS, **{u: "list" for u in LISTED}})
    assert plan.kept_counts == {"b": 1, "old-arm": 1, "c": 1}  # L001 kept in its first arm, L005 kept though listed
    assert plan.excluded_by_reason == {"opted_out": 2, "vip": 1, "do_not_contact": 1, "list": 2}
    assert list(plan.excluded_by_reason) == ["opted_out", "vip", "do_not_contact", "list"]  # rule order, list last
    assert (plan.new, plan.kept, plan.excluded) == (81, 3, 6) and plan.to_frame()["units"].sum() == 90
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
    assert existing_assignments(workspace, KEY) == {**BEFORE, **py.new}
    again = plan_in_engine(workspace, KEY, ARMS, [1, 1, 9], excluded=units_table(LISTED))
    assert again.plan().new == 0 and again.store(datetime(2026, 11, 2)) == 0  # first assignment wins; no empty batch
    assert workspace.facts.imports().count().execute() == n_imports + 1


def test_plan_store_run_on_a_fresh_workspace(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    """The run the parity test compares, with the values DuckDB gives (the list read from a file by the engine)."""
    from levier.analysis.experiments.unit_files import read_unit_file

    insert_frames(workspace.facts, frames(60))
    py = reference(60, [2, 1, 1])
    listed = read_unit_file(workspace, write_ids(tmp_path / "listed.csv", LISTED), option="--exclude-file")
    run = plan_store_run(workspace, listed, [2, 1, 1])
    assert run["plan"] == py.plan(KEY, ARMS, [2, 1, 1]).to_dict()
    assert run["plan"]["new"] == len(py.new) == run["stored"] == run["rows_inserted"] == 51
    assert run["row_ids"] == list(range(7, 7 + 51)) and run["assigned"] == {**BEFORE, **py.new}
    assert run["file_name"] == "levier experiment assign exp" and run["assigned_at"] == ["2026-11-01 00:00:00"]
    assert run["excluded_A2"] == "vip"


def test_account_units_and_single_unit_exclusions(workspace) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": frames(90)["leads"]})
    plan = plan_in_engine(workspace, "abm", ["a", "b"], unit="account", rules=["vip", "litigation"]).plan()
    assert plan.excluded_by_reason == {"vip": 2} and plan.new == 28  # A1 (L005) and A2 (L007, vip before litigation)
    assert unit_exclusion(workspace, "account", "A2", ["litigation", "vip"]) == "vip"
    assert unit_exclusion(workspace, "account", "A2", ["litigation"]) == "litigation"
    assert unit_exclusion(workspace, "lead", "L003") == "opted_out"
    assert unit_exclusion(workspace, "lead", "L004") is None and unit_exclusion(workspace, "lead", "nobody") is None
    assert unit_exclusion(workspace, "visitor", "L003") is None and unit_exclusion(workspace, "lead", "L003", []) is None
    since = plan_in_engine(workspace, "p", ["a", "b"], since=datetime(2026, 9, 28), rules=[]).plan()
    assert since.new == 3 and since.excluded == 0  # leads created on Sept 28 (i = 27, 55, 83)
