"""SLA figures checked by hand on a small table."""

from __future__ import annotations

from datetime import datetime as dt
from datetime import timedelta

import pytest

from levier.kpi import sla
from levier.workspace import Workspace

from .test_timeseries import insert

H = timedelta(hours=1)


def test_sla_by_hand(workspace: Workspace) -> None:
    c = dt(2026, 10, 1, 8)
    insert(workspace, "leads", [{"lead_id": f"L{i}", "created_at": c} for i in range(1, 7)], 1)
    ev = [("L1", "mql", dt(2026, 10, 1, 9)), ("L1", "sql", dt(2026, 10, 1, 21)),  # accepted in 12 h
          ("L2", "mql", dt(2026, 10, 2, 9)), ("L2", "lost", dt(2026, 10, 5, 9)),  # rejected in 72 h (deal lost: timing)
          ("L3", "mql", dt(2026, 10, 3, 9)), ("L3", "lost", dt(2026, 10, 3, 19)),  # rejected in 10 h, no reason
          ("L4", "mql", dt(2026, 10, 4, 9)),  # pending
          ("L5", "mql", dt(2026, 9, 20, 9)), ("L5", "sql", dt(2026, 9, 21, 9)),  # MQL before the period
          ("L6", "mql", dt(2026, 10, 5, 9)), ("L6", "sql", dt(2026, 10, 8, 9))]  # accepted in 72 h
    insert(workspace, "stage_events", [{"lead_id": lid, "stage": st, "at": at} for lid, st, at in ev], 1)
    insert(workspace, "deals", [{"deal_id": "D2", "lead_id": "L2", "created_at": c, "stage": "lost", "won": False, "lost_reason": "timing",
                                 "closed_at": dt(2026, 10, 5)}], 1)
    insert(workspace, "touches", [{"touch_id": f"T{lid}", "lead_id": lid, "at": c + h * H, "channel": "call", "direction": "out"}
                                  for lid, h in (("L1", 1), ("L2", 3), ("L4", 0.5), ("L6", 2))], 1)
    r = sla.sla_report(workspace, dt(2026, 10, 1), dt(2026, 11, 1), sla_hours=48)
    assert (r.mqls, r.accepted, r.rejected, r.pending) == (5, 2, 2, 1)
    assert (r.decided_within_sla, r.accepted_within_sla) == (2, 1) and r.share_within_sla == pytest.approx(0.4)
    assert r.median_hours_to_decision == pytest.approx(42.0)  # hours 10, 12, 72, 72 → (12 + 72) / 2
    assert r.reasons == {"timing": 1, "unspecified": 1}
    assert r.ttf_by_band == {"unscored": {"leads": 5, "contacted": 4, "median_ttf_hours": pytest.approx(1.5), "p90_ttf_hours": pytest.approx(2.7)}}
