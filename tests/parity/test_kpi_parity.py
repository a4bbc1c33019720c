"""KPI time series (grouped catalogue queries, user formulas, the stored series): the same on DuckDB and PySpark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.parity.conftest import assert_parity

from levier.kpi import grouped, registry, timeseries

#: one KPI per way of grouping: lead facts, funnel (stage events before each period end), spend by date and stage
#: counts, open deals at each period end (deals × period ends), web sessions (window per visitor and period),
#: retention (cumulative sums); the other KPIs reuse these constructs (tests/kpi/test_grouped.py checks them all)
KEYS = ("conversion_rate", "lead_to_opportunity_rate", "cplq", "pipeline_velocity", "bounce_rate", "monthly_churn")
AUG, OCT = datetime(2026, 8, 1), datetime(2026, 10, 1)


def _grouped(ws: Any, grain: str, keys: tuple[str, ...], segments: list[dict[str, str]]) -> dict[str, list[Any]]:
    periods = timeseries.period_starts(AUG, OCT, grain)
    return {k: [[p.isoformat(), i, v] for (p, i), v in sorted(grouped.catalogue_periods(ws, k, periods, grain, segments).items())]
            for k in keys}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_kpi_series_parity(parity) -> None:  # noqa: ANN001
    def run(ws: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"week": _grouped(ws, "week", KEYS, [{}]),
                               "month_by_channel": _grouped(ws, "month", ("conversion_rate",), [{"channel": "inbound"}, {"channel": "partner"}])}
        with ws.session() as s:  # a user formula through the stored series
            if "sql_rate" not in {e.key for e in registry.list_kpis(s)}:
                registry.define_kpi(s, "sql_rate", "count(stage_events, stage == 'sql') / count(leads)", frequency="weekly")
            ser = timeseries.series(ws, s, "sql_rate", "week", AUG, OCT, ("channel",), full=True).to_dict()
            out["sql_rate"] = {x: y for x, y in ser.items() if x != "refreshed_at"}
            s.rollback()
        return out

    a, _ = assert_parity(parity, run)
    week = a["week"]
    assert len(week["cplq"]) == 10 and sum(v is not None for series in week.values() for _p, _i, v in series) > 20
    assert a["sql_rate"]["recomputed"] == 10 and len(a["sql_rate"]["points"]) == 30  # 10 weeks × 3 channels
