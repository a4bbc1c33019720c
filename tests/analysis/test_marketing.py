"""Web funnel, sales cycle, pipeline velocity, retention cohorts and CLTV, worked by hand."""

from __future__ import annotations

from datetime import datetime as dt

import pytest
from tests.analysis.attribution.conftest import insert

from levier.analysis.marketing import pipeline_velocity, retention, sales_cycle, web_funnel

OCT, NOV = dt(2026, 10, 1), dt(2026, 11, 1)


def test_web_funnel(workspace) -> None:  # noqa: ANN001
    ev = [("v1", dt(2026, 10, 1, 10), "page_view", "cpc", None), ("v1", dt(2026, 10, 1, 10, 5), "page_view", None, None),
          ("v1", dt(2026, 10, 1, 10, 6), "form_start", None, None), ("v1", dt(2026, 10, 1, 10, 8), "form_submit", None, "L1"),
          ("v2", dt(2026, 10, 1, 11), "page_view", None, None),
          ("v3", dt(2026, 10, 2, 9), "page_view", None, None), ("v3", dt(2026, 10, 2, 9, 1), "form_start", None, None),
          ("v3", dt(2026, 10, 3, 9), "page_view", None, None)]
    insert(workspace, "web_events", [{"event_id": f"e{i}", "anonymous_id": a, "at": t, "type": ty, "utm_medium": m, "lead_id": lead}
                                     for i, (a, t, ty, m, lead) in enumerate(ev)])
    w = web_funnel(workspace, OCT, NOV)
    assert (w.visitors, w.form_starters, w.form_submitters, w.leads) == (3, 2, 1, 1)
    assert (w.sessions, w.bounced_sessions) == (4, 2)
    assert w.form_completion_rate == 0.5 and w.bounce_rate == 0.5


def test_sales_cycle_and_velocity(workspace) -> None:  # noqa: ANN001
    insert(workspace, "deals", [
        {"deal_id": "D1", "created_at": dt(2026, 10, 1), "closed_at": dt(2026, 10, 11), "won": True, "amount": 1000.0},
        {"deal_id": "D2", "created_at": dt(2026, 10, 2), "closed_at": dt(2026, 10, 22), "won": True, "amount": 3000.0},
        {"deal_id": "D3", "created_at": dt(2026, 10, 3), "closed_at": dt(2026, 10, 10), "won": False, "amount": 500.0},
        {"deal_id": "D4", "created_at": dt(2026, 10, 5), "amount": 700.0},
        {"deal_id": "D5", "created_at": dt(2026, 9, 1), "closed_at": dt(2026, 11, 15), "won": True, "amount": 900.0},
    ])
    c = sales_cycle(workspace, OCT, NOV)
    assert (c.deals, c.median_days, c.mean_days) == (2, pytest.approx(15.0), pytest.approx(15.0))
    v = pipeline_velocity(workspace, OCT, NOV)
    assert (v.opportunities, v.won, v.lost) == (2, 2, 1)
    assert v.win_rate == pytest.approx(2 / 3) and v.average_won_amount == pytest.approx(2000.0)
    assert v.velocity_per_day == pytest.approx(2 * (2 / 3) * 2000 / 15)


def test_retention_and_cltv(workspace) -> None:  # noqa: ANN001
    months = {"A": (8, 9, 10), "B": (8, 9), "C": (9, 10)}
    insert(workspace, "orders", [{"order_id": f"{a}{m}", "account_id": a, "at": dt(2026, m, 5), "amount": 100.0}
                                 for a, ms in months.items() for m in ms])
    r = retention(workspace, None, NOV)
    assert r.cohorts == (("2026-08", 0, 2), ("2026-08", 1, 2), ("2026-08", 2, 1), ("2026-09", 0, 1), ("2026-09", 1, 1))
    assert r.monthly_churn == pytest.approx(1 / 5)
    assert r.arpa == pytest.approx(100.0) and r.cltv == pytest.approx(500.0)
    assert r.to_frame()["retention"].tolist() == pytest.approx([1.0, 1.0, 0.5, 1.0, 1.0])
