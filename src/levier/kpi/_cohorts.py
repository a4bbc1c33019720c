"""The lead-cohort KPIs' sufficient statistics: two histograms of the audit's per-lead facts, per creation day and segment.

Every lead-cohort KPI of :mod:`levier.kpi.grouped` (counts, rates, medians, the correlation of contacts
and conversion) is finished from one of two histograms of the per-lead facts
(:func:`levier.analysis.perlead.lead_facts`): the leads by number of contacts ``x`` with additive sums
(conversions, effective contacts, touches within the SLA, complaints …), or the leads by whole minutes to
the first touch. Both add up over days, so a series of any grain is the days of each period added up.

Within a refresh scope (:func:`levier.kpi.timeseries.refresh_scope`) each creation day is computed once
for every KPI and grain of the refresh (one query per run of consecutive days not computed yet): the 14
lead-cohort series of ``levier kpi refresh`` read each day of the per-lead facts twice (one per histogram)
instead of fourteen times (decision 0226). Within a scope both histograms come from one scan of the per-lead
facts (on DuckDB one ``GROUPING SETS`` query, decision 0239). Outside a scope each call queries its own days and
histogram. On DuckDB above ``FACT_ROWS`` leads in the range each query runs by slices of the creation days
(:func:`histograms`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data import parts
from levier.data.parts import Part
from levier.kpi import _scope

__all__ = ["SLA_SECONDS", "Slice", "HISTOGRAMS", "lead_facts", "histogram", "histograms", "span", "days"]

SLA_SECONDS = 2 * 3600


def _framing(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...]) -> tuple[Any, Any]:
    """The audit's period and framing for the leads created on the days ``[lo, hi)``."""
    from levier.analysis.framing import AuditOptions, Period, resolve

    period = Period(lo, hi, f"{lo}..{hi}")
    return period, resolve(AuditOptions(period=period, segment_by=segment_by, compare_to="none"), latest_lead=None,
                           extraction_time=None, stages=tuple(ws.config.stages), workspace=str(ws.path),
                           backend=ws.facts.backend_name, version="")


#: the columns of the leads the per-lead facts read (besides the segment columns)
_LEAD_COLUMNS = ("lead_id", "created_at", "account_id", "owner", "vip", "litigation", "do_not_contact", "opted_out_at")


def lead_facts(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], part: Part | None = None) -> ir.Table:
    """The audit's per-lead facts of the leads created on the days ``[lo, hi)`` (as the audit reads a period), of hash ``part``."""
    from levier.analysis.perlead import lead_facts as per_lead

    period, framing = _framing(ws, lo, hi, segment_by)
    # only rows a lead of the period can count: touches and conversions within its window after creation
    # (a filter before the joins, so a refresh of recent periods does not probe the whole history)
    since = ibis.literal(period.start_dt, "timestamp")
    until = ibis.literal(period.end_dt + timedelta(days=framing.window_days), "timestamp")
    touches, stages, leads = ws.table("touches"), ws.table("stage_events"), ws.table("leads")
    # only the period's leads and the columns the facts read: the engine keeps the leads it joins three times (a CTE), not all
    # of them with every column (decision 0239)
    leads = leads.filter((leads.created_at >= since) & (leads.created_at < ibis.literal(period.end_dt, "timestamp")))
    leads = leads.select(*dict.fromkeys((*_LEAD_COLUMNS, *segment_by)))
    tables = {"leads": leads, "touches": touches.filter((touches.at >= since) & (touches.at < until)),
              "stage_events": stages.filter((stages.at >= since) & (stages.at < until))}
    return per_lead(tables, framing, period, part)


#: a slice of a range's leads: those created on the days ``[lo, hi)``, of hash ``part`` (None: all of them)
Slice = tuple[date, date, Part | None]


