"""Each KPI is defined once (:mod:`levier.kpi.grouped`): ``compute_kpi`` and the grouped series give the same values,
the values the per-period functions gave before (``golden_catalogue.json``), and the web KPIs run by hash parts.

By default the golden values are checked over the aligned month (with segments), the time-of-day span and, for the
series, the month; ``LEVIER_KPI_FULL_MATRIX=1`` checks every golden value (~2× longer).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest

import levier.data.parts
from levier.analysis import _kpi_compute
from levier.analysis.kpis import KPIS, compute_kpi
from levier.kpi import grouped
from levier.kpi.timeseries import period_starts, refresh_scope
from levier.workspace import Workspace

from .golden_catalogue import GOLDEN, PERIODS, SEGMENTS, label, measure

COMPUTABLE = sorted(k for k, v in KPIS.items() if v.computable)
WEB = ("bounce_rate", "form_completion_rate", "web_visitors")
FULL = os.environ.get("LEVIER_KPI_FULL_MATRIX") == "1"


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_compute_kpi_runs_the_grouped_definition() -> None:
    assert set(_kpi_compute.COMPUTE) == set(grouped.GROUPED) == set(COMPUTABLE)
    assert all(KPIS[k].compute is _kpi_compute.COMPUTE[k] for k in COMPUTABLE)


def test_values_are_those_of_the_per_period_functions(demo_ws: Workspace) -> None:
    """Every KPI over aligned, whole-day and time-of-day spans, with segments: as before the single definition.

    The aligned and whole-day spans are measured in one refresh scope (as ``compute_kpis``: the KPIs of a span and segment
    share their queries), the time-of-day span outside any (each ``compute_kpi`` its own queries): both give the golden values.
    """
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    names = tuple(PERIODS) if FULL else ("month", "hours")
    with refresh_scope():
        got = measure(demo_ws, tuple(n for n in names if n != "hours"))
    for key, alone in measure(demo_ws, ("hours",)).items():
        got[key] |= alone
    assert set(got) == set(golden)
    bad = [f"{k} {p}: {got[k][p]!r} != golden {v!r}" for k in got for p, v in got[k].items() if not _same(v, golden[k][p])]
    assert not bad, "\n".join(bad)
    assert sum(v is not None for g in got.values() for v in g.values()) >= (190 if FULL else 95)  # real values, not empty periods


def test_both_entry_points_agree_on_every_kpi(demo_ws: Workspace) -> None:
    """The grouped series (``catalogue_periods``: a month, a week, each segment) give the golden values of ``compute_kpi``."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    bad = []
    with refresh_scope():  # as a refresh: the lead-cohort series share their days, the marketing ones their spend and deals
        bad += _entry_points_against(demo_ws, golden)
    assert not bad, "\n".join(bad)


def _entry_points_against(demo_ws: Workspace, golden: dict[str, Any]) -> list[str]:
    bad = []
    for key in COMPUTABLE:
        asked: list[tuple[str, str, list[dict[str, str]]]] = [("month", "month", [{}])] + ([("week", "week", [{}])] if FULL else [])
        if key in grouped.SEGMENTABLE:
            asked += [("month", "month", [dict(s) for s in SEGMENTS[:2]]), ("month", "month", [dict(SEGMENTS[2])])]
        for name, grain, segments in asked:
            start = PERIODS[name][0]
            series = grouped.catalogue_periods(demo_ws, key, [start], grain, segments)
            assert series is not None
            for i, seg in enumerate(segments):
                want = golden[key][f"{name}|{label(seg)}"]
                if not _same(series[(start, i)], want):
                    bad.append(f"{key} {name} {label(seg)}: series {series[(start, i)]!r} != compute_kpi {want!r}")
    return bad


def _web_series(ws: Workspace, grain: str) -> dict[str, Any]:
    a, b = PERIODS["days"]
    periods = period_starts(a, b, grain)
    return {k: grouped.catalogue_periods(ws, k, periods, grain, [{}]) for k in WEB}


@pytest.mark.parametrize("grain", ["week", "month"])
def test_web_kpis_by_hash_parts_equal_the_single_query(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, grain: str) -> None:
    whole = _web_series(demo_ws, grain)
    seen: list[tuple[int, int]] = []
    real = levier.data.parts.in_part
    monkeypatch.setattr(levier.data.parts, "in_part", lambda t, key, part: seen.append(part) or real(t, key, part))
    rows = demo_ws.facts.count("web_events")
    monkeypatch.setattr(levier.data.parts, "PART_ROWS", rows // 8)
    split = _web_series(demo_ws, grain)
    # only the sessions (a window) run by parts, sized on the events of the range: fewer than the whole table's 8 or 9
    n = max(p[1] for p in seen if p)
    assert {p for p in seen if p and p[1] > 1} == {(i, n) for i in range(n)} and 2 <= n < 8
    assert seen.count((0, 1)) == 2  # the distinct visitor counts only group: one part
    for k in WEB:
        assert all(_same(split[k][p], v) for p, v in whole[k].items()), k
    assert sum(v is not None for k in WEB for v in whole[k].values()) >= 3 * 2
    one = {k: compute_kpi(demo_ws, k, *PERIODS["hours"]).value for k in WEB}
    monkeypatch.setattr(levier.data.parts, "PART_ROWS", 10**12)
    assert all(_same(one[k], compute_kpi(demo_ws, k, *PERIODS["hours"]).value) for k in WEB)


def test_time_to_conversion_by_journey_parts_equals_the_single_query(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The KPI's journey windows run one hash part of the journeys at a time on DuckDB above PART_ROWS (its median
    comes from the parts' added histograms): the same weekly and monthly values as one query."""
    a, b = PERIODS["days"]
    weeks, months = period_starts(a, b, "week"), period_starts(a, b, "month")
    key = "time_to_conversion_days"
    whole = (grouped.catalogue_periods(demo_ws, key, weeks, "week", [{}]), grouped.catalogue_periods(demo_ws, key, months, "month", [{}]))
    rows = demo_ws.facts.count("touches") + demo_ws.facts.count("web_events")
    monkeypatch.setattr(levier.data.parts, "PART_ROWS", rows // 3)
    from levier.analysis.attribution.journeys import journey_parts

    assert journey_parts(demo_ws) >= 3
    split = (grouped.catalogue_periods(demo_ws, key, weeks, "week", [{}]), grouped.catalogue_periods(demo_ws, key, months, "month", [{}]))
    for w, s in zip(whole, split, strict=True):
        assert w.keys() == s.keys() and all(_same(s[p], v) for p, v in w.items())
    assert sum(v is not None for v in whole[0].values()) >= 2
