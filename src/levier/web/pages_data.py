"""Figures the pages show: the latest audit of a cycle, KPIs with targets, funnel, channel value,
a rep's Q3 accounts and the customer-context timeline of a lead or account.

Everything computed from the facts goes through :func:`levier.web.pages_core.cached` (one query
at a time, memoised under the facts version :func:`levier.web.pages_core.facts_key`, so an import
or a cleaning run seen by any worker recomputes it) and is reduced by the engine (Ibis) to small
tables: a page never pulls a facts table into memory. The dashboard's figures also go through
:func:`levier.web.figures.figure`: stored per facts version beside the facts (shared by the
workers, kept across restarts) and computed by the background warmer, not by a page request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.i18n import gettext as _
from levier.loop.models import Action, Cycle, CycleResult
from levier.report.fmt import Formatter, is_number
from levier.web.figures import figure
from levier.web.pages_core import cached, facts_key

__all__ = [
    "ResultRef", "latest_audit", "action_targets_key", "audit_payload", "period_of", "kpi_value", "ceo_kpis", "funnel_steps", "channel_value",
    "rep_owners", "rep_q3_accounts", "figure_options", "audit_charts", "lead_profile", "timeline", "account_leads",
]

QUALIFIED = ("sql", "opportunity", "won")
log = logging.getLogger("levier.web")


@dataclass(frozen=True)
class ResultRef:
    """An audit result without its payload (loaded once per process by :func:`audit_payload`)."""

    id: int
    cycle_id: int
    created_at: datetime
    session: Any = field(repr=False, compare=False, default=None)


def latest_audit(s: Session, cycle_id: int | None = None) -> tuple[Cycle | None, ResultRef | None]:
    """The newest audit result (of ``cycle_id`` when given) and its cycle."""
    stmt = (sa.select(CycleResult.id, CycleResult.cycle_id, CycleResult.created_at, Cycle)
            .join(Cycle, Cycle.id == CycleResult.cycle_id).where(CycleResult.kind == "audit"))
    if cycle_id is not None:
        stmt = stmt.where(CycleResult.cycle_id == cycle_id)
    row = s.execute(stmt.order_by(CycleResult.id.desc()).limit(1)).first()  # one query, its cycle joined
    if row is None:
        return (s.get(Cycle, cycle_id) if cycle_id else None), None
    return row.Cycle, ResultRef(row.id, row.cycle_id, row.created_at, s)


def audit_payload(ws: Any, result: ResultRef | None) -> dict[str, Any]:
    """The audit dict of ``result`` (parsed once, then kept in memory: results never change)."""
    if result is None:
        return {}

    def load() -> dict[str, Any]:
        payload = result.session.scalar(sa.select(CycleResult.payload).where(CycleResult.id == result.id))
        return dict(payload or {})

    return cached(("audit", str(ws.path), result.id), load)  # a result never changes


def period_of(payload: dict[str, Any], cycle: Cycle | None) -> tuple[datetime, datetime]:
    """The audited period ``[start, end)``; else the cycle's; else the last 30 days."""
    period = (payload.get("framing") or {}).get("period") or {}
    try:
        return datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
    except (KeyError, TypeError, ValueError):
        pass
    if cycle is not None:
        return datetime.combine(cycle.period_start, datetime.min.time()), datetime.combine(cycle.period_end, datetime.min.time())
    today = datetime.combine(date.today(), datetime.min.time())
    return today - timedelta(days=30), today


def kpi_value(ws: Any, key: str, start: datetime, end: datetime) -> float | None:
    def run() -> float | None:
        # imported when computed: a stored figure needs no SciPy
        from levier.analysis.kpis import compute_kpi

        value = compute_kpi(ws, key, start, end).value  # an empty or partial workspace raises: the tile shows n/a
        return float(value) if is_number(value) else None

    return figure(ws, ("kpi", key, start, end), run, None)


def _action_targets(s: Session) -> dict[str, Action]:
    rows = s.scalars(sa.select(Action).where(Action.status.in_(("open", "in_progress"))).order_by(Action.id))
    return {a.kpi_key: a for a in rows}