def _slices(ws: Any, lo: date, hi: date) -> list[Slice]:
    """The leads created on ``[lo, hi)`` in slices of at most ``FACT_ROWS`` leads (DuckDB only; one slice elsewhere).

    The histograms only join and group (the joins and groups over the touches spill); what a slice holds is its leads'
    per-lead facts. The days without leads at either end of the range are left out (none: no slice). Slices are runs of
    consecutive creation days, each reading only the touches of its own days and
    conversion window (a hash part of all the range's leads rescans every touch of the range, decision 0239); a day above
    the cap alone runs in hash parts of its leads (:func:`levier.data.parts.count_for`). A lead is in one slice: the
    slices' counts and sums add.
    """
    if ws.facts.backend_name != "duckdb":
        return [(lo, hi, None)]
    cap = parts.FACT_ROWS
    leads = ws.facts.raw("leads")
    created = leads.filter((leads.created_at >= ibis.literal(datetime.combine(lo, time()), "timestamp"))
                           & (leads.created_at < ibis.literal(datetime.combine(hi, time()), "timestamp")))
    per_day = created.group_by(d=created.created_at.date()).agg(n=created.count()).execute()
    counts = {pd.Timestamp(d).date(): int(n) for d, n in zip(per_day["d"], per_day["n"], strict=True) if n}
    if not counts:  # no lead created in the range: nothing to read (the weeks before the data's first day, say)
        return []
    lo, hi = min(counts), max(counts) + timedelta(days=1)  # the days without leads at either end read no touches
    if parts.count_for(ws, sum(counts.values()), cap) <= 1:
        return [(lo, hi, None)]
    runs: list[tuple[date, date, int]] = []
    day = lo
    while day < hi:  # runs of days of at most ``cap`` leads (a day above it alone)
        n = counts.get(day, 0)
        if runs and runs[-1][2] + n <= cap:
            runs[-1] = (runs[-1][0], day + timedelta(days=1), runs[-1][2] + n)
        else:
            runs.append((day, day + timedelta(days=1), n))
        day += timedelta(days=1)
    return [(a, b, part if part[1] > 1 else None) for a, b, n in runs for part in parts.parts(parts.count_for(ws, n, cap))]


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


#: the additive sums of the contacts histogram, after its count ``n``
_X_SUMS = ("c", "e", "sla", "ttf_n", "complaints", "unsubscribes", "rm", "out")


def _both(ws: Any, f: ir.Table, keys: list[str]) -> dict[str, pd.DataFrame]:
    """Both histograms of the per-lead facts ``f`` from one scan: a DuckDB ``GROUPING SETS`` query (decision 0239).

    The same per-lead values :func:`_by_contacts` and :func:`_by_ttf` group, summed per set: ``(keys, x)`` for the contacts,
    ``(keys, minutes)`` for the first touch (its never-touched leads, minutes null, left out as there).
    """
    con = ws.facts.con
    t = f.select(*keys, vx=f.x, vt=(f.ttf_s / 60).floor().cast("int64"), c=f.converted, e=f.effective,
                 sla=(f.ttf_s < SLA_SECONDS).fill_null(False).cast("int64"), ttf_n=f.ttf_s.notnull().cast("int64"), complaints=f.complaints,
                 unsubscribes=f.unsubscribes, rm=f.replies + f.meetings, out=f.out_touches)
    k = ", ".join(f'"{c}"' for c in keys)
    sums = ", ".join(f'CAST(sum("{c}") AS BIGINT) AS "{c}"' for c in _X_SUMS)
    df = con.sql(f'SELECT {k}, "vx", "vt", CAST(GROUPING("vt") AS BIGINT) AS "gt", count(*) AS "n", {sums} FROM ({con.compile(t)}) AS f '
                 f'GROUP BY GROUPING SETS (({k}, "vx"), ({k}, "vt"))').execute()
    by_x, by_ttf = df[df["gt"] == 1], df[(df["gt"] == 0) & df["vt"].notna()]
    return {"x": by_x.rename(columns={"vx": "v"})[[*keys, "v", "n", *_X_SUMS]].astype({"v": "int64"}).reset_index(drop=True),
            "ttf": by_ttf.rename(columns={"vt": "v"})[[*keys, "v", "n"]].astype({"v": "int64"}).reset_index(drop=True)}


