"""Compute functions of the KPI catalogue (:mod:`levier.analysis.kpis`): engine aggregates only.

Every function has the signature ``fn(ws, start, end, segment) -> float | None`` with
``start``/``end`` datetimes (half-open period) and ``segment`` a dict of ``leads`` columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import ibis.expr.types as ir

from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["COMPUTE", "Compute"]

Compute = Callable[[Any, datetime, datetime, Mapping[str, str] | None], float | None]
SLA_SECONDS = 2 * 3600
_LEAD_TABLES = ("leads", "stage_events", "touches")


def _num(v: Any) -> float | None:
    return None if v is None or v != v else float(v)


def _ratio(a: Any, b: Any) -> float | None:
    a, b = _num(a), _num(b)
    return a / b if a is not None and b else None


def _facts(ws: Any, start: datetime, end: datetime, segment: Mapping[str, str] | None) -> ir.Table:
    """The audit's per-lead facts for the period, filtered on the segment."""
    from levier.analysis.framing import AuditOptions, Period, resolve
    from levier.analysis.perlead import lead_facts

    seg = dict(segment or {})
    period = Period(start.date(), end.date(), f"{start.date()}..{end.date()}")
    framing = resolve(AuditOptions(period=period, segment_by=tuple(seg), compare_to="none"), latest_lead=None,
                      extraction_time=None, stages=tuple(ws.config.stages), workspace=str(ws.path),
                      backend=ws.facts.backend_name, version="")
    f = lead_facts({n: ws.table(n) for n in _LEAD_TABLES}, framing, period)  # only the tables it reads
    for c, v in seg.items():
        f = f.filter(f[f"seg_{c}"] == str(v))
    return f


def _one(expr: ir.Table) -> Any:
    return expr.execute().iloc[0]


def _median(t: ir.Table, value: ir.Value) -> float | None:
    import ibis

    from levier.analysis.stats import weighted_quantile

    hist = t.mutate(v=value).filter(ibis._.v.notnull()).group_by("v").agg(n=ibis._.count()).execute()
    return weighted_quantile(hist["v"].to_numpy(float), hist["n"].to_numpy(float), 0.5) if len(hist) else None


def _lead_kpi(fn: Callable[[ir.Table], float | None]) -> Compute:
    return lambda ws, s, e, seg: fn(_facts(ws, s, e, seg))


def _correlation(field: str) -> Compute:
    def compute(ws: Any, s: datetime, e: datetime, seg: Mapping[str, str] | None) -> float | None:
        from levier.analysis.stats import Moments, correlation

        f = _facts(ws, s, e, seg)
        x, y = f.x.cast("float64"), f.converted.cast("float64")
        r = _one(f.agg(n=f.count(), sx=x.sum(), sy=y.sum(), sxx=(x * x).sum(), syy=(y * y).sum(), sxy=(x * y).sum()))
        c = correlation(Moments(*(float(r[k] or 0.0) for k in ("n", "sx", "sy", "sxx", "syy", "sxy"))))
        return _num(getattr(c, field))
    return compute


def _no_segment(key: str, fn: Callable[[Any, datetime, datetime], float | None]) -> Compute:
    def compute(ws: Any, s: datetime, e: datetime, seg: Mapping[str, str] | None) -> float | None:
        if seg:
            raise OptionError(_("KPI '{key}' cannot be split by a lead segment.", key=key))
        return fn(ws, s, e)
    return compute


def _funnel_rate(a: str, b: str) -> Compute:
    def compute(ws: Any, s: datetime, e: datetime, seg: Mapping[str, str] | None) -> float | None:
        from levier.analysis.funnel import funnel

        f = funnel(ws, start=s, end=e, segment_by=tuple(seg or ()))
        if not seg:
            return f.rate(a, b)
        for part in f.segments:
            if part.key == {k: str(v) for k, v in seg.items()}:
                got = {st.stage: st.reached for st in part.steps}
                return _ratio(got.get(b), got.get(a))
        return None
    return compute


def _web(attr: str) -> Compute:
    from levier.analysis.marketing import web_funnel

    return _no_segment(attr, lambda ws, s, e: _num(getattr(web_funnel(ws, s, e), attr)))


def _velocity(attr: str) -> Compute:
    from levier.analysis.marketing import pipeline_velocity

    return _no_segment(attr, lambda ws, s, e: _num(getattr(pipeline_velocity(ws, s, e), attr)))


def _sales_cycle(ws: Any, s: datetime, e: datetime) -> float | None:
    from levier.analysis.marketing import sales_cycle

    return sales_cycle(ws, s, e).median_days


def _retention(attr: str) -> Compute:
    from levier.analysis.marketing import retention

    return _no_segment(attr, lambda ws, s, e: _num(getattr(retention(ws, None, e), attr)))