def action_targets_key(s: Session) -> tuple[tuple[Any, ...], ...]:
    """What :func:`ceo_kpis` reads from the loop (the open actions' KPI targets), as a cache key."""
    cols = (Action.id, Action.kpi_key, Action.target, Action.baseline)
    stmt = sa.select(*cols).where(Action.status.in_(("open", "in_progress"))).order_by(Action.id)
    return tuple(tuple(r) for r in s.execute(stmt))


def _fmt(f: Formatter, unit: str, value: Any) -> str:
    if unit == "ratio":
        return f.pct(value, 2 if is_number(value) and abs(value) < 0.01 else 1)
    if unit == "hours":
        return f.hours(value)
    if unit == "currency":
        return f.num(value, 2)
    return f.num(value, 2)


def _audited(dash: dict[str, Any], name: str, compute: Callable[[], Any]) -> Any:
    """The audit's own figure when it has one; else ``compute()`` (a facts query: only when needed)."""
    return dash[name] if name in dash else compute()


def ceo_kpis(s: Session, ws: Any, payload: dict[str, Any], cycle: Cycle | None, f: Formatter) -> list[dict[str, Any]]:
    """Six KPIs (four impact, two activity) with a target each and whether it is on target."""
    start, end = period_of(payload, cycle)
    prev_start = start - (end - start)
    dash, framing = payload.get("dashboard") or {}, payload.get("framing") or {}
    prev = (payload.get("comparison") or {}).get("previous") or {}
    sla = framing.get("ttf_sla_hours") or 2.0
    rows: list[tuple[str, str, str, Any, Any, str, str]] = [
        # key, label, unit, value, default target, direction, where the default comes from
        ("conversion_rate", _("Conversion rate"), "ratio", _audited(dash, "conversion_rate", lambda: kpi_value(ws, "conversion_rate", start, end)),
         (prev["conversion_rate"] + 0.02) if is_number(prev.get("conversion_rate")) else None, "up", _("previous period + 2 pts")),
        ("win_rate", _("Win rate"), "ratio", kpi_value(ws, "win_rate", start, end), kpi_value(ws, "win_rate", prev_start, start), "up", _("previous period")),
        ("cplq", _("Cost per qualified lead"), "currency", kpi_value(ws, "cplq", start, end), kpi_value(ws, "cplq", prev_start, start), "down", _("previous period")),
        ("complaint_rate", _("Complaint rate"), "ratio", _audited(dash, "complaint_rate", lambda: kpi_value(ws, "complaint_rate", start, end)), 0.002, "down", _("method guardrail")),
        ("ttf_hours", _("Median time to first contact"), "hours", _audited(dash, "median_ttf_hours", lambda: kpi_value(ws, "ttf_hours", start, end)), sla, "down", _("TTF SLA")),
        ("share_within_sla", _("Leads contacted within the SLA"), "ratio", kpi_value(ws, "share_within_sla", start, end), 0.8, "up", _("method default")),
    ]
    actions = _action_targets(s)
    out = []
    for key, label, unit, value, target, direction, source in rows:
        act = actions.get(key)
        if act is not None:
            target, source = act.target, _("action #{id}", id=act.id)
            direction = "down" if act.baseline is not None and act.target < act.baseline else "up"
        ok = None
        if is_number(value) and is_number(target):
            ok = value <= target if direction == "down" else value >= target
        out.append({"key": key, "label": label, "value": _fmt(f, unit, value), "target": _fmt(f, unit, target),
                    "direction": direction, "ok": ok, "source": source, "kind": "activity" if key in ("ttf_hours", "share_within_sla") else "impact"})
    return out