def _query(ws: Any, f: ir.Table, keys: list[str], kinds: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Histograms ``kinds`` of ``f``: both in one query on DuckDB, else one query each."""
    if set(kinds) == set(HISTOGRAMS) and ws.facts.backend_name == "duckdb":
        return _both(ws, f, keys)
    return {k: HISTOGRAMS[k](f, keys).execute() for k in kinds}


def histograms(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kinds: tuple[str, ...],
               unit: Callable[[ir.Table], ir.Value]) -> dict[str, pd.DataFrame]:
    """Histograms ``kinds`` of the leads created on the days ``[lo, hi)`` per ``unit`` (of the per-lead facts) and segment.

    Both kinds come from one scan of the per-lead facts on DuckDB. Above ``FACT_ROWS`` leads in the range the query runs
    on one slice of the days at a time (:func:`_slices`) and the slices' counts and sums are added (decision 0239).
    """
    keys = ["unit", *(f"seg_{c}" for c in segment_by)]
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in kinds}
    for a, b, part in _slices(ws, lo, hi):
        f = lead_facts(ws, a, b, segment_by, part)
        for k, df in _query(ws, f.mutate(unit=unit(f)), keys, kinds).items():
            frames[k].append(df)
    return {k: parts.add_frames(frames[k], [*keys, "v"]) if frames[k] else _empty(k, keys) for k in kinds}


def _empty(kind: str, keys: list[str]) -> pd.DataFrame:
    """Histogram ``kind`` of no lead: its columns, no row."""
    cols = [*keys, "v", "n", *(_X_SUMS if kind == "x" else ())]
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "unit" else "object" if c.startswith("seg_") else "int64") for c in cols})


def histogram(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kind: str, unit: Callable[[ir.Table], ir.Value]) -> pd.DataFrame:
    """Histogram ``kind`` of the leads created on the days ``[lo, hi)`` per ``unit`` and segment (:func:`histograms`)."""
    return histograms(ws, lo, hi, segment_by, (kind,), unit)[kind]


def span(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kind: str, unit: Callable[[ir.Table], ir.Value], key: Any) -> pd.DataFrame:
    """Histogram ``kind`` of one free span's leads; within a refresh scope both histograms once per ``key`` (one scan)."""
    if _scope.store() is None:
        return histogram(ws, lo, hi, segment_by, kind, unit)
    both = _scope.memo(("cohort-span", str(ws.path), segment_by, key), lambda: histograms(ws, lo, hi, segment_by, tuple(HISTOGRAMS), unit))
    return both[kind]


def days(ws: Any, lo: date, hi: date, segment_by: tuple[str, ...], kind: str) -> pd.DataFrame:
    """Histogram ``kind`` per creation day ``unit`` of ``[lo, hi)``; within a refresh scope each day is computed once, for both
    histograms (one scan of the per-lead facts per run of days not computed yet)."""
    def query(a: date, b: date, kinds: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        return histograms(ws, a, b, segment_by, kinds, lambda f: f.created_at.truncate("D"))
    kept = _scope.store()
    if kept is None:
        return query(lo, hi, (kind,))[kind]
    got = kept.setdefault(("cohort", str(ws.path), segment_by), {"days": set(), "frames": dict.fromkeys(HISTOGRAMS)})
    want = {lo + timedelta(days=i) for i in range((hi - lo).days)}
    missing = want - got["days"]
    for a, b in _runs(sorted(missing)):  # one query per run of consecutive days not computed yet in this scope
        for k, df in query(a, b, tuple(HISTOGRAMS)).items():
            old = got["frames"][k]
            got["frames"][k] = df if old is None or old.empty else old if df.empty else pd.concat([old, df], ignore_index=True)
        got["days"] |= {a + timedelta(days=i) for i in range((b - a).days)}
    df = got["frames"][kind]
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
