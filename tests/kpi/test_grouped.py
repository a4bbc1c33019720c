"""Grouped series (the period as a group key) equal compute_kpi run per period: every catalogue KPI, every grain.

By default each KPI is checked at one grain (the grains rotate over the sorted keys, so every grain
is checked on every KPI family) to keep the file fast; ``LEVIER_KPI_FULL_MATRIX=1`` checks every
KPI at every grain (~4× longer; run before changing :mod:`levier.kpi.grouped`).
"""

from __future__ import annotations

import math
import os
from datetime import datetime as dt

import pytest

from levier.analysis.kpis import KPIS, compute_kpi
from levier.errors import OptionError
from levier.kpi import grouped
from levier.kpi.timeseries import period_end, period_starts
from levier.workspace import Workspace

#: two periods per grain over the demo (leads Jul–Oct 2026, orders from August)
WINDOWS = {"day": (dt(2026, 10, 6), dt(2026, 10, 8)), "week": (dt(2026, 9, 14), dt(2026, 9, 28)),
           "month": (dt(2026, 9, 1), dt(2026, 11, 1)), "quarter": (dt(2026, 7, 1), dt(2027, 1, 1))}
COMPUTABLE = sorted(k for k, v in KPIS.items() if v.computable)
FULL = os.environ.get("LEVIER_KPI_FULL_MATRIX") == "1"
SEGMENTED = ("conversion_rate", "ttf_hours", "mql_to_sql_rate")  # a sum, a median, the funnel


def _direct(ws: Workspace, key: str, p: dt, grain: str, seg: dict[str, str] | None = None) -> float | None:
    try:
        return compute_kpi(ws, key, p, period_end(p, grain), seg).value
    except (TypeError, ZeroDivisionError):  # what timeseries stores for such a period
        return None


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_every_catalogue_kpi_has_a_grouped_form() -> None:
    assert set(grouped.GROUPED) == set(COMPUTABLE)


@pytest.mark.parametrize("grain", list(WINDOWS))
def test_grouped_equals_per_period_for_every_kpi(demo_ws: Workspace, grain: str) -> None:
    periods = period_starts(*WINDOWS[grain], grain)
    keys = COMPUTABLE if FULL else COMPUTABLE[list(WINDOWS).index(grain)::len(WINDOWS)]
    bad, values = [], 0
    for key in keys:
        got = grouped.catalogue_periods(demo_ws, key, periods, grain, [{}])
        for p in periods:
            want = _direct(demo_ws, key, p, grain)
            values += want is not None
            if not _same(got[(p, 0)], want):
                bad.append(f"{key} {p:%Y-%m-%d}: grouped {got[(p, 0)]!r} != direct {want!r}")
    assert not bad, "\n".join(bad)
    assert values >= len(periods) * len(keys) * 0.7  # the comparison is on real values, not on empty periods


def test_grouped_equals_per_period_by_segment(demo_ws: Workspace) -> None:
    periods = period_starts(dt(2026, 8, 1), dt(2026, 10, 1), "month")
    segments = [{"channel": c} for c in ("inbound", "nope")]
    for key in SEGMENTED:
        got = grouped.catalogue_periods(demo_ws, key, periods, "month", segments)
        for i, seg in enumerate(segments):
            for p in periods:
                assert _same(got[(p, i)], _direct(demo_ws, key, p, "month", seg)), (key, seg, p)
    assert got[(periods[0], 1)] is None  # an unknown segment value: empty, as per period


def test_unsegmentable_kpi_says_so(demo_ws: Workspace) -> None:
    with pytest.raises(OptionError, match="cannot be split by a lead segment"):
        grouped.catalogue_periods(demo_ws, "spend", [dt(2026, 9, 1)], "month", [{"channel": "inbound"}])
