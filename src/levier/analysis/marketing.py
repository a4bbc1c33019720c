"""Marketing and sales KPIs computed in the engine: web funnel, sales cycle, pipeline
velocity, retention cohorts and CLTV. Definitions are in :mod:`levier.analysis.kpis`.

- Web funnel: visitors (distinct ``anonymous_id`` with a page view) → form starters → form
  submitters → leads (distinct ``lead_id`` on ``form_submit`` events). Form completion rate =
  submitters / starters. Landing bounce rate = sessions of a single event / sessions (a
  session opens as in the attribution journeys: first event, a gap over 30 min, or UTMs);
  sessions are counted one hash part of the visitors at a time on large embedded workspaces.
- Sales cycle: days from deal ``created_at`` to ``closed_at`` for deals won in the period.
- Pipeline velocity = open opportunities × win rate × average won deal / average cycle (days),
  in currency per day. Win rate = won / (won + lost) over deals closed in the period.
- Retention: cohort = month of an account's first order; retained at age k = accounts of the
  cohort ordering in month cohort + k. Monthly churn = accounts active in a month and not in
  the next / accounts active in the month (months fully observed in the period). CLTV =
  ARPA (revenue / active account-months) / monthly churn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.analysis.attribution.journeys import session_starts
from levier.analysis.stats import weighted_quantile
from levier.data.parts import Part, in_part, part_count
from levier.data.parts import parts as all_parts

__all__ = ["WebFunnel", "web_funnel", "SalesCycle", "sales_cycle", "PipelineVelocity", "pipeline_velocity",
           "Retention", "retention"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _between(t: ir.Table, col: str, start: datetime | None, end: datetime | None) -> ir.Table:
    if start:
        t = t.filter(t[col] >= start)
    if end:
        t = t.filter(t[col] < end)
    return t


@dataclass(frozen=True)
class WebFunnel:
    visitors: int
    form_starters: int
    form_submitters: int
    leads: int
    sessions: int
    bounced_sessions: int

    @property
    def form_completion_rate(self) -> float | None:
        return _ratio(self.form_submitters, self.form_starters)

    @property
    def bounce_rate(self) -> float | None:
        return _ratio(self.bounced_sessions, self.sessions)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "form_completion_rate": self.form_completion_rate, "bounce_rate": self.bounce_rate,
                "steps": [{"step": k, "count": getattr(self, k)} for k in ("visitors", "form_starters", "form_submitters", "leads")]}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.to_dict()["steps"])


def _session_counts(w: ir.Table, gap: float, part: Part) -> tuple[int, int]:
    """Sessions and bounced sessions of the visitors hashing into ``part`` (filtered before the window)."""
    ev = session_starts(in_part(w, "anonymous_id", part), gap)
    s = ev.agg(sessions=ev.count(), bounced=ev.alone.sum()).execute().iloc[0]
    return _as_int(s["sessions"]), _as_int(s["bounced"])


def _as_int(v: Any) -> int:
    return int(v) if v is not None and v == v else 0


def web_funnel(ws: Any, start: datetime | None = None, end: datetime | None = None, session_gap_minutes: float = 30.0,
               *, parts: int | None = None) -> WebFunnel:
    """The web funnel of ``[start, end)``. Sessions need a window per visitor: on an embedded
    DuckDB engine above :data:`~levier.data.parts.PART_ROWS` events it runs one hash part of the
    visitors at a time (``parts`` forces the number), the counts added (decision 0206)."""
    w = _between(ws.table("web_events"), "at", start, end)
    counts = w.agg(
        visitors=w.anonymous_id.nunique(where=w.type == "page_view"),
        starters=w.anonymous_id.nunique(where=w.type == "form_start"),
        submitters=w.anonymous_id.nunique(where=w.type == "form_submit"),
        leads=w.lead_id.nunique(where=(w.type == "form_submit") & w.lead_id.notnull()),
    ).execute().iloc[0]
    n = part_count(ws, ("web_events",)) if parts is None else parts
    per_part = [_session_counts(w, session_gap_minutes * 60, part) for part in all_parts(n)]
    return WebFunnel(_as_int(counts["visitors"]), _as_int(counts["starters"]), _as_int(counts["submitters"]),
                     _as_int(counts["leads"]), sum(s for s, _ in per_part), sum(b for _, b in per_part))


@dataclass(frozen=True)
class SalesCycle:
    deals: int
    median_days: float | None
    mean_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sales_cycle(ws: Any, start: datetime | None = None, end: datetime | None = None) -> SalesCycle:
    """Days from deal creation to close for deals won (closed) in ``[start, end)``; exact to the hour."""
    d = ws.table("deals")
    d = _between(d.filter(d.won.fill_null(False) & d.closed_at.notnull() & (d.closed_at >= d.created_at)), "closed_at", start, end)
    hours = ((d.closed_at.epoch_seconds() - d.created_at.epoch_seconds()) / 3600).floor().cast("int64")
    hist = d.mutate(h=hours).group_by("h").agg(n=ibis._.count()).execute()
    if hist.empty:
        return SalesCycle(0, None, None)
    v, n = hist["h"].to_numpy(float), hist["n"].to_numpy(float)
    med = weighted_quantile(v, n, 0.5)
    return SalesCycle(int(n.sum()), None if med is None else med / 24, float((v * n).sum() / n.sum() / 24))


@dataclass(frozen=True)
class PipelineVelocity:
    opportunities: int  # deals open at the end of the period (created before it, not closed by then)
    won: int
    lost: int
    average_won_amount: float | None
    cycle_days: float | None

    @property
    def win_rate(self) -> float | None:
        return _ratio(self.won, self.won + self.lost)

    @property
    def velocity_per_day(self) -> float | None:
        if self.win_rate is None or self.average_won_amount is None or not self.cycle_days:
            return None
        return self.opportunities * self.win_rate * self.average_won_amount / self.cycle_days

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "win_rate": self.win_rate, "velocity_per_day": self.velocity_per_day}


def pipeline_velocity(ws: Any, start: datetime | None = None, end: datetime | None = None) -> PipelineVelocity:
    d = ws.table("deals")
    closed = _between(d.filter(d.closed_at.notnull()), "closed_at", start, end)
    won = closed.won.fill_null(False)
    agg = closed.agg(won=won.cast("int64").sum(), lost=(~won).cast("int64").sum(),
                     avg=closed.amount.mean(where=won & (closed.amount > 0)),
                     cyc=((closed.closed_at.epoch_seconds() - closed.created_at.epoch_seconds()) / 86400).mean(where=won)).execute().iloc[0]
    open_ = d.filter(d.created_at < end) if end else d
    open_ = open_.filter(open_.closed_at.isnull() | (open_.closed_at >= end)) if end else open_.filter(open_.closed_at.isnull())
    n_open = int(open_.count().execute())
    num = lambda v: None if v is None or v != v else float(v)  # noqa: E731
    return PipelineVelocity(n_open, int(agg["won"] or 0), int(agg["lost"] or 0), num(agg["avg"]), num(agg["cyc"]))


@dataclass(frozen=True)
class Retention:
    cohorts: tuple[tuple[str, int, int], ...]  # (cohort month, age in months, active accounts)
    monthly_churn: float | None
    arpa: float | None  # revenue per active account-month
    cltv: float | None

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(list(self.cohorts), columns=["cohort", "age", "accounts"])
        if df.empty:
            return df
        size = df[df["age"] == 0].set_index("cohort")["accounts"]
        df["retention"] = df["accounts"] / df["cohort"].map(size)
        return df

    def to_dict(self) -> dict[str, Any]:
        return {"monthly_churn": self.monthly_churn, "arpa": self.arpa, "cltv": self.cltv,
                "cohorts": self.to_frame().to_dict("records")}


def _month_index(ts: ir.TimestampValue) -> ir.IntegerValue:
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def retention(ws: Any, start: datetime | None = None, end: datetime | None = None) -> Retention:
    """Monthly cohorts from ``orders`` (orders before ``end``; cohorts first ordering in the period)."""
    o = ws.table("orders")
    if end:
        o = o.filter(o.at < end)
    om = o.select(account=o.account_id, m=_month_index(o.at), amount=o.amount)
    first = om.group_by("account").agg(c=om.m.min())
    j = om.join(first, "account")
    if start:
        j = j.filter(j.c >= _month_index(ibis.literal(start, "timestamp")))
    active = j.group_by(["account", "c", "m"]).agg(rev=j.amount.sum())
    cohorts = active.group_by(["c", "m"]).agg(n=active.account.nunique()).order_by(["c", "m"]).execute()
    rows = tuple((f"{int(c) // 12:04d}-{int(c) % 12 + 1:02d}", int(m - c), int(n)) for c, m, n in cohorts.itertuples(index=False, name=None))
    a2 = active.view()
    nxt = active.left_join(a2, (active.account == a2.account) & (a2.m == active.m + 1))
    last_full = _month_index(ibis.literal(end, "timestamp")) - 1 if end else active.m.max()
    nxt = nxt.filter(active.m < last_full) if end else nxt
    ch = nxt.agg(active=nxt.count(), churned=nxt.m_right.isnull().cast("int64").sum()).execute().iloc[0]
    rev = active.agg(rev=active.rev.sum(), months=active.count()).execute().iloc[0]
    churn = _ratio(float(ch["churned"] or 0), float(ch["active"] or 0))
    arpa = _ratio(float(rev["rev"] or 0), float(rev["months"] or 0))
    return Retention(rows, churn, arpa, _ratio(arpa, churn))
