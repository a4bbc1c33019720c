"""The marketing → sales SLA: MQLs accepted or rejected within N hours, reasons, TTF by score band.

Data used (ADR 0115): an MQL is a lead's first ``stage_events`` row of stage ``mql`` in the
period. It is **accepted** when the lead later reaches ``sql`` (first event at or after the
MQL), **rejected** when it reaches an exit stage (``lost``) before any ``sql``; otherwise it is
**pending**. The decision time is the first of those events. Rejection reasons come from the
lead's lost deal (``deals.lost_reason``) when there is one, else ``unspecified`` — stage events
carry no reason. TTF = hours from ``leads.created_at`` to the first outbound touch; score bands
come from ``_lead_scores`` (:mod:`levier.kpi.scoring`) when it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis

from levier.analysis.stats import weighted_quantile
from levier.kpi.scoring import SCORES_TABLE

__all__ = ["SlaReport", "sla_report"]


@dataclass(frozen=True)
class SlaReport:
    start: datetime
    end: datetime
    sla_hours: float
    mqls: int
    accepted: int
    rejected: int
    pending: int
    decided_within_sla: int
    accepted_within_sla: int
    median_hours_to_decision: float | None
    reasons: dict[str, int]
    ttf_by_band: dict[str, dict[str, float | int | None]]

    @property
    def share_within_sla(self) -> float | None:
        return self.decided_within_sla / self.mqls if self.mqls else None

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "sla_hours": self.sla_hours, "mqls": self.mqls,
                "accepted": self.accepted, "rejected": self.rejected, "pending": self.pending, "decided_within_sla": self.decided_within_sla,
                "accepted_within_sla": self.accepted_within_sla, "share_within_sla": self.share_within_sla,
                "median_hours_to_decision": self.median_hours_to_decision, "rejection_reasons": self.reasons, "ttf_by_band": self.ttf_by_band}


def _first(st: Any, stage: str, name: str) -> Any:
    t = st.filter(st.stage == stage)
    return t.group_by("lead_id").agg(**{name: t.at.min()})


def _decisions(ws: Any, start: datetime, end: datetime, accept: str, reject: str) -> Any:
    st = ws.table("stage_events")
    mql = _first(st, "mql", "mql_at")
    mql = mql.filter((mql.mql_at >= start) & (mql.mql_at < end))
    s2 = st.filter(st.stage == accept).inner_join(mql, "lead_id")
    acc = s2.filter(s2.at >= s2.mql_at).group_by("lead_id").agg(acc_at=s2.at.min())
    s3 = st.filter(st.stage == reject).inner_join(mql, "lead_id")
    rej = s3.filter(s3.at >= s3.mql_at).group_by("lead_id").agg(rej_at=s3.at.min())
    j = mql.left_join(acc, "lead_id").left_join(rej, "lead_id")
    accepted = j.acc_at.notnull() & (j.rej_at.isnull() | (j.acc_at <= j.rej_at))
    rejected = ~accepted & j.rej_at.notnull()
    decided_at = ibis.cases((accepted, j.acc_at), (rejected, j.rej_at), else_=ibis.null("timestamp"))
    return j.select(lead_id=j.lead_id, mql_at=j.mql_at, accepted=accepted, rejected=rejected,
                    hours=(decided_at.epoch_seconds() - j.mql_at.epoch_seconds()) / 3600.0)


def _reasons(ws: Any, d: Any) -> dict[str, int]:
    deals = ws.table("deals")
    lost = deals.filter(deals.lost_reason.notnull()).group_by("lead_id").agg(reason=deals.lost_reason.min())
    r = d.filter(d.rejected).left_join(lost, "lead_id")
    got = r.group_by(reason=r.reason.fill_null("unspecified")).agg(n=r.count()).execute()
    return {str(k): int(v) for k, v in sorted(zip(got["reason"], got["n"], strict=True), key=lambda kv: (-kv[1], kv[0]))}


def _ttf_by_band(ws: Any, d: Any) -> dict[str, dict[str, float | int | None]]:
    con = ws.facts.con
    leads, touches = ws.table("leads"), ws.table("touches")
    lw = leads.select("lead_id", "created_at").inner_join(d.select("lead_id"), "lead_id")
    t = touches.filter(touches.direction == "out").inner_join(lw, "lead_id")
    t = t.filter(t.at >= t.created_at)
    first = t.group_by("lead_id").agg(ttf=((t.at.epoch_seconds() - t.created_at.epoch_seconds()) / 60).min())
    fr = first.rename(fl="lead_id")
    x = lw.left_join(fr, lw.lead_id == fr.fl).select("lead_id", "ttf")
    if SCORES_TABLE in con.list_tables():
        sc = con.table(SCORES_TABLE).select(sl="lead_id", band="band")
        x = x.left_join(sc, x.lead_id == sc.sl).select("lead_id", "ttf", band=ibis._.band.fill_null("unscored"))
    else:
        x = x.mutate(band=ibis.literal("unscored"))
    x = x.mutate(ttf_min=x.ttf.floor().cast("int64"))
    hist = x.group_by("band", "ttf_min").agg(n=x.count()).execute()
    out: dict[str, dict[str, float | int | None]] = {}
    for b, g in hist.groupby("band"):
        touched = g[g["ttf_min"].notna()]
        v, n = touched["ttf_min"].to_numpy(float), touched["n"].to_numpy(float)
        out[str(b)] = {"leads": int(g["n"].sum()), "contacted": int(n.sum()),
                       "median_ttf_hours": weighted_quantile(v, n, 0.5) / 60 if n.sum() else None,
                       "p90_ttf_hours": weighted_quantile(v, n, 0.9) / 60 if n.sum() else None}
    return out


def sla_report(ws: Any, start: datetime, end: datetime, *, sla_hours: float = 48.0, accept_stage: str = "sql",
               reject_stage: str = "lost") -> SlaReport:
    """The SLA over MQLs of ``[start, end)``."""
    d = _decisions(ws, start, end, accept_stage, reject_stage)
    within = d.hours.notnull() & (d.hours <= sla_hours)
    r = d.agg(n=d.count(), acc=d.accepted.cast("int64").sum(), rej=d.rejected.cast("int64").sum(),
              win=within.cast("int64").sum(), acc_win=(within & d.accepted).cast("int64").sum()).execute().iloc[0]
    hist = d.filter(d.hours.notnull()).mutate(m=(d.hours * 60).floor().cast("int64")).group_by("m").agg(k=ibis._.count()).execute()
    median = weighted_quantile(hist["m"].to_numpy(float), hist["k"].to_numpy(float), 0.5) / 60 if len(hist) else None
    n, acc, rej = (int(r[k] or 0) for k in ("n", "acc", "rej"))
    return SlaReport(start, end, sla_hours, n, acc, rej, n - acc - rej, int(r["win"] or 0), int(r["acc_win"] or 0), median,
                     _reasons(ws, d), _ttf_by_band(ws, d))
