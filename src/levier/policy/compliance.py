"""Compliance audit over a period, computed in the engine (Ibis): which touches broke which rule.

Every outbound touch of the period (cleaned view) is tested against the rules with window
functions over each lead's (and account's) whole history: sending window in the lead's local
time (UTC offsets come from a small per-zone, per-hour table joined in the engine), daily cap
per channel, cadence maximum, account cap, cool-down, opt-out (``leads.opted_out_at``) and
escalation (a flagged lead touched on another channel than the validated one). Only aggregates
come back: counts per rule × rep × segment × week, the ids of touches after an opt-out (must
be none — a red alarm otherwise), TTF SLA breaches and the weekly complaint rate per segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import pandas as pd

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.policy._time import zone
from levier.policy.rules import PolicyRules

__all__ = ["ComplianceReport", "audit", "audit_section", "RULES"]

RULES = ("window", "daily_cap", "cadence_max", "account_cap", "cool_down", "opt_out", "escalation")


@dataclass(frozen=True)
class ComplianceReport:
    """Violations by rule, rep, segment and week; TTF breaches; opt-out alarm; complaint weeks."""

    start: date
    end: date
    touches: int
    violations: list[dict[str, Any]] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)
    opt_out_touch_ids: list[str] = field(default_factory=list)
    ttf: list[dict[str, Any]] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)
    max_complaint_rate: float = 0.0

    @property
    def alarm(self) -> bool:
        """Red alarm: a lead was touched after opting out."""
        return bool(self.opt_out_touch_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "touches": self.touches,
                "by_rule": dict(self.by_rule), "violations": list(self.violations), "alarm": self.alarm,
                "opt_out_touch_ids": list(self.opt_out_touch_ids), "ttf": list(self.ttf), "complaints": list(self.complaints),
                "max_complaint_rate": self.max_complaint_rate}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.violations, columns=["rule", "rep", "segment", "week", "count"])


def _segment_expr(rules: PolicyRules, channel: Any, size: Any, phase: Any) -> Any:
    branches = []
    for seg in rules.segments:
        cond = ibis.literal(True)
        if seg.channel:
            cond &= channel == seg.channel
        if seg.company_size:
            cond &= size == seg.company_size
        if seg.phase:
            cond &= phase == seg.phase
        branches.append((cond.fill_null(False), seg.key))
    return ibis.cases(*branches, else_="(none)") if branches else ibis.literal("(none)")


def _offsets(ws: Any, rules: PolicyRules, start: datetime, end: datetime) -> ibis.Table:
    """(tz, hour) → UTC offset in seconds, for every zone of the leads, over the period ± 2 days."""
    le = ws.table("leads")
    names = [n for n in le.select(tz=le.timezone.fill_null("")).distinct().to_pyarrow().column("tz").to_pylist()]
    rows: dict[str, list[Any]] = {"tz_name": [], "hour": [], "offset_s": []}
    h = start.replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    hours = []
    while h < end + timedelta(days=2):
        hours.append(h)
        h += timedelta(hours=1)
    for name in names:
        tz = zone(name or None, rules.timezone)
        for hr in hours:
            off = hr.replace(tzinfo=UTC).astimezone(tz).utcoffset()
            rows["tz_name"].append(name)
            rows["hour"].append(hr)
            rows["offset_s"].append(int(off.total_seconds()) if off else 0)
    return ibis.memtable(pd.DataFrame(rows).astype({"offset_s": "int64"}))


def _cap_expr(rules: PolicyRules, seg: Any, channel: Any) -> Any:
    branches = []
    for s in rules.segments:
        for ch, cap in s.daily_caps.items():
            branches.append(((seg == s.key) & (channel == ch), cap))
    for ch, cap in rules.daily_caps.items():
        branches.append((channel == ch, cap))
    return ibis.cases(*branches, else_=ibis.null("int64")) if branches else ibis.null("int64")


def _touch_table(ws: Any, rules: PolicyRules) -> ibis.Table:
    t, le, st = ws.table("touches"), ws.table("leads"), ws.table("stage_events")
    phase = st.group_by(p_lead=st.lead_id).aggregate(phase=st.stage.argmax(st.at))
    le = le.left_join(phase, le.lead_id == phase.p_lead)
    flagged = ibis.literal(False)
    for f in rules.escalation.flags:
        flagged |= le[f].fill_null(False)
    le = le.select(l_lead=le.lead_id, account_id=le.account_id, tz_name=le.timezone.fill_null(""), l_owner=le.owner,
                   opted_out_at=le.opted_out_at, flagged=flagged,
                   segment=_segment_expr(rules, le.channel, le.company_size, le.phase))
    j = t.join(le, t.lead_id == le.l_lead)
    resp = ((j.direction == "in") | j.outcome.isin(list(rules.response_outcomes))).fill_null(False)
    return j.mutate(is_out=j.direction.isnull() | (j.direction != "in"), resp=resp, rep=j.owner.fill_null(j.l_owner).fill_null("(none)"))


def _flags(ws: Any, rules: PolicyRules, start: datetime, end: datetime) -> ibis.Table:
    """One row per outbound touch with a 0/1 column per rule it breaks."""
    j = _touch_table(ws, rules)
    off = _offsets(ws, rules, start, end)
    j = j.mutate(hour=j.at.truncate("h"))
    j = j.left_join(off, (j.tz_name == off.tz_name) & (j.hour == off.hour))
    local = j.at + j.offset_s.fill_null(0).as_interval("s")
    sec = local.hour() * 3600 + local.minute() * 60 + local.second()
    w = rules.window
    lo, hi = w.start.hour * 3600 + w.start.minute * 60, w.end.hour * 3600 + w.end.minute * 60
    outside = (~local.day_of_week.index().isin(sorted(w.weekday_set)) | local.date().isin(sorted(w.holiday_set)) | (sec < lo) | (sec >= hi))
    j = j.mutate(local_date=local.date(), outside=outside)
    # histories: responses reset the run of non-responses
    lead_w = ibis.window(group_by=j.lead_id, order_by=[j.at, j.touch_id])
    j = j.mutate(grp=j.resp.cast("int64").sum().over(lead_w))
    j = j.mutate(run=ibis.row_number().over(group_by=[j.lead_id, j.grp], order_by=[j.at, j.touch_id]) + 1 - ibis.ifelse(j.grp > 0, 1, 0))
    j = j.mutate(run=ibis.ifelse(j.resp, 0, j.run))
    j = j.mutate(prior_run=j.run.lag().over(lead_w), prev_at=j.at.lag().over(lead_w))
    out = j.filter(j.is_out)
    ow = ibis.window(group_by=out.lead_id, order_by=[out.at, out.touch_id])
    day_n = ibis.row_number().over(group_by=[out.lead_id, out.local_date, out.channel], order_by=[out.at, out.touch_id]) + 1
    cap = _cap_expr(rules, out.segment, out.channel)
    cd = rules.cool_down
    cols: dict[str, Any] = {
        "window": out.outside,
        "daily_cap": cap.notnull() & (day_n > cap),
        "cool_down": (out.prior_run >= cd.after_non_responses) & ((out.at.epoch_seconds() - out.prev_at.epoch_seconds()) < cd.days * 86_400),
        "opt_out": out.opted_out_at.notnull() & (out.at >= out.opted_out_at),
        "escalation": out.flagged & (out.channel != rules.escalation.validated_channel),
    }
    cad, acc = [], []
    for s in rules.segments:
        if s.cadence and s.cadence.max_touches:
            prev = out.at.lag(s.cadence.max_touches).over(ow)
            cad.append((out.segment == s.key) & prev.notnull() & ((out.at.epoch_seconds() - prev.epoch_seconds()) < s.cadence.days * 86_400))
        if s.account_cap:
            aw = ibis.window(group_by=out.account_id, order_by=[out.at, out.touch_id])
            prev = out.at.lag(s.account_cap.touches).over(aw)
            acc.append((out.segment == s.key) & out.account_id.notnull() & prev.notnull() & ((out.at.epoch_seconds() - prev.epoch_seconds()) < s.account_cap.hours * 3600))
    cols["cadence_max"] = _any(cad)
    cols["account_cap"] = _any(acc)
    out = out.mutate(**{k: v.fill_null(False).cast("int64") for k, v in cols.items()}, week=out.at.truncate("W").date())
    return out.filter((out.at >= start) & (out.at < end))


def _any(conds: list[Any]) -> Any:
    res = ibis.literal(False)
    for c in conds:
        res |= c.fill_null(False)
    return res


def _ttf(ws: Any, rules: PolicyRules, start: datetime, end: datetime) -> list[dict[str, Any]]:
    slas = [(s.key, s.ttf_hours) for s in rules.segments if s.ttf_hours]
    if not slas:
        return []
    j = _touch_table(ws, rules)
    first = j.filter(j.is_out).group_by(f_lead=j.lead_id).aggregate(first_out=j.at.min())
    le, st = ws.table("leads"), ws.table("stage_events")
    phase = st.group_by(p_lead=st.lead_id).aggregate(phase=st.stage.argmax(st.at))
    le = le.left_join(phase, le.lead_id == phase.p_lead)
    le = le.mutate(segment=_segment_expr(rules, le.channel, le.company_size, le.phase))
    keep = (le.created_at >= start) & (le.created_at < end) & le.opted_out_at.isnull()
    for f in rules.escalation.flags:
        keep &= ~le[f].fill_null(False)  # escalated leads follow the manager's channel, not the SLA
    le = le.filter(keep)
    q = le.left_join(first, le.lead_id == first.f_lead)
    sla = ibis.cases(*[(q.segment == k, float(h) * 3600) for k, h in slas], else_=ibis.null("float64"))
    delay = q.first_out.epoch_seconds() - q.created_at.epoch_seconds()
    q = q.filter(sla.notnull()).mutate(breach=(q.first_out.isnull() | (delay > sla)).cast("int64"))
    agg = q.group_by(segment=q.segment, rep=q.owner.fill_null("(none)"), week=q.created_at.truncate("W").date()).aggregate(
        leads=q.count(), breaches=q.breach.sum(), untouched=q.first_out.isnull().cast("int64").sum())
    return _records(agg.order_by(["week", "segment", "rep"]))


def _complaints(ws: Any, rules: PolicyRules, start: datetime, end: datetime) -> list[dict[str, Any]]:
    j = _touch_table(ws, rules)
    g = rules.complaints
    j = j.filter((j.at >= start) & (j.at < end) & j.channel.isin(list(g.channels)))
    agg = j.group_by(segment=j.segment, week=j.at.truncate("W").date()).aggregate(
        sent=j.is_out.cast("int64").sum(), complaints=(j.outcome == "complaint").fill_null(False).cast("int64").sum())
    rows = _records(agg.order_by(["week", "segment"]))
    for r in rows:
        r["rate"] = r["complaints"] / r["sent"] if r["sent"] else 0.0
        r["breach"] = bool(r["sent"] >= g.min_sent and r["rate"] > g.max_rate)
        r["action"] = g.action if r["breach"] else None
    return rows


def _records(expr: Any) -> list[dict[str, Any]]:
    rows = expr.to_pyarrow().to_pylist()
    for r in rows:
        for k, v in r.items():
            if isinstance(v, (date, datetime)):
                r[k] = v.isoformat()
    return rows


def audit(ws: Any, rules: PolicyRules, start: date | str, end: date | str) -> ComplianceReport:
    """The compliance audit of touches made from ``start`` to ``end`` (inclusive dates, UTC)."""
    d0, d1 = _day(start, "start"), _day(end, "end")
    if d1 < d0:
        raise OptionError(_("end ({end}) is before start ({start}).", end=d1, start=d0))
    s, e = datetime.combine(d0, datetime.min.time()), datetime.combine(d1 + timedelta(days=1), datetime.min.time())
    flags = _flags(ws, rules, s, e)
    agg = flags.group_by(rep=flags.rep, segment=flags.segment, week=flags.week).aggregate(
        touches=flags.count(), **{r: flags[r].sum() for r in RULES})
    rows = _records(agg)
    violations = [{"rule": r, "rep": row["rep"], "segment": row["segment"], "week": row["week"], "count": int(row[r])}
                  for row in rows for r in RULES if row[r]]
    violations.sort(key=lambda v: (v["rule"], v["week"], v["segment"], v["rep"]))
    by_rule = {r: sum(int(row[r]) for row in rows) for r in RULES}
    ids = sorted(flags.filter(flags.opt_out == 1).touch_id.to_pyarrow().to_pylist())
    complaints = _complaints(ws, rules, s, e)
    return ComplianceReport(d0, d1, sum(int(row["touches"]) for row in rows), violations, by_rule, ids,
                            _ttf(ws, rules, s, e), complaints, max((c["rate"] for c in complaints), default=0.0))


def _day(value: date | str, field_name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OptionError(_("{field}: '{value}' is not a date (use YYYY-MM-DD).", field=field_name, value=value)) from None


def audit_section(ws: Any, start: date | str, end: date | str, rules: PolicyRules | None = None) -> dict[str, Any]:
    """A compact section for the audit note: totals per rule, the opt-out alarm, TTF and complaints."""
    if rules is None:
        from levier.policy.core import active_rules

        rules = active_rules(ws)[0]
    rep = audit(ws, rules, start, end)
    ttf_leads = sum(r["leads"] for r in rep.ttf)
    ttf_breaches = sum(r["breaches"] for r in rep.ttf)
    return {
        "title": _("Contact policy compliance"), "period": [rep.start.isoformat(), rep.end.isoformat()],
        "touches": rep.touches, "violations": rep.by_rule, "alarm": rep.alarm,
        "touches_after_opt_out": len(rep.opt_out_touch_ids),
        "ttf": {"leads": ttf_leads, "breaches": ttf_breaches, "rate": ttf_breaches / ttf_leads if ttf_leads else None},
        "complaints": {"max_weekly_rate": rep.max_complaint_rate, "guardrail": rules.complaints.max_rate,
                       "weeks_over": sum(1 for c in rep.complaints if c["breach"])},
        "summary": (_("RED ALARM: {n} touch(es) after an opt-out.", n=len(rep.opt_out_touch_ids)) if rep.alarm
                    else _("No touch after an opt-out.")),
    }
