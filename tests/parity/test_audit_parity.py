"""The same audit numbers on DuckDB and PySpark (every aggregate comes from exact counts)."""

from __future__ import annotations

import pytest
from tests.parity.conftest import VOLATILE, assert_parity

from levier.analysis import AuditOptions, run_audit

# Wall-clock and engine/workspace identity legitimately differ between the two runs.
IGNORE = VOLATILE | {"generated_at", "engine", "workspace"}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.parametrize("unit", ["lead", "account"])
def test_audit_parity(parity, unit: str) -> None:
    opts = AuditOptions(period="2026-08", compare_to="previous", unit=unit, min_entity_leads=2)
    a, _ = assert_parity(parity, lambda ws: run_audit(ws, opts).to_dict("en"), ignore=IGNORE)
    assert a["overall"]["n"] > 0 and a["overall"]["correlation"]["code"] == "ok"
