"""The KPI catalogue: includes the audit's metrics, docs/kpis.md is current, compute_kpi works."""

from __future__ import annotations

from datetime import date
from datetime import datetime as dt
from pathlib import Path

import pytest
from tests.analysis.attribution.conftest import insert

from levier.analysis.kpis import KPIS, compute_kpi, kpi, render_markdown
from levier.analysis.metrics import METRICS
from levier.errors import OptionError

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_are_current() -> None:
    assert (DOCS / "kpis.md").read_text(encoding="utf-8") == render_markdown(), (
        "docs/kpis.md is stale: run `.venv/bin/python -m levier.analysis.kpis > docs/kpis.md`"
    )


def test_catalogue_includes_every_audit_metric_and_reads_them() -> None:
    for m in METRICS:
        assert KPIS[m.key].metric is m
    for k in KPIS.values():
        assert k.kind in ("activity", "impact") and k.timing in ("leading", "lagging")
        assert k.frequency in ("daily", "weekly", "monthly", "quarterly")
        assert k.metric.name_fr and k.metric.formula_fr


def test_compute_kpi(workspace) -> None:  # noqa: ANN001
    insert(workspace, "leads", [{"lead_id": f"L{i}", "created_at": dt(2026, 10, 1 + i), "channel": "inbound" if i % 2 else "outbound"}
                                for i in range(4)])
    insert(workspace, "stage_events", [{"lead_id": "L1", "stage": "opportunity", "at": dt(2026, 10, 5)},
                                       {"lead_id": "L1", "stage": "mql", "at": dt(2026, 10, 3)},
                                       {"lead_id": "L2", "stage": "mql", "at": dt(2026, 10, 4)}])
    insert(workspace, "spend", [{"date": date(2026, 10, 2), "source": "google_ads", "cost": 200.0}])
    assert compute_kpi(workspace, "conversion_rate", date(2026, 10, 1), date(2026, 11, 1)).value == pytest.approx(0.25)
    seg = compute_kpi(workspace, "conversion_rate", date(2026, 10, 1), date(2026, 11, 1), segment={"channel": "inbound"})
    assert seg.value == pytest.approx(0.5) and seg.to_dict()["segment"] == {"channel": "inbound"}
    assert compute_kpi(workspace, "mql_to_sql_rate", dt(2026, 10, 1), dt(2026, 11, 1)).value == pytest.approx(0.5)
    assert compute_kpi(workspace, "cpl", dt(2026, 10, 1), dt(2026, 11, 1)).value == pytest.approx(50.0)
    with pytest.raises(OptionError):
        compute_kpi(workspace, "cpl", dt(2026, 10, 1), dt(2026, 11, 1), segment={"channel": "inbound"})


def test_errors(workspace) -> None:  # noqa: ANN001
    with pytest.raises(OptionError):
        kpi("nope")
    with pytest.raises(OptionError):
        compute_kpi(workspace, "quadrants", dt(2026, 10, 1), dt(2026, 11, 1))
    with pytest.raises(OptionError):
        compute_kpi(workspace, "lead", dt(2026, 11, 1), dt(2026, 10, 1))
