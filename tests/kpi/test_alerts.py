"""Alerts: anomaly on a KPI series notifies its owner once (cool-down, grouping); inaction alerts."""

from __future__ import annotations

from datetime import date, timedelta
from datetime import datetime as dt

import numpy as np
import pytest
from sqlalchemy.orm import Session

from levier.kpi import alerts, registry
from levier.loop.services import actions, webhooks
from levier.workspace import Workspace

from .test_timeseries import insert

WEEK = np.array([1.0, 1.1, 1.05, 1.0, 0.9, 0.35, 0.25])
START = dt(2026, 8, 3)  # a Monday


@pytest.fixture
def busy(workspace: Workspace) -> Workspace:
    """10 weeks of outbound touches with a weekly profile; the last day (2026-10-11) is a 4× burst."""
    r = np.random.default_rng(3)
    touches, leads = [], []
    for d in range(70):
        day = START + timedelta(days=d)
        n = int(r.poisson(60 * WEEK[d % 7])) * (4 if d == 69 else 1)
        for i in range(n):
            touches.append({"touch_id": f"T{d}_{i}", "lead_id": f"L{d}", "at": day + timedelta(minutes=5 * i), "channel": "email",
                            "direction": "out", "outcome": "delivered"})
        leads.append({"lead_id": f"L{d}", "created_at": day, "owner": "rep1"})
    leads.append({"lead_id": "NEW1", "created_at": dt(2026, 10, 12, 4), "owner": "rep2"})  # untouched, SLA 2 h
    leads.append({"lead_id": "NEW2", "created_at": dt(2026, 10, 12, 5), "owner": "rep2"})
    insert(workspace, "leads", leads, 1)
    insert(workspace, "touches", touches, 1)
    return workspace


def test_anomaly_alert_goes_to_the_owner_once(busy: Workspace, s: Session) -> None:
    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')", owner="ana", frequency="daily")
    webhooks.create_webhook(s, "ops", "https://example.invalid/h", ["kpi.alert"])
    now = dt(2026, 10, 12, 9)
    res = alerts.check(busy, s, ["touches_out"], now=now)
    rows = alerts.list_alerts(s)
    kinds = sorted(a.kind for a in rows)
    assert kinds == ["anomaly", "lead_untouched"]
    anomaly = next(a for a in rows if a.kind == "anomaly")
    assert anomaly.subject == "2026-10-11" and anomaly.detail["direction"] == "spike" and anomaly.owner_id is not None
    untouched = next(a for a in rows if a.kind == "lead_untouched")
    assert untouched.detail == {"rep": "rep2", "leads": 2, "example_lead": "NEW1", "oldest": "2026-10-12 04:00:00"}
    deliveries = webhooks.list_deliveries(s)
    # grouped: one event for ana (the anomaly), one for the unowned SLA KPI
    assert sorted(d.payload["data"]["owner"] for d in deliveries) == ["", "ana"]
    assert len(res.created) == 2 and res.bumped == ()
    # a second check inside the cool-down bumps the same alerts and sends nothing
    again = alerts.check(busy, s, ["touches_out"], now=now + timedelta(hours=1))
    assert again.created == () and sorted(again.bumped) == sorted(res.created)
    assert len(webhooks.list_deliveries(s)) == 2 and {a.count for a in alerts.list_alerts(s)} == {2}
    # after the cool-down it fires again
    later = alerts.check(busy, s, ["touches_out"], now=now + timedelta(hours=30), inaction=False)
    assert len(later.created) == 1
    alerts.set_status(s, anomaly.id, "acknowledged")
    assert anomaly.id not in [a.id for a in alerts.list_alerts(s)]


def test_threshold_and_overdue_action(busy: Workspace, s: Session) -> None:
    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')", owner="bo", frequency="daily")
    alerts.check(busy, s, ["touches_out"], now=dt(2026, 10, 12, 9), inaction=False, above=40)
    th = alerts.list_alerts(s, kind="threshold")
    assert len(th) == 1 and th[0].detail["value"] > 40
    actions.create_action(s, title="Call back", owner="ana", due_date=date(2026, 10, 1), kpi_key="conversion_rate", target=0.2,
                          window_start=date(2026, 10, 1), window_end=date(2026, 11, 1))
    firings = alerts.inaction_firings(busy, s, dt(2026, 10, 12, 9))
    assert [f.kind for f in firings if f.kind == "action_overdue"] == ["action_overdue"]
