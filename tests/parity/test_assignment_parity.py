"""Assignment in the engine on DuckDB and PySpark: the same buckets and variants as Python, exactly."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from levier.analysis.experiments.assignment import HASH_BITS, assign_batch, bucket, plan_assignments
from levier.analysis.experiments.engine import (
    bucket_expr,
    bucket_int,
    plan_in_engine,
    units_table,
    variant_expr,
)
from levier.analysis.experiments.storage import (
    existing_assignments,
    unit_exclusion,
)

ARMS = ["control", "b", "c"]
WEIGHTS = [[2, 1, 1], [0.1, 0.2, 0.7]]  # zero and equal weights, boundaries: tests/analysis/experiments/test_engine.py
EDGE_IDS = ["", " ", "é", "e\u0301", "日本語", "😀👍", "a/b", "x" * 300, "'q\"", "\t", "ﬁ"]


@pytest.fixture(scope="module")
def demo_ids(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The lead ids of the default demo data set (20,000 leads, seed 7)."""
    from levier.data.demo import generate

    out: Path = tmp_path_factory.mktemp("demo_ids")
    generate(out, leads=20_000, seed=7)
    return [str(x) for x in pq.read_table(out / "leads.parquet", columns=["lead_id"]).column("lead_id").to_pylist()]


KEYS = ("cta/2026", "é-test")


def _engine(ws: Any, ids: list[str]) -> dict[str, dict[str, tuple[int, float, str]]]:
    """key → unit → (h, bucket, variant), every key in one query."""
    t = units_table(ids)
    t = t.mutate(**{f"h{i}": bucket_int(key, t.unit_id) for i, key in enumerate(KEYS)})  # hash once per key
    cols: dict[str, Any] = {"unit_id": t.unit_id}
    for i, weights in enumerate(WEIGHTS):
        h = t[f"h{i}"]
        cols |= {f"h{i}": h, f"b{i}": h.cast("float64") / float(1 << HASH_BITS), f"v{i}": variant_expr(h, ARMS, weights)}
    df = ws.facts.con.execute(t.select(**cols))
    edge = units_table(EDGE_IDS[:3])  # bucket_expr itself (same formula as above)
    assert [float(x) for x in ws.facts.con.execute(edge.select(b=bucket_expr(KEYS[0], edge.unit_id)))["b"]] == \
        [bucket(KEYS[0], u) for u in EDGE_IDS[:3]]
    return {key: {str(u): (int(h), float(b), str(v)) for u, h, b, v in zip(df["unit_id"], df[f"h{i}"], df[f"b{i}"], df[f"v{i}"],
                                                                       strict=True)}
            for i, key in enumerate(KEYS)}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_demo_leads_and_edge_ids_get_the_python_assignment_on_both_engines(parity, demo_ids) -> None:  # noqa: ANN001
    ids = demo_ids + EDGE_IDS
    for ws in (parity.duck, parity.spark):
        found = _engine(ws, ids)
        for key, weights in zip(KEYS, WEIGHTS, strict=True):
            got, want = found[key], assign_batch(key, ids, ARMS, weights)
            assert len(got) == len(ids) == 20_011
            assert sum(got[u][0] == int(hashlib.sha256(f"{key}/{u}".encode()).hexdigest()[:13], 16) for u in ids) == len(ids)
            assert sum(got[u][1] == bucket(key, u) for u in ids) == len(ids)  # exact: h / 2^52 is exact in float64
            assert sum(got[u][2] == want[u] for u in ids) == len(ids)


def _frames() -> dict[str, list[dict[str, Any]]]:
    leads = [dict(lead_id=f"L{i:03d}", account_id=f"A{i // 3}", created_at=datetime(2026, 9, 1 + i % 28),
                  opted_out_at=datetime(2026, 9, 2) if i in (3, 40) else None, vip=i in (5, 7), litigation=i == 7,
                  do_not_contact=i == 9) for i in range(60)]
    asg = [dict(experiment_key="exp", unit_id=u, variant=v, assigned_at=datetime(2026, 8, 1))
           for u, v in (("L001", "b"), ("L002", "old"), ("ghost", "b"))]
    asg.append(dict(experiment_key="exp", unit_id="L001", variant="c", assigned_at=datetime(2026, 8, 2)))
    return {"leads": leads, "assignments": asg}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_plan_and_store_in_the_engine_on_both_engines(parity_pair) -> None:  # noqa: ANN001
    pair = parity_pair(_frames())

    def run(ws: Any) -> dict[str, Any]:
        listed = ["L011", "L005"]
        job = plan_in_engine(ws, "exp", ARMS, [2, 1, 1], excluded=units_table(listed))
        plan = job.plan().to_dict()
        stored = job.store(datetime(2026, 11, 1))
        imports = ws.facts.imports()
        last = imports.filter(imports.table_name == "assignments").order_by(imports.batch_id.desc()).limit(1).execute()
        raw = ws.facts.raw("assignments")
        batch = raw.filter(raw._batch == int(last["batch_id"].iloc[0])).execute()
        return {"plan": plan, "stored": stored, "rows_inserted": int(last["rows_inserted"].iloc[0]),
                "row_ids": sorted(int(x) for x in batch["_row_id"]), "assigned": existing_assignments(ws, "exp"),
                "excluded_A2": unit_exclusion(ws, "account", "A2", ["litigation", "vip"])}

    duck, spark = pair.run(run)
    assert duck == spark
    ids = [f"L{i:03d}" for i in range(60)]
    before = {"L001": "b", "L002": "old", "ghost": "b"}
    py = plan_assignments("exp", ids, ARMS, [2, 1, 1], existing=before,
                          exclusions={"L003": "opted_out", "L040": "opted_out", "L007": "vip", "L009": "do_not_contact",
                                      "L011": "list", "L005": "list"})
    assert duck["plan"]["new"] == len(py.new) == duck["stored"] == duck["rows_inserted"] == 52
    assert duck["row_ids"] == list(range(5, 5 + 52)) and duck["assigned"] == {**before, **py.new}
    assert duck["plan"]["excluded_by_reason"] == {"opted_out": 2, "vip": 1, "do_not_contact": 1, "list": 2}
    assert duck["excluded_A2"] == "vip"
