"""The lead-cohort statistics per creation day, kept per refresh scope: the same values as computed alone, fewer queries."""

from __future__ import annotations

import math
from datetime import date, timedelta
from datetime import datetime as dt

import pandas as pd
import pytest

from levier.analysis.kpis import compute_kpi, compute_kpis
from levier.kpi import _cohorts, grouped
from levier.kpi.timeseries import period_starts, refresh_scope
from levier.workspace import Workspace

LEAD_KPIS = ("lead", "conversion", "conversion_rate", "contacts_per_lead", "ttf_hours", "effective_contact_rate", "share_within_sla",
             "complaint_rate", "unsubscribe_rate", "touch_quality", "pearson_r", "slope", "intercept", "r2")


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(unit=pd.to_datetime(df["unit"]))
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.parametrize("kind", ["x", "ttf"])
def test_days_kept_in_a_scope_equal_the_days_queried_alone(demo_ws: Workspace, kind: str) -> None:
    """Asked for ranges that overlap, leave gaps and fill them, a scope's days are those one query of the range gives."""
    by = ("channel",)
    asks = [(date(2026, 9, 20), date(2026, 9, 27)), (date(2026, 8, 25), date(2026, 9, 3)), (date(2026, 10, 2), date(2026, 10, 9)),
            (date(2026, 8, 1), date(2026, 10, 9))]
    with refresh_scope():
        kept = [_cohorts.days(demo_ws, lo, hi, by, kind) for lo, hi in asks]
    for (lo, hi), got in zip(asks, kept, strict=True):
        alone = _cohorts.days(demo_ws, lo, hi, by, kind)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(alone), check_dtype=False)
    assert len(kept[-1]) > 60 and set(pd.to_datetime(kept[-1]["unit"]).dt.month) == {8, 9, 10}


