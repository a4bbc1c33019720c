"""THE definition of every catalogue KPI, over many periods (and segments) at once: the period is a group key.

Each KPI is one grouped query (a few for the composite ones): the rows are bucketed by period —
``truncate(grain)`` of the column the KPI reads (a lead's ``created_at``, a deal's ``closed_at``,
an event's ``at`` …) for a series, the one period for a free span — and aggregated
``GROUP BY period, segment`` into sufficient statistics that Python finishes with the formulas.
:func:`levier.analysis.kpis.compute_kpi` is :func:`catalogue_span`: the same functions over a
:class:`Calendar` of one free period ``[start, end)`` (decision 0214), so a series and a single
measure cannot disagree. What each family reads (ADR 0150):

- lead cohorts (audit facts, funnel): a lead belongs to the period of its ``created_at`` (audit
  facts: leads created on the days of the span, finished from two histograms per creation day that
  a refresh scope shares, :mod:`levier.kpi._cohorts`, decision 0226); the funnel only reads stage
  events before its period's end (joined per lead);
- events (spend, web, deals, stage counts): a row belongs to the period of its time column;
  web sessions are cut inside a period (window partitioned by visitor *and* period), on DuckDB
  above ``PART_ROWS`` events of the range one hash part of the visitors at a time (``levier.data.parts``,
  decision 0240);
- pipeline velocity and retention read "everything before the period end": open deals are a
  deals × period-ends join; retention sums are cumulative sums of daily / monthly aggregates.

``tests/kpi/test_one_definition.py`` checks both entry points against the values of the former
per-period functions (``tests/kpi/golden_catalogue.json``); ``tests/kpi/test_grouped.py`` checks a
series equals each of its periods measured alone, at every grain.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from levier.data import parts
from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.kpi import _cohorts, _scope
from levier.kpi._cohorts import SLA_SECONDS  # noqa: F401  (re-exported: the share within the SLA reads it)

__all__ = ["Calendar", "catalogue_periods", "catalogue_span", "GROUPED", "SEGMENTABLE"]

Values = dict[tuple[datetime, tuple[str, ...]], float | None]
Grouped = Callable[[Any, "Calendar", tuple[str, ...]], Values]
_TRUNC = {"day": "D", "week": "W", "month": "M", "quarter": "Q"}


def _num(v: Any) -> float | None:
    return None if v is None or v != v else float(v)


def _ratio(a: Any, b: Any) -> float | None:
    a, b = _num(a), _num(b)
    return a / b if a is not None and b else None


@dataclass(frozen=True)
class Calendar:
    """The periods a KPI is measured over: aligned starts of one grain, or one free span ``[start, end)``.

    ``grain=None`` is the free span of :func:`catalogue_span` (what ``compute_kpi`` measures): its rows
    all fall in the one period, whatever their time of day.
    """

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    grain: str | None = None

    @classmethod
    def of(cls, periods: Sequence[datetime], grain: str) -> Calendar:
        from levier.kpi.timeseries import period_end

        starts = tuple(sorted(periods))
        return cls(starts, tuple(period_end(p, grain) for p in starts), grain)

    @property
    def lo(self) -> datetime:
        return self.starts[0]

    @property
    def hi(self) -> datetime:
        return self.ends[-1]

    def bucket(self, col: ir.Value) -> ir.Value:
        """The period start of each row (``col`` its time)."""
        if self.grain is None:
            return ibis.literal(self.lo, "timestamp")
        return col.cast("timestamp").truncate(_TRUNC[self.grain])

    def keep(self, t: ir.Table) -> ir.Table:
        """The rows of ``t`` (with a ``period`` column) in one of the periods."""
        return t if self.grain is None else t.filter(t.period.isin([ibis.literal(p, "timestamp") for p in self.starts]))

    def frame(self) -> ir.Table:
        """Each period's start ``pstart`` and end ``pend`` as a small engine table."""
        ends = ibis.memtable(pd.DataFrame({"pstart": pd.to_datetime(list(self.starts)), "pend": pd.to_datetime(list(self.ends))}))
        return ends.select(pstart=ends.pstart.cast("timestamp"), pend=ends.pend.cast("timestamp"))


