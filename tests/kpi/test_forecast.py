"""Forecast: the interval covers a simulated truth at about its nominal rate; engine path on the demo."""

from __future__ import annotations

from datetime import datetime as dt

import numpy as np
import pytest

from levier.kpi import forecast as fc
from levier.workspace import Workspace


def simulate(seed: int, lam: float = 20.0, p: float = 0.3, days: int = 320) -> tuple[dict, list, float, int, int]:
    r = np.random.default_rng(seed)
    arrivals = np.sort(r.uniform(0, days, r.poisson(lam * days)))
    converts = r.random(len(arrivals)) < p
    delay = r.gamma(2.0, 7.0, len(arrivals))
    while (bad := delay > 60).any():
        delay[bad] = r.gamma(2.0, 7.0, bad.sum())
    won_at = np.where(converts, arrivals + delay, np.inf)
    as_of, start, end = 300.5, 285.0, 315.0
    hist = (arrivals >= as_of - 180) & (arrivals < as_of - 60)
    history = {"lead": fc.StageHistory(int(hist.sum()), (won_at - arrivals)[hist & converts])}
    open_mask = (arrivals < as_of) & (won_at >= as_of) & (as_of - arrivals <= 60)
    ages = np.round(as_of - arrivals[open_mask], 1)
    open_leads = [("lead", float(a), 1) for a in ages]
    achieved = int(((won_at >= start) & (won_at < as_of)).sum())
    truth = int(((won_at >= start) & (won_at < end)).sum())
    new_rate = ((arrivals >= as_of - 28) & (arrivals < as_of)).sum() / 28
    return history, open_leads, new_rate, achieved, truth


def test_interval_covers_the_simulated_truth_at_its_nominal_rate() -> None:
    hits = 0
    reps = 300
    for seed in range(reps):
        history, open_leads, rate, achieved, truth = simulate(seed)
        _p, _n, total, lo, hi = fc.forecast_from_history(history, open_leads, "lead", rate, 315.0 - 300.5, achieved, level=0.8)
        hits += lo <= truth <= hi
    assert 0.72 <= hits / reps <= 0.88, hits / reps  # nominal 80 %


def test_conditional_probability_by_hand() -> None:
    h = fc.StageHistory(10, np.array([1.0, 2.0, 3.0, 4.0]))  # p = 0.4; F = 0.25 per day
    # a lead 2 days in (F = 0.5), 1 day left: q = 0.4 · (0.75 − 0.5) / (1 − 0.4 · 0.5) = 0.125
    pipe, new, total, _lo, _hi = fc.forecast_from_history({"lead": h}, [("lead", 2.0, 8)], "lead", 0.0, 1.0, 3)
    assert pipe == pytest.approx(8 * 0.125) and new == 0 and total == pytest.approx(4.0)


def test_period_bounds() -> None:
    assert fc.period_bounds(dt(2026, 11, 17, 9), "month") == (dt(2026, 11, 1), dt(2026, 12, 1))
    assert fc.period_bounds(dt(2026, 11, 17, 9), "quarter") == (dt(2026, 10, 1), dt(2027, 1, 1))


def test_forecast_on_the_demo(demo_ws: Workspace) -> None:
    f = fc.forecast(demo_ws, dt(2026, 10, 15), objective=60)
    st = demo_ws.table("stage_events")
    direct = st.filter((st.stage == "won") & (st.at >= dt(2026, 10, 1)) & (st.at < dt(2026, 10, 15))).lead_id.nunique().execute()
    assert f.achieved == direct
    assert f.low <= f.expected <= f.high and f.expected > f.achieved
    assert set(f.detail["stage_rates"]) == {"lead", "mql", "sql", "opportunity"}
    assert f.verdict in ("likely", "possible", "unlikely")
    truth = st.filter((st.stage == "won") & (st.at >= dt(2026, 10, 1)) & (st.at < dt(2026, 11, 1))).lead_id.nunique().execute()
    assert f.low <= truth <= f.high  # 136 wins; forecast 138.7 [127.8, 149.7] as of 15 October