def test_one_scope_computes_the_per_lead_facts_once(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lead-cohort KPI at its review frequency (day, week, month) in one scope: each day of the per-lead facts queried
    once for both histograms (decision 0239), and the values of each series computed alone; a quarter asks for the days it lacks."""
    from levier.analysis.kpis import KPIS
    from levier.kpi.timeseries import FREQUENCY_GRAIN

    calls: list[tuple[date, date]] = []
    real = _cohorts.lead_facts
    monkeypatch.setattr(_cohorts, "lead_facts", lambda ws, lo, hi, by, part=None: calls.append((lo, hi)) or real(ws, lo, hi, by, part))
    grains = {k: FREQUENCY_GRAIN[KPIS[k].frequency] for k in LEAD_KPIS}
    assert set(grains.values()) == {"day", "week", "month"}
    asked = {k: (g, period_starts(dt(2026, 9, 7), dt(2026, 10, 5), g)) for k, g in grains.items()}
    with refresh_scope():
        kept = {k: grouped.catalogue_periods(demo_ws, k, periods, grain, [{}]) for k, (grain, periods) in asked.items()}
        # each day once for both histograms: the weeks' days, then the months' days before and after them
        assert calls == [(date(2026, 9, 7), date(2026, 10, 5)), (date(2026, 9, 1), date(2026, 9, 7)), (date(2026, 10, 5), date(2026, 11, 1))]
        quarter = grouped.catalogue_periods(demo_ws, "lead", [dt(2026, 7, 1)], "quarter", [{}])
        assert calls[3:] == [(date(2026, 7, 1), date(2026, 9, 1))]  # only the days not computed yet
    assert quarter == grouped.catalogue_periods(demo_ws, "lead", [dt(2026, 7, 1)], "quarter", [{}])
    for k in ("lead", "ttf_hours", "pearson_r", "touch_quality", "contacts_per_lead", "share_within_sla"):  # each histogram and grain
        grain, periods = asked[k]
        alone = grouped.catalogue_periods(demo_ws, k, periods, grain, [{}])
        assert kept[k].keys() == alone.keys() and all(_same(kept[k][p], v) for p, v in alone.items()), k
    assert sum(v is not None for got in kept.values() for v in got.values()) >= 40


def test_compute_kpis_shares_the_span_statistics(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """``compute_kpis`` measures every lead-cohort KPI of one span and segment from one query, each value as ``compute_kpi``."""
    span, seg = (dt(2026, 9, 3, 6, 30), dt(2026, 9, 20, 18)), {"channel": "inbound"}
    alone = {k: compute_kpi(demo_ws, k, *span, seg).value for k in ("lead", "ttf_hours", "slope", "complaint_rate")}
    calls: list[tuple[date, date]] = []
    real = _cohorts.lead_facts
    monkeypatch.setattr(_cohorts, "lead_facts", lambda ws, lo, hi, by, part=None: calls.append((lo, hi)) or real(ws, lo, hi, by, part))
    got = {v.key: v.value for v in compute_kpis(demo_ws, *span, LEAD_KPIS, seg)}
    assert calls == [(date(2026, 9, 3), date(2026, 9, 20))]
    assert all(_same(got[k], v) for k, v in alone.items()) and all(v is not None for v in alone.values())


def _tiles(slices: list[_cohorts.Slice], lo: date, hi: date) -> bool:
    """The slices' day ranges, in order, cover ``[lo, hi)`` without a gap or an overlap."""
    ranges = list(dict.fromkeys((a, b) for a, b, _ in slices))
    return ranges[0][0] == lo and ranges[-1][1] == hi and all(x[1] == y[0] for x, y in zip(ranges, ranges[1:], strict=False))


def test_histograms_by_slices_equal_the_single_query(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above FACT_ROWS leads in the range the histograms run on slices of the creation days: the slices add up to one query,
    alone or both histograms at once in a refresh scope."""
    import levier.data.parts

    lo, hi = date(2026, 8, 10), date(2026, 10, 3)
    span = (dt(2026, 8, 10), dt(2026, 10, 3))
    whole = {k: _cohorts.days(demo_ws, lo, hi, ("channel",), k) for k in ("x", "ttf")}
    alone = {k: compute_kpi(demo_ws, k, *span, {"channel": "inbound"}).value for k in ("slope", "ttf_hours")}
    seen: list[_cohorts.Slice] = []
    real = _cohorts.lead_facts
    monkeypatch.setattr(_cohorts, "lead_facts", lambda ws, lo, hi, by, part=None: seen.append((lo, hi, part)) or real(ws, lo, hi, by, part))
    monkeypatch.setattr(levier.data.parts, "FACT_ROWS", int(whole["x"]["n"].sum()) // 4)  # slices of a quarter of the range
    for k, df in whole.items():
        pd.testing.assert_frame_equal(_sorted(_cohorts.days(demo_ws, lo, hi, ("channel",), k)), _sorted(df), check_dtype=False)
    slices = _cohorts._slices(demo_ws, lo, hi)
    assert 4 <= len(slices) <= 6 and all(p is None for *_, p in slices) and _tiles(slices, lo, hi) and seen == slices * 2
    with refresh_scope():  # both histograms from one query per slice
        for k, df in whole.items():
            pd.testing.assert_frame_equal(_sorted(_cohorts.days(demo_ws, lo, hi, ("channel",), k)), _sorted(df), check_dtype=False)
        assert all(_same(compute_kpis(demo_ws, *span, (k,), {"channel": "inbound"})[0].value, v) for k, v in alone.items())
    assert seen == slices * 4
    assert all(_same(compute_kpi(demo_ws, k, *span, {"channel": "inbound"}).value, v) for k, v in alone.items())
    assert all(v is not None for v in alone.values())


def test_a_day_above_the_cap_runs_in_hash_parts(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A creation day with more leads than a slice holds runs alone, in hash parts of its leads: the same histograms."""
    import levier.data.parts

    lo, hi = date(2026, 9, 1), date(2026, 9, 4)
    whole = {k: _cohorts.days(demo_ws, lo, hi, ("channel",), k) for k in ("x", "ttf")}
    monkeypatch.setattr(levier.data.parts, "FACT_ROWS", 30)
    slices = _cohorts._slices(demo_ws, lo, hi)
    assert _tiles(slices, lo, hi) and all(b - a == timedelta(days=1) and p is not None and p[1] >= 2 for a, b, p in slices)
    for k, df in whole.items():
        pd.testing.assert_frame_equal(_sorted(_cohorts.days(demo_ws, lo, hi, ("channel",), k)), _sorted(df), check_dtype=False)
    with refresh_scope():
        for k, df in whole.items():
            pd.testing.assert_frame_equal(_sorted(_cohorts.days(demo_ws, lo, hi, ("channel",), k)), _sorted(df), check_dtype=False)


def test_a_recent_range_runs_in_fewer_slices(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slices follow the leads created in the range (FACT_ROWS each): a month of leads, fewer than the whole history."""
    import levier.data.parts

    monkeypatch.setattr(levier.data.parts, "FACT_ROWS", demo_ws.facts.count("leads") // 6)
    whole, month = _cohorts._slices(demo_ws, date(2026, 6, 1), date(2026, 12, 1)), _cohorts._slices(demo_ws, date(2026, 10, 1), date(2026, 11, 1))
    assert len(whole) in (6, 7, 8) and all(p is None for *_, p in whole)
    assert 1 < len(month) < len(whole) and (month[0][0], month[-1][1]) == (date(2026, 10, 1), date(2026, 11, 1))
    monkeypatch.setattr(levier.data.parts, "FACT_ROWS", 10**9)
    (one,) = _cohorts._slices(demo_ws, date(2026, 6, 1), date(2026, 12, 1))  # the days without leads at either end left out
    assert one == (whole[0][0], whole[-1][1], None) and date(2026, 6, 1) < one[0] < one[1] < date(2026, 12, 1)
    assert _cohorts._slices(demo_ws, date(2026, 12, 1), date(2027, 1, 1)) == []  # no lead: no query
    with refresh_scope():  # a range without leads, then one with: empty histograms, then the days' own
        empty = _cohorts.days(demo_ws, date(2026, 12, 1), date(2027, 1, 1), (), "x")
        assert empty.empty and list(empty.columns) == ["unit", "v", "n", *_cohorts._X_SUMS]
        got = _cohorts.days(demo_ws, date(2026, 9, 1), date(2026, 9, 8), (), "ttf")
    pd.testing.assert_frame_equal(_sorted(got), _sorted(_cohorts.days(demo_ws, date(2026, 9, 1), date(2026, 9, 8), (), "ttf")), check_dtype=False)
    assert grouped.catalogue_periods(demo_ws, "lead", [dt(2026, 12, 1)], "month", [{}]) == {(dt(2026, 12, 1), 0): 0.0}  # as a query of no lead
    assert _cohorts._runs([date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 5)]) == [(date(2026, 9, 1), date(2026, 9, 3)),
                                                                                   (date(2026, 9, 5), date(2026, 9, 6))]