def _in_periods(t: ir.Table, col: str, cal: Calendar) -> ir.Table:
    """Rows of ``t`` whose ``col`` falls in one of the periods, with their ``period`` column."""
    c = t[col]
    if c.type().is_date():
        t = t.filter((c >= cal.lo.date()) & (c < cal.hi.date()))
    else:
        t = t.filter((c >= ibis.literal(cal.lo, "timestamp")) & (c < ibis.literal(cal.hi, "timestamp")))
    return cal.keep(t.mutate(period=cal.bucket(t[col])))


def _with_end(t: ir.Table, cal: Calendar) -> ir.Table:
    """``t`` (with a ``period`` column) joined with each period's end ``pend``."""
    ends = cal.frame()
    return t.inner_join(ends, t.period == ends.pstart).drop("pstart")


def _key(row: Mapping[str, Any], segs: Sequence[str]) -> tuple[datetime, tuple[str, ...]]:
    p = row["period"]
    p = p.to_pydatetime() if hasattr(p, "to_pydatetime") else p
    return p, tuple(str(row[s]) for s in segs)


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.to_dict("records")


def _no_segment(key: str, segment_by: tuple[str, ...]) -> None:
    if segment_by:
        raise OptionError(_("KPI '{key}' cannot be split by a lead segment.", key=key))


