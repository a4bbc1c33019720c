"""Assignment in the engine on DuckDB and PySpark: the same buckets and variants as Python, exactly.

The set-up (facts, edge ids, the Python reference, the plan → store → read-back run) is shared
with tests/analysis/experiments/test_engine.py: tests/analysis/experiments/assignment_setup.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tests.analysis.experiments.assignment_setup import (
    ARMS,
    BEFORE,
    EDGE_IDS,
    KEY,
    LISTED,
    engine_variants,
    frames,
    plan_store_run,
    reference,
    write_ids,
)

from levier.analysis.experiments.assignment import assign_batch, bucket
from levier.analysis.experiments.unit_files import read_unit_file

CASES = [("cta/2026", [2.0, 1.0, 1.0]), ("é-test", [0.1, 0.2, 0.7])]  # zero / equal weights and boundaries: test_engine.py


@pytest.fixture(scope="module")
def demo_ids(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The lead ids of the default demo data set (20,000 leads, seed 7)."""
    from levier.data.demo import generate

    out: Path = tmp_path_factory.mktemp("demo_ids")
    generate(out, leads=20_000, seed=7)
    return [str(x) for x in pq.read_table(out / "leads.parquet", columns=["lead_id"]).column("lead_id").to_pylist()]


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_demo_leads_and_edge_ids_get_the_python_assignment_on_both_engines(parity, demo_ids) -> None:  # noqa: ANN001
    ids = demo_ids + EDGE_IDS
    for ws in (parity.duck, parity.spark):
        for (key, weights), got in zip(CASES, engine_variants(ws.facts.con, ids, CASES), strict=True):
            want = assign_batch(key, ids, ARMS, weights)
            assert len(got) == len(ids) == 20_017
            assert sum(got[u][0] == int(hashlib.sha256(f"{key}/{u}".encode()).hexdigest()[:13], 16) for u in ids) == len(ids)
            assert sum(got[u][1] == bucket(key, u) for u in ids) == len(ids)  # exact: h / 2^52 is exact in float64
            assert sum(got[u][2] == want[u] for u in ids) == len(ids)


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_plan_and_store_in_the_engine_on_both_engines(parity_pair, tmp_path: Path) -> None:  # noqa: ANN001
    pair = parity_pair(frames(60))
    listed = write_ids(tmp_path / "listed.csv", LISTED)

    def run(ws: Any) -> dict[str, Any]:  # the exclusion list is read by each engine's reader (Spark: via Arrow)
        return plan_store_run(ws, read_unit_file(ws, listed, option="--exclude-file"), [2, 1, 1])

    duck, spark = pair.run(run)
    assert duck == spark
    py = reference(60, [2, 1, 1])
    assert duck["plan"]["new"] == len(py.new) == duck["stored"] == duck["rows_inserted"] == 51
    assert duck["row_ids"] == list(range(7, 7 + 51)) and duck["assigned"] == {**BEFORE, **py.new}
    assert duck["plan"]["excluded_by_reason"] == {"opted_out": 2, "vip": 1, "do_not_contact": 1, "list": 2}
    assert duck["plan"] == py.plan(KEY, ARMS, [2, 1, 1]).to_dict() and duck["excluded_A2"] == "vip"