def _spend(ws: Any, s: datetime, e: datetime) -> float:
    t = ws.table("spend")
    t = t.filter((t.date >= s.date()) & (t.date < e.date()))
    return _num(t.cost.sum().execute()) or 0.0


def _stage_count(ws: Any, s: datetime, e: datetime, stage: str) -> int:
    se = ws.table("stage_events")
    se = se.filter((se.stage == stage) & (se.at >= s) & (se.at < e))
    return int(se.lead_id.nunique().execute() or 0)


def _leads_count(ws: Any, s: datetime, e: datetime) -> int:
    leads = ws.table("leads")
    return int(leads.filter((leads.created_at >= s) & (leads.created_at < e)).count().execute())


def _won_revenue(ws: Any, s: datetime, e: datetime) -> float:
    d = ws.table("deals")
    d = d.filter(d.won.fill_null(False) & (d.closed_at >= s) & (d.closed_at < e))
    return _num(d.amount.sum().execute()) or 0.0


def _cost_per(kind: str) -> Compute:
    def fn(ws: Any, s: datetime, e: datetime) -> float | None:
        denom = {"cpl": lambda: _leads_count(ws, s, e), "cplq": lambda: _stage_count(ws, s, e, "sql"),
                 "cac": lambda: _stage_count(ws, s, e, "won")}[kind]()
        return _ratio(_spend(ws, s, e), denom)
    return _no_segment(kind, fn)


def _roas(romi: bool) -> Compute:
    def fn(ws: Any, s: datetime, e: datetime) -> float | None:
        spend = _spend(ws, s, e)
        rev = _won_revenue(ws, s, e)
        return _ratio(rev - spend if romi else rev, spend)
    return _no_segment("romi" if romi else "roas", fn)


def _time_to_conversion(ws: Any, s: datetime, e: datetime) -> float | None:
    from levier.analysis.attribution.journeys import JourneyOptions, time_to_conversion

    return time_to_conversion(ws, JourneyOptions(start=s, end=e)).median_days


COMPUTE: dict[str, Compute] = {
    "lead": _lead_kpi(lambda f: _num(f.count().execute())),
    "conversion": _lead_kpi(lambda f: _num(f.converted.sum().execute())),
    "conversion_rate": _lead_kpi(lambda f: _num(f.converted.mean().execute())),
    "contacts_per_lead": _lead_kpi(lambda f: _median(f, f.x)),
    "effective_contact_rate": _lead_kpi(lambda f: (lambda r: _ratio(r["e"], r["x"]))(_one(f.agg(e=f.effective.sum(), x=f.x.sum())))),
    "ttf_hours": _lead_kpi(lambda f: (lambda m: None if m is None else m / 60)(_median(f, (f.ttf_s / 60).floor().cast("int64")))),
    "share_within_sla": _lead_kpi(lambda f: (lambda r: _ratio(r["a"], r["n"]))(_one(f.agg(a=(f.ttf_s < SLA_SECONDS).cast("int64").sum(), n=f.ttf_s.count())))),
    "complaint_rate": _lead_kpi(lambda f: (lambda r: _ratio(r["c"], r["o"]))(_one(f.agg(c=f.complaints.sum(), o=f.out_touches.sum())))),
    "unsubscribe_rate": _lead_kpi(lambda f: (lambda r: _ratio(r["c"], r["o"]))(_one(f.agg(c=f.unsubscribes.sum(), o=f.out_touches.sum())))),
    "touch_quality": _lead_kpi(lambda f: (lambda r: _ratio(r["c"], r["o"]))(_one(f.agg(c=(f.replies + f.meetings).sum(), o=f.out_touches.sum())))),
    "pearson_r": _correlation("r"),
    "slope": _correlation("slope"),
    "intercept": _correlation("intercept"),
    "r2": _correlation("r2"),
    "mql_to_sql_rate": _funnel_rate("mql", "sql"),
    "lead_to_opportunity_rate": _funnel_rate("lead", "opportunity"),
    "form_completion_rate": _web("form_completion_rate"),
    "bounce_rate": _web("bounce_rate"),
    "web_visitors": _web("visitors"),
    "sales_cycle_days": _no_segment("sales_cycle_days", _sales_cycle),
    "win_rate": _velocity("win_rate"),
    "average_deal": _velocity("average_won_amount"),
    "pipeline_velocity": _velocity("velocity_per_day"),
    "monthly_churn": _retention("monthly_churn"),
    "arpa": _retention("arpa"),
    "cltv": _retention("cltv"),
    "spend": _no_segment("spend", _spend),
    "cpl": _cost_per("cpl"),
    "cplq": _cost_per("cplq"),
    "cac": _cost_per("cac"),
    "roas": _roas(False),
    "romi": _roas(True),
    "time_to_conversion_days": _no_segment("time_to_conversion_days", _time_to_conversion),
}
