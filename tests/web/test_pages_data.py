"""Dashboard figures: the CEO view computes a KPI from the facts only when the audit does not hold it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from levier.report.fmt import Formatter
from levier.web import pages_data


def _payload(dash: dict[str, Any]) -> dict[str, Any]:
    return {"dashboard": dash, "framing": {"period": {"start": "2026-09-01T00:00:00", "end": "2026-10-01T00:00:00"}, "ttf_sla_hours": 2.0},
            "comparison": {"previous": {"conversion_rate": 0.18}}}


def test_ceo_kpis_read_the_audit_figures_without_facts_queries(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    asked: list[tuple[str, datetime, datetime]] = []

    def fake(ws: Any, key: str, start: datetime, end: datetime) -> float:
        asked.append((key, start, end))
        return 0.5

    monkeypatch.setattr(pages_data, "kpi_value", fake)
    with workspace.session() as s:
        rows = pages_data.ceo_kpis(s, workspace, _payload({"conversion_rate": 0.21, "complaint_rate": 0.001, "median_ttf_hours": 1.5}),
                                   None, Formatter("en"))
        period = (datetime(2026, 9, 1), datetime(2026, 10, 1))
        assert sorted({k for k, *_ in asked}) == ["cplq", "share_within_sla", "win_rate"]  # not the three the audit holds
        assert (("win_rate", datetime(2026, 8, 2), period[0]) in asked) and ("share_within_sla", *period) in asked
        by_key = {r["key"]: r for r in rows}
        assert by_key["conversion_rate"]["value"] == Formatter("en").pct(0.21, 1) and by_key["conversion_rate"]["ok"] is True  # 0.21 ≥ 0.18 + 0.02
        assert by_key["complaint_rate"]["ok"] is True and by_key["ttf_hours"]["ok"] is True  # 0.001 ≤ 0.002; 1.5 h ≤ 2 h
        asked.clear()
        pages_data.ceo_kpis(s, workspace, _payload({}), None, Formatter("en"))  # an audit without them: computed from the facts
        assert {"conversion_rate", "complaint_rate", "ttf_hours"} <= {k for k, *_ in asked}
