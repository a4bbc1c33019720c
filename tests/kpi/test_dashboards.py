"""Dashboard discipline warnings, status from the projection, a view over stored series."""

from __future__ import annotations

from datetime import date
from datetime import datetime as dt

import pytest
from sqlalchemy.orm import Session

from levier.errors import ConflictError
from levier.kpi import dashboards, registry
from levier.kpi.registry import Target
from levier.workspace import Workspace

from .test_timeseries import days


def test_lint(s: Session) -> None:
    get = lambda *k: [registry.get_kpi(s, x) for x in k]  # noqa: E731
    assert dashboards.lint(get(*dashboards.DEFAULTS["ceo"])) == []
    many = get("lead", "web_visitors", "spend", "cpl", "ttf_hours", "contacts_per_lead", "conversion_rate", "win_rate")
    w = dashboards.lint(many)
    assert w[0].startswith("8 KPIs") and "impact metrics (2 of 8)" in w[1]
    assert any("'lead' is a vanity metric" in x for x in w) is False  # conversion_rate is its counterpart, present
    assert any("'web_visitors' is a vanity metric" in x for x in w)


def test_status() -> None:
    t = Target(1, "conversion_rate", 0.30, date(2026, 12, 31), 0.20, None, None)
    assert dashboards.status(0.31, 0.0, 3, t, "increase") == "on_track"
    assert dashboards.status(0.24, 0.02, 3, t, "increase") == "on_track"  # 0.24 + 0.06 reaches 0.30
    assert dashboards.status(0.24, 0.011, 3, t, "increase") == "at_risk"  # covers 0.033 of 0.06
    assert dashboards.status(0.24, -0.01, 3, t, "increase") == "off_track"
    ttf = Target(2, "ttf_hours", 1.0, date(2026, 12, 31), 3.0, None, None)
    assert dashboards.status(2.0, -0.5, 2, ttf, "decrease") == "on_track"


def test_create_and_view(workspace: Workspace, s: Session) -> None:
    days(workspace, dt(2026, 8, 3), 70, batch=1)
    registry.define_kpi(s, "replies", "count(touches, outcome == 'replied')", owner="ana", kind="impact", frequency="weekly")
    registry.set_target(s, "replies", 100, "2026-12-31", baseline=10)
    d = dashboards.create_dashboard(s, "team", "custom", ["replies", "lead"])
    assert d["warnings"][0].startswith("2 KPIs") and any("'lead' is a vanity" in w for w in d["warnings"])
    with pytest.raises(ConflictError):
        dashboards.create_dashboard(s, "team")
    v = dashboards.view(workspace, s, "team", now=dt(2026, 10, 12))
    t = v["tiles"][0]
    assert t["key"] == "replies" and t["period_start"] == "2026-10-05T00:00:00" and t["status"] == "off_track"
    assert t["value"] == workspace.table("touches").filter(lambda x: (x.outcome == "replied") & (x.at >= dt(2026, 10, 5)) & (x.at < dt(2026, 10, 12))).count().execute()
