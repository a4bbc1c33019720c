"""Alerts: anomalies, threshold breaches and inaction, stored in the loop and sent to KPI owners.

* **anomaly** — :func:`levier.kpi.detect.detect_anomalies` on the KPI's stored series (daily
  KPIs per day with weekly seasonality; others per week / month, season 1);
* **threshold** — the latest complete period crosses a stored threshold of the KPI
  (:mod:`levier.kpi.thresholds`: lower / upper bound, overall or for one lead segment), is worse
  than an active target's baseline, or crosses an ``above`` / ``below`` bound given to the check;
* **lead_untouched** — leads created more than ``sla_hours`` before *now* (within ``lookback``)
  without any outbound touch, one alert per rep (team), not per lead;
* **action_overdue** — open loop actions past their due date (the loop already notifies their
  owners with ``action.overdue``; these alerts are listed, not re-sent).

No storms: an alert is identified by its ``group_key`` (kind, KPI, subject); while an open alert
with the same key fired within ``cooldown``, a new firing only bumps its ``count`` and
``last_at``. Webhooks are grouped too: one ``kpi.alert`` event per owner and check, listing all
of that owner's new alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.i18n import gettext as _
from levier.kpi import detect, thresholds
from levier.kpi.models import ALERT_STATUSES, KpiAlert
from levier.kpi.registry import Entry, get_kpi, list_kpis
from levier.kpi.timeseries import FREQUENCY_GRAIN, period_end, refresh_scope, series
from levier.loop.models import Action, User, utcnow
from levier.loop.services import webhooks
from levier.loop.services._common import check_choice, get

__all__ = ["Firing", "CheckResult", "check", "kpi_firings", "inaction_firings", "list_alerts", "set_status"]


@dataclass(frozen=True)
class Firing:
    """One detected condition, before grouping."""

    kind: str
    kpi_key: str | None
    subject: str
    message: str
    severity: str = "warning"
    detail: dict[str, Any] | None = None
    owner_id: int | None = None

    @property
    def group_key(self) -> str:
        return f"{self.kind}:{self.kpi_key or ''}:{self.subject}"


@dataclass(frozen=True)
class CheckResult:
    created: tuple[int, ...]
    bumped: tuple[int, ...]
    notified_owners: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"created": list(self.created), "bumped": list(self.bumped), "notified_owners": list(self.notified_owners)}


def _owner_id(s: Session, e: Entry) -> int | None:
    return s.scalar(sa.select(User.id).where(User.username == e.owner)) if e.owner else None


def _options(e: Entry, grain: str) -> detect.DetectorOptions:
    season = 7 if grain == "day" else 1
    return detect.DetectorOptions(season=season, scale_days=56 if grain == "day" else 12,
                                  transform="sqrt" if e.unit == "count" else "none")


def kpi_firings(ws: Any, s: Session, e: Entry, now: datetime, *, above: float | None = None, below: float | None = None,
                recent: int = 1) -> list[Firing]:
    """Anomalies and threshold breaches of ``e`` over its last ``recent`` periods complete at ``now``."""
    grain = FREQUENCY_GRAIN[e.frequency] if e.frequency != "quarterly" else "month"
    ser = series(ws, s, e.key, grain, end=now)
    pts = [p for p in ser.points if p.segment == "" and period_end(p.period_start, grain) <= now]
    values = [p.value for p in pts]
    owner = _owner_id(s, e)
    out: list[Firing] = []
    first_recent = len(pts) - recent
    for a in detect.detect_anomalies(values, _options(e, grain)):
        if a.index >= first_recent:
            when = pts[a.index].period_start.date().isoformat()
            out.append(Firing("anomaly", e.key, when, _("{name}: {dir} on {when} ({v:.4g} vs {exp:.4g} expected, z = {z:.1f}).",
                              name=e.name, dir=_(a.direction), when=when, v=a.value, exp=a.expected, z=a.z),
                              "critical" if abs(a.z) > 2 * _options(e, grain).z else "warning", {**a.to_dict(), "period": when}, owner))
    bounds = [(above, below, "bound")] + [(t.baseline if e.direction == "decrease" else None, t.baseline if e.direction == "increase" else None,
                                           f"baseline of target {t.id}") for t in e.targets if t.baseline is not None and not t.segment]
    for hi, lo, why in bounds:
        for i in detect.threshold_breaches(values, above=hi, below=lo):
            if i >= first_recent:
                when = pts[i].period_start.date().isoformat()
                out.append(Firing("threshold", e.key, f"{when}:{why}", _("{name} = {v:.4g} on {when} crosses the {why} ({bound:.4g}).",
                                  name=e.name, v=values[i], when=when, why=why, bound=hi if hi is not None else lo), "warning",
                                  {"period": when, "value": values[i], "above": hi, "below": lo}, owner))
    return out + _stored_threshold_firings(ws, s, e, now, grain, pts, owner, recent)


def _stored_threshold_firings(ws: Any, s: Session, e: Entry, now: datetime, grain: str, overall: list[Any], owner: int | None,
                              recent: int) -> list[Firing]:
    out: list[Firing] = []
    for th in thresholds.list_thresholds(s, e.key):
        label = thresholds.segment_key(th.segment)
        pts = overall
        if th.segment:
            ser = series(ws, s, e.key, grain, end=now, segment_by=tuple(th.segment))
            pts = [p for p in ser.points if p.segment == label and period_end(p.period_start, grain) <= now]
        for p in pts[max(len(pts) - recent, 0):]:
            side = th.breached(p.value)
            if side is None:
                continue
            when = p.period_start.date().isoformat()
            name = f"{e.name} [{label}]" if label else e.name
            bound = th.lower if side == "below" else th.upper
            msg = (_("{name} = {v:.4g} on {when} is below its lower threshold ({bound:.4g}).", name=name, v=p.value, when=when, bound=bound)
                   if side == "below" else
                   _("{name} = {v:.4g} on {when} is above its upper threshold ({bound:.4g}).", name=name, v=p.value, when=when, bound=bound))
            out.append(Firing("threshold", e.key, f"{when}:threshold {th.id}" + (f":{label}" if label else ""), msg, "warning",
                              {"period": when, "value": p.value, "threshold_id": th.id, "side": side, "lower": th.lower,
                               "upper": th.upper, "segment": th.segment}, owner))
    return out


def inaction_firings(ws: Any, s: Session, now: datetime, *, sla_hours: float = 2.0, lookback_days: int = 7) -> list[Firing]:
    """Untouched leads past the SLA (grouped per rep) and overdue actions."""
    leads, touches = ws.table("leads"), ws.table("touches")
    recent = leads.filter((leads.created_at >= now - timedelta(days=lookback_days)) & (leads.created_at < now - timedelta(hours=sla_hours)))
    recent = recent.filter(~recent.do_not_contact.fill_null(False) & recent.opted_out_at.isnull())
    out_t = touches.filter((touches.direction == "out") & (touches.at < now)).select("lead_id").distinct()
    untouched = recent.anti_join(out_t, "lead_id")
    per_rep = untouched.group_by(rep=untouched.owner.fill_null("")).agg(n=untouched.count(), oldest=untouched.created_at.min(),
                                                                        sample=untouched.lead_id.min()).execute()
    sla_entry = get_kpi(s, "share_within_sla")
    owner = _owner_id(s, sla_entry)
    out = [Firing("lead_untouched", "share_within_sla", f"rep:{r.rep}",
                  _("{n} lead(s) of {rep} untouched past the {h} h SLA (oldest created {oldest}).", n=int(r.n), rep=r.rep or "?", h=sla_hours,
                    oldest=str(r.oldest)[:16]), "critical" if r.n >= 10 else "warning",
                  {"rep": r.rep, "leads": int(r.n), "example_lead": r.sample, "oldest": str(r.oldest)}, owner)
           for r in per_rep.itertuples()]
    today: date = now.date()
    for a in s.scalars(sa.select(Action).where(Action.status.in_(("open", "in_progress")), Action.due_date < today)):
        out.append(Firing("action_overdue", a.kpi_key, f"action:{a.id}", _("Action '{title}' was due {due}.", title=a.title, due=a.due_date),
                          "warning", {"action_id": a.id, "due_date": a.due_date.isoformat()}, a.owner_id))
    return out


def _record(s: Session, f: Firing, now: datetime, cooldown: timedelta) -> tuple[KpiAlert, bool]:
    row = s.scalar(sa.select(KpiAlert).where(KpiAlert.group_key == f.group_key, KpiAlert.status == "open").order_by(KpiAlert.id.desc()))
    if row is not None and now - row.last_at < cooldown:
        row.count += 1
        row.last_at = now
        return row, False
    row = KpiAlert(kind=f.kind, kpi_key=f.kpi_key, group_key=f.group_key, subject=f.subject, severity=f.severity, message=f.message,
                   detail=f.detail or {}, owner_id=f.owner_id, status="open", count=1, first_at=now, last_at=now)
    s.add(row)
    s.flush()
    return row, True


def check(ws: Any, s: Session, keys: Sequence[str] | None = None, *, now: datetime | None = None, cooldown_hours: float = 24.0,
          inaction: bool = True, sla_hours: float = 2.0, above: float | None = None, below: float | None = None) -> CheckResult:
    """Run every check, store the alerts (grouped, with cool-down) and notify owners (one event each)."""
    now = now or utcnow()
    watched = {t.kpi_key for t in thresholds.list_thresholds(s)}
    entries = [get_kpi(s, k) for k in keys] if keys else [e for e in list_kpis(s, computable_only=True)
                                                           if e.owner or e.targets or e.key in watched]
    with refresh_scope():  # every KPI's series (and per-segment series) reads the cleaning journal and batches once
        firings = [f for e in entries for f in kpi_firings(ws, s, e, now, above=above, below=below)]
    if inaction:
        firings += inaction_firings(ws, s, now, sla_hours=sla_hours)
    created, bumped, new_rows = [], [], []
    for f in firings:
        row, new = _record(s, f, now, timedelta(hours=cooldown_hours))
        (created if new else bumped).append(row.id)
        if new and row.kind != "action_overdue":
            new_rows.append(row)
    notified = _notify(s, new_rows, now)
    s.flush()
    return CheckResult(tuple(created), tuple(bumped), tuple(notified))


def _notify(s: Session, rows: list[KpiAlert], now: datetime) -> list[str]:
    by_owner: dict[int | None, list[KpiAlert]] = {}
    for r in rows:
        by_owner.setdefault(r.owner_id, []).append(r)
    names = []
    for owner_id, group in by_owner.items():
        owner = s.get(User, owner_id).username if owner_id else ""  # type: ignore[union-attr]
        message = group[0].message if len(group) == 1 else _("{n} new alerts: {first} …", n=len(group), first=group[0].message)
        webhooks.emit(s, "kpi.alert", {"title": _("KPI alert"), "owner": owner, "message": message, "count": len(group),
                                       "alerts": [{"id": r.id, "kind": r.kind, "kpi_key": r.kpi_key, "message": r.message, "severity": r.severity}
                                                  for r in group]})
        for r in group:
            r.notified_at = now
        names.append(owner)
    return names


def list_alerts(s: Session, *, status: str | None = "open", kpi_key: str | None = None, kind: str | None = None) -> list[KpiAlert]:
    q = sa.select(KpiAlert).order_by(KpiAlert.last_at.desc(), KpiAlert.id.desc())
    if status:
        q = q.where(KpiAlert.status == check_choice(status, ALERT_STATUSES, "status"))
    if kpi_key:
        q = q.where(KpiAlert.kpi_key == kpi_key)
    if kind:
        q = q.where(KpiAlert.kind == kind)
    return list(s.scalars(q))


def set_status(s: Session, alert_id: int, status: str) -> KpiAlert:
    row = get(s, KpiAlert, alert_id, _("alert"))
    row.status = check_choice(status, ALERT_STATUSES, "status")  # type: ignore[assignment]
    s.flush()
    return row