def _median_of(hist: pd.DataFrame, segs: Sequence[str], scale: float) -> Values:
    out: Values = {}
    from levier.analysis.stats import weighted_quantile

    if hist.empty:
        return out
    for key, part in hist.groupby(["period", *segs], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        p = key[0].to_pydatetime() if hasattr(key[0], "to_pydatetime") else key[0]
        med = weighted_quantile(part["v"].to_numpy(float), part["n"].to_numpy(float), 0.5)
        out[(p, tuple(str(k) for k in key[1:]))] = None if med is None else med / scale
    return out


# -- lead cohorts: the audit's per-lead facts ----------------------------------------------------
def _cohort(ws: Any, cal: Calendar, segment_by: tuple[str, ...], kind: str) -> pd.DataFrame:
    """Histogram ``kind`` of the lead cohorts per ``period`` and segment: one unit for a free span, else creation days added up."""
    segs = [f"seg_{c}" for c in segment_by]
    if cal.grain is None:  # a free span: its leads are those created on its days, all in the one period (once per refresh scope)
        df = _cohorts.span(ws, cal.lo.date(), cal.hi.date(), segment_by, kind, lambda f: cal.bucket(f.created_at), (cal.lo, cal.hi))
        return df.rename(columns={"unit": "period"})
    from levier.kpi.timeseries import _floor

    df = _cohorts.days(ws, cal.lo.date(), cal.hi.date(), segment_by, kind)
    units = pd.to_datetime(df["unit"])
    starts = {u: _floor(u.to_pydatetime(), cal.grain) for u in units.unique()}
    df = df.drop(columns="unit").assign(period=pd.to_datetime(units.map(starts)))
    df = df[df["period"].isin(pd.to_datetime(list(cal.starts)))]
    return df.groupby(["period", *segs, "v"], as_index=False, dropna=False).sum()


_SUMS = ("n", "c", "e", "sla", "ttf_n", "complaints", "unsubscribes", "rm", "out", "sx", "sxx", "sxy")
_EMPTY: dict[str, Any] = {k: None for k in (*_SUMS, "sy", "syy")} | {"n": 0}


def _cohort_agg(finish: Callable[[Mapping[str, Any]], float | None]) -> Grouped:
    """A lead-cohort KPI finished from the sums per period and segment (moments of ``x`` from its histogram)."""
    def run(ws: Any, cal: Calendar, segment_by: tuple[str, ...]) -> Values:
        segs = [f"seg_{c}" for c in segment_by]
        df = _cohort(ws, cal, segment_by, "x")
        v = df["v"].astype("float64")
        df = df.assign(sx=v * df["n"], sxx=v * v * df["n"], sxy=v * df["c"])
        sums = df.groupby(["period", *segs], as_index=False, dropna=False)[list(_SUMS)].sum()
        sums = sums.assign(sy=sums["c"], syy=sums["c"])  # converted is 0 or 1
        got: Values = {_key(r, segs): finish(r) for r in _rows(sums)}
        got[None] = finish(_EMPTY)  # type: ignore[index]
        return got
    return run


def _cohort_median(kind: str, scale: float) -> Grouped:
    def run(ws: Any, cal: Calendar, segment_by: tuple[str, ...]) -> Values:
        got = _median_of(_cohort(ws, cal, segment_by, kind), [f"seg_{c}" for c in segment_by], scale)
        got[None] = None  # type: ignore[index]
        return got
    return run


def _correlation(field: str) -> Grouped:
    def finish(r: Mapping[str, Any]) -> float | None:
        from levier.analysis.stats import Moments, correlation

        return _num(getattr(correlation(Moments(*(float(_num(r[k]) or 0.0) for k in ("n", "sx", "sy", "sxx", "syy", "sxy")))), field))
    return _cohort_agg(finish)


def _rate(a: str, b: str) -> Grouped:
    return _cohort_agg(lambda r: _ratio(r[a], r[b]))


# -- lead cohorts: the stage funnel ---------------------------------------------------------------
def _funnel_rate(a: str, b: str) -> Grouped:
    def run(ws: Any, cal: Calendar, segment_by: tuple[str, ...]) -> Values:
        from levier.analysis.funnel import UNKNOWN, _check, funnel_stages

        stages = funnel_stages(ws.config.stages)
        _check(segment_by, stages)
        if a not in stages or b not in stages:
            return {None: None}  # type: ignore[dict-item]
        ia, ib = stages.index(a), stages.index(b)
        leads = _in_periods(ws.table("leads"), "created_at", cal)
        base = _with_end(leads.select("lead_id", "created_at", "period", **{f"seg_{c}": leads[c].cast("string").fill_null(UNKNOWN)
                                                                            for c in segment_by}), cal)
        se = ws.table("stage_events")
        keyed = base.select(lid=base.lead_id, pend=base.pend)
        j = keyed.inner_join(se, keyed.lid == se.lead_id)
        j = j.filter(j.at < j.pend)
        firsts = j.group_by(j.lid).agg(**{f"t{i}": j.at.min(where=j.stage == s) for i, s in enumerate(stages)})
        t = base.left_join(firsts, base.lead_id == firsts.lid)
        t = t.mutate(t0=t.t0.coalesce(t.created_at))

        def reached(i: int) -> ir.Value:
            cond = t[f"t{i}"].notnull()
            for k in range(i + 1, len(stages)):
                cond = cond | t[f"t{k}"].notnull()
            return cond.cast("int64").sum()
        segs = [f"seg_{c}" for c in segment_by]
        df = t.group_by(["period", *segs]).agg(ra=reached(ia), rb=reached(ib)).execute()
        got: Values = {_key(r, segs): _ratio(0 if _num(r["rb"]) is None else r["rb"], r["ra"]) for r in _rows(df)}
        got[None] = None  # type: ignore[index]
        return got
    return run


# -- events: spend, stage counts, deals, web ------------------------------------------------------
def _shared(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(ws, cal, *args)`` computed once per refresh scope: several KPIs read it (spend, deals, orders …)."""
    return lambda ws, cal, *args: _scope.memo((fn.__name__, str(ws.path), cal, args), lambda: fn(ws, cal, *args))


def _per_period(t: ir.Table, col: str, cal: Calendar, **aggs: Callable[[ir.Table], ir.Value]) -> dict[datetime, dict[str, Any]]:
    t = _in_periods(t, col, cal)
    df = t.group_by("period").agg(**{k: fn(t) for k, fn in aggs.items()}).execute()
    return {_key(r, ())[0]: r for r in _rows(df)}


@_shared
def _spend(ws: Any, cal: Calendar) -> dict[datetime, float]:
    got = _per_period(ws.table("spend"), "date", cal, v=lambda t: t.cost.sum())
    return {p: _num(got[p]["v"]) or 0.0 if p in got else 0.0 for p in cal.starts}


@_shared
def _leads(ws: Any, cal: Calendar) -> dict[datetime, int]:
    got = _per_period(ws.table("leads"), "created_at", cal, v=lambda t: t.count())
    return {p: int(got[p]["v"]) if p in got else 0 for p in cal.starts}


@_shared
def _stage(ws: Any, cal: Calendar, stage: str) -> dict[datetime, int]:
    se = ws.table("stage_events")
    got = _per_period(se.filter(se.stage == stage), "at", cal, v=lambda t: t.lead_id.nunique())
    return {p: int(_num(got[p]["v"]) or 0) if p in got else 0 for p in cal.starts}


@_shared
def _won_revenue(ws: Any, cal: Calendar) -> dict[datetime, float]:
    d = ws.table("deals")
    got = _per_period(d.filter(d.won.fill_null(False)), "closed_at", cal, v=lambda t: t.amount.sum())
    return {p: _num(got[p]["v"]) or 0.0 if p in got else 0.0 for p in cal.starts}


def _overall(key: str, fn: Callable[[Any, Calendar], dict[datetime, float | None]]) -> Grouped:
    def run(ws: Any, cal: Calendar, segment_by: tuple[str, ...]) -> Values:
        _no_segment(key, segment_by)
        return {(p, ()): v for p, v in fn(ws, cal).items()}
    return run


def _cost_per(kind: str) -> Grouped:
    def fn(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
        spend = _spend(ws, cal)
        den = _leads(ws, cal) if kind == "cpl" else _stage(ws, cal, "sql" if kind == "cplq" else "won")
        return {p: _ratio(spend[p], den[p]) for p in cal.starts}
    return _overall(kind, fn)


def _roas(romi: bool) -> Grouped:
    def fn(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
        spend, rev = _spend(ws, cal), _won_revenue(ws, cal)
        return {p: _ratio(rev[p] - spend[p] if romi else rev[p], spend[p]) for p in cal.starts}
    return _overall("romi" if romi else "roas", fn)


@_shared
def _deals(ws: Any, cal: Calendar) -> dict[datetime, dict[str, Any]]:
    d = ws.table("deals")
    closed = d.filter(d.closed_at.notnull())

    def won(t: ir.Table) -> ir.Value:
        return t.won.fill_null(False)
    return _per_period(closed, "closed_at", cal, won=lambda t: won(t).cast("int64").sum(), lost=lambda t: (~won(t)).cast("int64").sum(),
                       avg=lambda t: t.amount.mean(where=won(t) & (t.amount > 0)),
                       cyc=lambda t: ((t.closed_at.epoch_seconds() - t.created_at.epoch_seconds()) / 86400).mean(where=won(t)))


def _win_rate(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
    got = _deals(ws, cal)
    out: dict[datetime, float | None] = {}
    for p in cal.starts:
        won, lost = (int(_num(got[p]["won"]) or 0), int(_num(got[p]["lost"]) or 0)) if p in got else (0, 0)
        out[p] = _ratio(won, won + lost)
    return out


def _average_deal(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
    got = _deals(ws, cal)
    return {p: _num(got[p]["avg"]) if p in got else None for p in cal.starts}


def _velocity(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
    got = _deals(ws, cal)
    d = ws.table("deals")
    ends = cal.frame()
    j = d.select("created_at", "closed_at").cross_join(ends)
    j = j.filter((j.created_at < j.pend) & (j.closed_at.isnull() | (j.closed_at >= j.pend)))
    opened = {_key({"period": r["pstart"]}, ())[0]: int(r["n"]) for r in _rows(j.group_by("pstart").agg(n=j.count()).execute())}
    out: dict[datetime, float | None] = {}
    for p in cal.starts:
        r = got.get(p, {"won": 0, "lost": 0, "avg": None, "cyc": None})
        won, lost = int(_num(r["won"]) or 0), int(_num(r["lost"]) or 0)
        rate, avg, cyc = _ratio(won, won + lost), _num(r["avg"]), _num(r["cyc"])
        out[p] = None if rate is None or avg is None or not cyc else opened.get(p, 0) * rate * avg / cyc
    return out


def _sales_cycle(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
    d = ws.table("deals")
    d = _in_periods(d.filter(d.won.fill_null(False) & d.closed_at.notnull() & (d.closed_at >= d.created_at)), "closed_at", cal)
    hours = ((d.closed_at.epoch_seconds() - d.created_at.epoch_seconds()) / 3600).floor().cast("int64")
    got = _median_of(d.mutate(v=hours).group_by(["period", "v"]).agg(n=ibis._.count()).execute(), (), 24.0)
    return {p: got.get((p, ())) for p in cal.starts}


def _web_counts(ws: Any, cal: Calendar, attr: str, part: parts.Part) -> pd.DataFrame:
    """The web counts per period of the visitors in hash ``part`` (the window sees whole visitors)."""
    w = ws.table("web_events")
    w = _in_periods(parts.in_part(w, w.anonymous_id.fill_null(""), part), "at", cal)
    if attr != "bounce_rate":
        return w.group_by("period").agg(a=w.anonymous_id.nunique(where=w.type == "page_view"),
                                        b=w.anonymous_id.nunique(where=w.type == ("form_start" if attr == "form_completion_rate" else "page_view")),
                                        c=w.anonymous_id.nunique(where=w.type == "form_submit")).execute()
    from levier.analysis.attribution.journeys import session_starts

    ev = session_starts(w, 30.0 * 60, by=("period",))
    return ev.group_by("period").agg(a=ev.count(), b=ev.alone.sum()).execute()


def _web_parts(ws: Any, cal: Calendar, attr: str) -> int:
    """Hash parts of the visitors for web KPI ``attr`` (decision 0240).

    The sessions (bounce rate) are a lag/lead window per visitor and period, and a window holds its whole input: one part
    per ``PART_ROWS`` web events of the calendar's range on DuckDB (the window operator is not out of core). The distinct
    visitor counts only group (they spill): one part.
    """
    if attr != "bounce_rate" or ws.facts.backend_name != "duckdb":
        return 1
    w = ws.facts.raw("web_events")
    return parts.count_for(ws, w.filter((w.at >= ibis.literal(cal.lo, "timestamp")) & (w.at < ibis.literal(cal.hi, "timestamp"))).count())


def _web(attr: str) -> Callable[[Any, Calendar], dict[datetime, float | None]]:
    def fn(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
        # visitors never straddle parts, so the parts' counts add
        split = parts.parts(_web_parts(ws, cal, attr))
        df = parts.add_frames([_web_counts(ws, cal, attr, part) for part in split], ["period"])
        got = {_key(r, ())[0]: r for r in _rows(df)}
        out: dict[datetime, float | None] = {}
        for p in cal.starts:
            r = got.get(p, {"a": 0, "b": 0, "c": 0})
            n = {k: int(_num(v) or 0) for k, v in r.items() if k != "period"}
            out[p] = (float(n["a"]) if attr == "web_visitors" else _ratio(n["c"], n["b"]) if attr == "form_completion_rate"
                      else _ratio(n["b"], n["a"]))
        return out
    return fn


# -- everything before the period end: retention -------------------------------------------------
@_shared
def _orders(ws: Any, cal: Calendar) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Accounts active and churned per month, first orders and revenue per day, before the calendar's end."""
    from levier.analysis.marketing import _month_index

    o = ws.table("orders")
    o = o.filter(o.at < ibis.literal(cal.hi, "timestamp"))
    am = o.group_by([o.account_id.name("account"), _month_index(o.at).name("m")]).agg(first=o.at.min())
    nxt = am.view()
    j = am.left_join(nxt, (am.account == nxt.account) & (nxt.m == am.m + 1))
    months = j.group_by(m=j.m).agg(active=j.count(), churned=j.m_right.isnull().cast("int64").sum()).execute()
    firsts = am.group_by(d=am.first.truncate("D")).agg(n=am.count()).execute()
    rev = o.group_by(d=o.at.truncate("D")).agg(rev=o.amount.sum()).execute()
    return months, firsts, rev


def _retention(attr: str) -> Callable[[Any, Calendar], dict[datetime, float | None]]:
    def fn(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
        months, firsts, rev = _orders(ws, cal)
        out: dict[datetime, float | None] = {}
        for p, end in zip(cal.starts, cal.ends, strict=True):
            last_full = end.year * 12 + end.month - 1 - 1
            ch = months[months["m"] < last_full]
            churn = _ratio(float(ch["churned"].sum()), float(ch["active"].sum()))
            r = float(np.nansum(rev.loc[rev["d"] < end, "rev"].to_numpy(float)))
            n = float(firsts.loc[firsts["d"] < end, "n"].sum())
            arpa = _ratio(r, n)
            out[p] = {"monthly_churn": churn, "arpa": arpa, "cltv": _ratio(arpa, churn)}[attr]
        return out
    return fn


def _time_to_conversion(ws: Any, cal: Calendar) -> dict[datetime, float | None]:
    from levier.analysis.attribution.journeys import JourneyOptions, conversion_minutes

    df = conversion_minutes(ws, JourneyOptions(start=cal.lo, end=cal.hi), keys=("period",),
                            shape=lambda per: cal.keep(per.mutate(period=cal.bucket(per.end_at))))
    got = _median_of(df.rename(columns={"m": "v"}), (), 1440.0)
    return {p: got.get((p, ())) for p in cal.starts}


#: catalogue key → grouped computation (every KPI with a per-period compute function)
GROUPED: dict[str, Grouped] = {
    "lead": _cohort_agg(lambda r: _num(r["n"])),
    "conversion": _cohort_agg(lambda r: _num(r["c"])),
    "conversion_rate": _rate("c", "n"),
    "contacts_per_lead": _cohort_median("x", 1.0),
    "ttf_hours": _cohort_median("ttf", 60.0),
    "effective_contact_rate": _rate("e", "sx"),
    "share_within_sla": _rate("sla", "ttf_n"),
    "complaint_rate": _rate("complaints", "out"),
    "unsubscribe_rate": _rate("unsubscribes", "out"),
    "touch_quality": _rate("rm", "out"),
    "pearson_r": _correlation("r"),
    "slope": _correlation("slope"),
    "intercept": _correlation("intercept"),
    "r2": _correlation("r2"),
    "mql_to_sql_rate": _funnel_rate("mql", "sql"),
    "lead_to_opportunity_rate": _funnel_rate("lead", "opportunity"),
    "form_completion_rate": _overall("form_completion_rate", _web("form_completion_rate")),
    "bounce_rate": _overall("bounce_rate", _web("bounce_rate")),
    "web_visitors": _overall("web_visitors", _web("web_visitors")),
    "sales_cycle_days": _overall("sales_cycle_days", _sales_cycle),
    "win_rate": _overall("win_rate", _win_rate),
    "average_deal": _overall("average_deal", _average_deal),
    "pipeline_velocity": _overall("pipeline_velocity", _velocity),
    "monthly_churn": _overall("monthly_churn", _retention("monthly_churn")),
    "arpa": _overall("arpa", _retention("arpa")),
    "cltv": _overall("cltv", _retention("cltv")),
    "spend": _overall("spend", lambda ws, cal: dict(_spend(ws, cal))),
    "cpl": _cost_per("cpl"),
    "cplq": _cost_per("cplq"),
    "cac": _cost_per("cac"),
    "roas": _roas(False),
    "romi": _roas(True),
    "time_to_conversion_days": _overall("time_to_conversion_days", _time_to_conversion),
}


#: catalogue KPIs that can be split by a lead segment (lead cohorts: audit facts and funnel)
SEGMENTABLE = frozenset(("lead", "conversion", "conversion_rate", "contacts_per_lead", "ttf_hours", "effective_contact_rate",
                         "share_within_sla", "complaint_rate", "unsubscribe_rate", "touch_quality", "pearson_r", "slope", "intercept",
                         "r2", "mql_to_sql_rate", "lead_to_opportunity_rate"))


def _run(ws: Any, key: str, cal: Calendar, segments: Sequence[Mapping[str, str]]) -> dict[tuple[datetime, int], float | None]:
    segment_by = tuple(segments[0]) if segments else ()
    got = GROUPED[key](ws, cal, segment_by)
    empty = got.pop(None, None)  # type: ignore[call-overload]
    out: dict[tuple[datetime, int], float | None] = {}
    for i, seg in enumerate(segments or [{}]):
        vals = tuple(str(seg[c]) for c in segment_by)
        for p in cal.starts:
            out[(p, i)] = got.get((p, vals), empty)
    return out


def catalogue_periods(ws: Any, key: str, periods: Sequence[datetime], grain: str,
                      segments: Sequence[Mapping[str, str]]) -> dict[tuple[datetime, int], float | None] | None:
    """Catalogue KPI ``key`` over each period and segment, or None when it has no grouped form.

    Returns ``{(period_start, segment_index): value}`` keyed by the position of the segment in
    ``segments`` (the segment columns are those of the first segment; ``{}`` = no segment).
    """
    if key not in GROUPED:
        return None
    return _run(ws, key, Calendar.of(periods, grain), segments) if periods else {}


def catalogue_span(ws: Any, key: str, start: datetime, end: datetime, segment: Mapping[str, str] | None = None) -> float | None:
    """Catalogue KPI ``key`` over the one period ``[start, end)`` (for ``segment``): what ``compute_kpi`` returns.

    The same grouped computation as :func:`catalogue_periods`, on a calendar of one free period.
    """
    return _run(ws, key, Calendar((start,), (end,)), [dict(segment or {})])[(start, 0)]
