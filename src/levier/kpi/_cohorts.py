"""The lead-cohort KPIs' sufficient statistics: two histograms of the audit's per-lead facts, per creation day and segment.

Every lead-cohort KPI of :mod:`levier.kpi.grouped` (counts, rates, medians, the correlation of contacts
and conversion) is finished from one of two histograms of the per-lead facts
(:func:`levier.analysis.perlead.lead_facts`): the leads by number of contacts ``x`` with additive sums
(conversions, effective contacts, touches within the SLA, complaints …), or the leads by whole minutes to
the first touch. Both add up over days, so a series of any grain is the days of each period added up.

Within a refresh scope (:func:`levier.kpi.timeseries.refresh_scope`) each creation day is computed once
for every KPI and grain of the refresh (one query per run of consecutive days not computed yet): the 14
lead-cohort series of ``levier kpi refresh`` read each day of the per-lead facts twice (one per histogram)
instead of fourteen times (decision 0226). Outside a scope each call queries its own days. On DuckDB above
``PART_ROWS`` touches in the range each query runs by hash parts of the leads (:func:`histogram`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data import parts
from levier.data.parts import Part
from levier.kpi import _scope

__all__ = ["SLA_SECONDS", "HISTOGRAMS", "lead_facts", "histogram", "days"]

SLA_SECONDS = 2 * 3600


def _framing(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...]) -> tuple[Any, Any]:
    """The audit's period and framing for the leads created on the days ``[lo, hi)``."""
    from levier.analysis.framing import AuditOptions, Period, resolve

    period = Period(lo, hi, f"{lo}..{hi}")
    return period, resolve(AuditOptions(period=period, segment_by=segment_by, compare_to="none"), latest_lead=None,
                           extraction_time=None, stages=tuple(ws.config.stages), workspace=str(ws.path),
                           backend=ws.facts.backend_name, version="")


def lead_facts(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], part: Part | None = None) -> ir.Table:
    """The audit's per-lead facts of the leads created on the days ``[lo, hi)`` (as the audit reads a period), of hash ``part``."""
    from levier.analysis.perlead import lead_facts as per_lead

    period, framing = _framing(ws, lo, hi, segment_by)
    # only rows a lead of the period can count: touches and conversions within its window after creation
    # (a filter before the joins, so a refresh of recent periods does not probe the whole history)
    since = ibis.literal(period.start_dt, "timestamp")
    until = ibis.literal(period.end_dt + timedelta(days=framing.window_days), "timestamp")
    touches, stages = ws.table("touches"), ws.table("stage_events")
    tables = {"leads": ws.table("leads"), "touches": touches.filter((touches.at >= since) & (touches.at < until)),
              "stage_events": stages.filter((stages.at >= since) & (stages.at < until))}
    return per_lead(tables, framing, period, part)


def _part_count(ws: Any, lo: date, hi: date) -> int:
    """Hash parts for the per-lead facts of ``[lo, hi)``: one per ``PART_ROWS`` touches those leads can count (DuckDB only)."""
    if ws.facts.backend_name != "duckdb":
        return 1
    period, framing = _framing(ws, lo, hi, ())
    t = ws.facts.raw("touches")
    return parts.count_for(ws, t.filter((t.at >= period.start_dt) & (t.at < period.end_dt + timedelta(days=framing.window_days))).count())


def _by_contacts(f: ir.Table, keys: list[str]) -> ir.Table:
    """The leads by number of contacts ``v`` (= ``x``), with the additive sums every lead-cohort KPI finishes from."""
    return f.group_by([*keys, f.x.name("v")]).agg(
        n=f.count(), c=f.converted.sum(), e=f.effective.sum(), sla=(f.ttf_s < SLA_SECONDS).fill_null(False).cast("int64").sum(), ttf_n=f.ttf_s.count(),
        complaints=f.complaints.sum(), unsubscribes=f.unsubscribes.sum(), rm=(f.replies + f.meetings).sum(), out=f.out_touches.sum())


def _by_ttf(f: ir.Table, keys: list[str]) -> ir.Table:
    """The leads by whole minutes ``v`` from creation to the first touch (leads never touched left out)."""
    t = f.mutate(v=(f.ttf_s / 60).floor().cast("int64")).filter(ibis._.v.notnull())
    return t.group_by([*keys, "v"]).agg(n=ibis._.count())


#: the two histograms of the per-lead facts that every lead-cohort KPI reads, per unit (period or creation day) and segment
HISTOGRAMS: dict[str, Callable[[ir.Table, list[str]], ir.Table]] = {"x": _by_contacts, "ttf": _by_ttf}


def histogram(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kind: str, unit: Callable[[ir.Table], ir.Value]) -> pd.DataFrame:
    """Histogram ``kind`` of the leads created on the days ``[lo, hi)`` per ``unit`` (of the per-lead facts) and segment.

    On DuckDB above ``PART_ROWS`` touches in the range (those its leads can count) it runs on one hash part of the leads at a
    time (the per-lead facts of 10M leads do not fit the 2 GB ``memory_limit``, decision 0205) and the parts' counts and sums
    are added: a lead is in one part. A recent range (an incremental refresh) runs in fewer parts than the whole history.
    """
    keys = ["unit", *(f"seg_{c}" for c in segment_by)]
    frames = []
    for part in parts.parts(_part_count(ws, lo, hi)):
        f = lead_facts(ws, lo, hi, segment_by, part if part[1] > 1 else None)
        frames.append(HISTOGRAMS[kind](f.mutate(unit=unit(f)), keys).execute())
    return parts.add_frames(frames, [*keys, "v"])


def days(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kind: str) -> pd.DataFrame:
    """Histogram ``kind`` per creation day ``unit`` of ``[lo, hi)``; within a refresh scope each day is computed once."""
    def query(a: date, b: date) -> pd.DataFrame:
        return histogram(ws, a, b, segment_by, kind, lambda f: f.created_at.truncate("D"))
    kept = _scope.store()
    if kept is None:
        return query(lo, hi)
    got = kept.setdefault(("cohort", str(ws.path), kind, segment_by), {"days": set(), "frame": None})
    want = {lo + timedelta(days=i) for i in range((hi - lo).days)}
    missing = want - got["days"]
    for a, b in _runs(sorted(missing)):  # one query per run of consecutive days not computed yet in this scope
        df = query(a, b)
        got["frame"] = df if got["frame"] is None else pd.concat([got["frame"], df], ignore_index=True)
        got["days"] |= {a + timedelta(days=i) for i in range((b - a).days)}
    df = got["frame"]
    day = pd.to_datetime(df["unit"])
    return df[(day >= pd.Timestamp(lo)) & (day < pd.Timestamp(hi))]


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as half-open runs of consecutive days ``[first, last + 1)``."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] == d:
            out[-1] = (out[-1][0], d + timedelta(days=1))
        else:
            out.append((d, d + timedelta(days=1)))
    return out