def funnel_steps(ws: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        # imported when computed: a stored figure needs no SciPy
        from levier.analysis.funnel import funnel

        return [st.to_dict() for st in funnel(ws, start=start, end=end).overall.steps]

    return figure(ws, ("funnel", start, end), run, [])


def channel_value(ws: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per paid source (spend.source, matched to leads by campaign): spend, leads, qualified, CPLQ, won revenue, ROAS."""

    def run() -> list[dict[str, Any]]:
        spend = ws.table("spend")
        spend = spend.filter((spend.date >= start.date()) & (spend.date < end.date()))
        by_source = spend.group_by("source").agg(cost=spend.cost.sum()).execute()
        campaigns = ws.table("spend").select("campaign_id", "source").distinct()
        leads = ws.table("leads")
        leads = leads.filter((leads.created_at >= start) & (leads.created_at < end))
        st = ws.table("stage_events")
        qual = st.filter(st.stage.isin(QUALIFIED)).select("lead_id").distinct().mutate(q=ibis.literal(1))
        deals = ws.table("deals")
        won = deals.filter(deals.won == True).group_by("lead_id").agg(revenue=deals.amount.sum())  # noqa: E712
        j = leads.left_join(campaigns, leads.campaign_id == campaigns.campaign_id)
        j = j.select(lead_id=leads.lead_id, source=campaigns.source.fill_null("(organic)"))
        j = j.left_join(qual, j.lead_id == qual.lead_id).select(j.lead_id, j.source, q=qual.q.fill_null(0))
        j = j.left_join(won, j.lead_id == won.lead_id).select(j.source, j.q, revenue=won.revenue.fill_null(0))
        agg = j.group_by("source").agg(leads=j.count(), qualified=j.q.sum(), revenue=j.revenue.sum()).execute()
        costs = dict(zip(by_source["source"], by_source["cost"], strict=True))
        out = []
        for r in agg.sort_values("leads", ascending=False).itertuples():
            cost = float(costs.get(r.source, 0.0))
            out.append({"source": r.source, "spend": cost, "leads": int(r.leads), "qualified": int(r.qualified),
                        "cplq": cost / r.qualified if cost and r.qualified else None, "revenue": float(r.revenue),
                        "roas": float(r.revenue) / cost if cost else None})
        return out

    return figure(ws, ("channels", start, end), run, [])


def rep_owners(ws: Any, start: datetime, end: datetime) -> list[str]:
    def run() -> list[str]:
        t = ws.table("leads")
        t = t.filter((t.created_at >= start) & (t.created_at < end) & t.owner.notnull())
        return sorted(str(x) for x in t.select("owner").distinct().execute()["owner"])

    return figure(ws, ("owners", start, end), run, [])


def rep_q3_accounts(ws: Any, payload: dict[str, Any], rep: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The rep's accounts in Q3 (mean touches and conversion both below the audit means), most leads first."""
    quads = (payload.get("overall") or {}).get("quadrants") or {}
    x_mean, y_mean = quads.get("x_mean"), quads.get("y_mean")
    stage = ((payload.get("framing") or {}).get("conversion") or {}).get("stage") or "opportunity"
    if not (is_number(x_mean) and is_number(y_mean)):
        return []

    def run() -> list[dict[str, Any]]:
        leads = ws.table("leads")
        leads = leads.filter((leads.created_at >= start) & (leads.created_at < end) & (leads.owner == rep) & leads.account_id.notnull())
        tc = ws.table("touches")
        out_t = tc.filter(tc.direction == "out")
        touches = out_t.group_by("lead_id").agg(n=out_t.count())
        st = ws.table("stage_events")
        conv = st.filter(st.stage == stage).select("lead_id").distinct().mutate(c=ibis.literal(1))
        j = leads.left_join(touches, leads.lead_id == touches.lead_id).select(leads.lead_id, leads.account_id, n=touches.n.fill_null(0))
        j = j.left_join(conv, j.lead_id == conv.lead_id).select(j.account_id, j.n, c=conv.c.fill_null(0))
        agg = j.group_by("account_id").agg(leads=j.count(), mean_touches=j.n.mean(), conversion_rate=j.c.mean())
        agg = agg.filter((agg.mean_touches < x_mean) & (agg.conversion_rate < y_mean)).order_by([ibis.desc("leads"), "account_id"]).limit(10)
        return [dict(r) for r in agg.execute().to_dict("records")]

    return figure(ws, ("q3", rep, start, end, x_mean, y_mean), run, [])


def figure_options(payload: dict[str, Any], f: Formatter) -> list[dict[str, str]]:
    """Figures of an audit result a retro observation can be created from (dotted key, label, value)."""
    dash = payload.get("dashboard") or {}
    labels = {
        "dashboard.conversion_rate": (_("Conversion rate"), "pct"), "dashboard.median_ttf_hours": (_("Median time to first contact"), "hours"),
        "dashboard.median_contacts": (_("Median contacts per lead"), "num"), "dashboard.r": (_("Correlation r"), "num"),
        "dashboard.slope": (_("Slope"), "num"), "dashboard.pct_q1": (_("Share in Q1"), "pct"),
        "dashboard.complaint_rate": (_("Complaint rate"), "pct"), "overall.ttf.share_within_sla": (_("Leads contacted within the SLA"), "pct"),
        "overall.effective_contact_rate": (_("Effective-contact rate"), "pct"),
    }
    out = []
    for key, (label, kind) in labels.items():
        node: Any = payload
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if is_number(node):
            value = f.pct(node) if kind == "pct" else f.hours(node) if kind == "hours" else f.num(node, 3)
            out.append({"key": key, "label": f"{label} = {value}"})
    for i, seg in enumerate(payload.get("segments") or []):
        if is_number(seg.get("conversion_rate")):
            out.append({"key": f"segments.{i}.conversion_rate", "label": _("Conversion rate {segment} = {value}", segment=seg.get("label"), value=f.pct(seg["conversion_rate"]))})
    del dash
    return out


def audit_charts(ws: Any, result: ResultRef, payload: dict[str, Any], lang: str) -> tuple[Any, dict[str, str]]:
    """The audit note as a document and its charts as inline SVG (server-side, cached per language)."""
    from levier.report.charts import to_svg
    from levier.report.html import inline_svg
    from levier.report.sections import build_document

    def run() -> tuple[Any, dict[str, str]]:
        doc = build_document(payload, lang)
        return doc, {fig.key: inline_svg(to_svg(fig.spec, lang)) for fig in doc.figures()}

    return cached(("charts", str(ws.path), result.id, lang), run)


# -- customers ---------------------------------------------------------------------------
def _records(expr: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in expr.execute().to_dict("records")]


def lead_profile(ws: Any, lead_id: str) -> dict[str, Any] | None:
    t = ws.table("leads")
    rows = cached(("lead", *facts_key(ws), lead_id), lambda: _records(t.filter(t.lead_id == lead_id).limit(1)), ttl=60)
    return rows[0] if rows else None


def account_leads(ws: Any, account_id: str) -> list[dict[str, Any]]:
    t = ws.table("leads")
    return cached(("account", *facts_key(ws), account_id),
                  lambda: _records(t.filter(t.account_id == account_id).order_by("created_at").limit(200)), ttl=60)


def timeline(ws: Any, lead_ids: list[str], limit: int = 300) -> list[dict[str, Any]]:
    """Touches, stages, deals and web events of these leads, newest first (at most ``limit``)."""
    if not lead_ids:
        return []

    def run() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        tc = ws.table("touches")
        for r in _records(tc.filter(tc.lead_id.isin(lead_ids)).order_by(ibis.desc("at")).limit(limit)):
            events.append({"at": r["at"], "kind": "touch", "lead_id": r["lead_id"], "title": f"{r['channel']} · {r['direction']} · {r['outcome'] or ''}", "detail": r.get("owner") or ""})
        st = ws.table("stage_events")
        for r in _records(st.filter(st.lead_id.isin(lead_ids)).order_by(ibis.desc("at")).limit(limit)):
            events.append({"at": r["at"], "kind": "stage", "lead_id": r["lead_id"], "title": str(r["stage"]), "detail": ""})
        dl = ws.table("deals")
        for r in _records(dl.filter(dl.lead_id.isin(lead_ids)).limit(limit)):
            state = "won" if r.get("won") else (r.get("lost_reason") or r.get("stage") or "")
            events.append({"at": r["created_at"], "kind": "deal", "lead_id": r["lead_id"], "title": f"{r['deal_id']} · {r.get('amount')} {r.get('currency') or ''}", "detail": str(state)})
        we = ws.table("web_events")
        for r in _records(we.filter(we.lead_id.isin(lead_ids)).order_by(ibis.desc("at")).limit(limit)):
            events.append({"at": r["at"], "kind": "web", "lead_id": r["lead_id"], "title": f"{r['type']} {r.get('page') or ''}", "detail": r.get("utm_source") or ""})
        events = [e for e in events if e["at"] is not None and e["at"] == e["at"]]
        events.sort(key=lambda e: e["at"], reverse=True)
        return events[:limit]

    return cached(("timeline", *facts_key(ws), tuple(lead_ids), limit), run, ttl=60)
