"""Dashboards per role (CMO, SDR manager, CEO, custom) with the KPI discipline checks.

A dashboard holds 5–7 KPIs, about 70 % impact metrics, and no vanity metric without its impact
counterpart; :func:`lint` returns the warnings. :func:`view` shows each KPI with its latest
complete value, trend (OLS slope over the last periods), target and status: the trend is
projected to the target's deadline — **on_track** when the projection (or the current value)
reaches the target, **at_risk** when it covers at least half of the remaining gap, else
**off_track** (ADR 0117).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import ConflictError, NotFoundError
from levier.i18n import gettext as _
from levier.kpi.models import ROLES, Dashboard
from levier.kpi.registry import Entry, Target, get_kpi
from levier.kpi.timeseries import FREQUENCY_GRAIN, period_end, refresh_scope, series, stored
from levier.loop.services._common import check_choice, require_text

__all__ = ["DEFAULTS", "Tile", "lint", "status", "create_dashboard", "list_dashboards", "get_dashboard", "view"]

DEFAULTS: dict[str, tuple[str, ...]] = {
    "cmo": ("lead_to_opportunity_rate", "mql_to_sql_rate", "cplq", "cac", "romi", "form_completion_rate"),
    "sdr_manager": ("ttf_hours", "share_within_sla", "conversion_rate", "effective_contact_rate", "complaint_rate", "contacts_per_lead"),
    "ceo": ("win_rate", "pipeline_velocity", "cac", "romi", "conversion_rate"),
}


def lint(entries: Sequence[Entry]) -> list[str]:
    """The discipline warnings of a dashboard (empty when it is fine)."""
    out = []
    n = len(entries)
    if n > 7:
        out.append(_("{n} KPIs: a dashboard should hold 5 to 7; drop the ones nobody acts on.", n=n))
    elif n < 5:
        out.append(_("{n} KPIs: a dashboard should hold 5 to 7.", n=n))
    impact = sum(e.impact for e in entries)
    if n and impact / n < 0.7 - 1e-9:
        out.append(_("{share:.0%} impact metrics ({k} of {n}): aim for about 70 %.", share=impact / n, k=impact, n=n))
    keys = {e.key for e in entries}
    for e in entries:
        if e.vanity and (not e.counterpart or e.counterpart not in keys):
            out.append(_("'{key}' is a vanity metric: show it next to its impact counterpart ({cp}).", key=e.key, cp=e.counterpart or _("none set")))
    return out


def status(current: float | None, slope: float | None, periods_left: float, target: Target, direction: str) -> str | None:
    """on_track / at_risk / off_track from a linear projection to the deadline."""
    if current is None:
        return None
    sign = 1 if direction == "increase" else -1
    gap = sign * (target.value - current)
    if gap <= 0:
        return "on_track"
    gain = sign * (slope or 0.0) * max(periods_left, 0.0)
    return "on_track" if gain >= gap else "at_risk" if gain >= gap / 2 else "off_track"


@dataclass(frozen=True)
class Tile:
    key: str
    name: str
    kind: str
    unit: str
    value: float | None
    period_start: datetime | None
    trend: float | None  # slope per period
    target: Target | None
    projected: float | None
    status: str | None
    owner: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "kind": self.kind, "unit": self.unit, "value": self.value,
                "period_start": self.period_start.isoformat() if self.period_start else None, "trend": self.trend,
                "target": self.target.to_dict() if self.target else None, "projected": self.projected, "status": self.status, "owner": self.owner}


def _slope(values: list[float]) -> float | None:
    if len(values) < 3:
        return None
    return float(np.polyfit(np.arange(len(values), dtype=float), np.asarray(values, float), 1)[0])


def tile(ws: Any, s: Session, e: Entry, now: datetime, history: int = 6, *, refresh: bool = True) -> Tile:
    """One KPI of a dashboard; ``refresh=False`` reads the stored series (nothing written)."""
    grain = FREQUENCY_GRAIN.get(e.frequency, "month")
    ser = (series if refresh else stored)(ws, s, e.key, grain, end=now)
    pts = [p for p in ser.points if p.segment == "" and p.value is not None and period_end(p.period_start, grain) <= now][-history:]
    value = pts[-1].value if pts else None
    slope = _slope([p.value for p in pts if p.value is not None])
    target = next((t for t in e.targets if not t.segment and t.deadline >= now.date()), None)
    projected = st = None
    if target is not None and value is not None:
        span = (period_end(pts[-1].period_start, grain) - pts[-1].period_start).days or 1
        left = (target.deadline - now.date()).days / span
        projected = value + (slope or 0.0) * left
        st = status(value, slope, left, target, e.direction)
    return Tile(e.key, e.name, e.kind, e.unit, value, pts[-1].period_start if pts else None, slope, target, projected, st, e.owner)


def create_dashboard(s: Session, name: str, role: str = "custom", kpis: Sequence[str] | None = None) -> dict[str, Any]:
    """A dashboard (the role's default KPIs when ``kpis`` is empty); returns it with its warnings."""
    name = require_text(name, "name")
    check_choice(role, ROLES, "role")
    keys = list(kpis or DEFAULTS.get(role, ()))
    entries = [get_kpi(s, k) for k in keys]
    if s.scalar(sa.select(Dashboard.id).where(Dashboard.name == name)) is not None:
        raise ConflictError(_("A dashboard named '{name}' already exists.", name=name))
    row = Dashboard(name=name, role=role, kpi_keys=keys)
    s.add(row)
    s.flush()
    return {**row.to_dict(), "warnings": lint(entries)}


def list_dashboards(s: Session) -> list[dict[str, Any]]:
    return [{**d.to_dict(), "warnings": lint([get_kpi(s, k) for k in d.kpi_keys])} for d in s.scalars(sa.select(Dashboard).order_by(Dashboard.id))]


def get_dashboard(s: Session, ref: str | int) -> Dashboard:
    q = sa.select(Dashboard).where(Dashboard.id == int(ref)) if str(ref).isdigit() else sa.select(Dashboard).where(Dashboard.name == ref)
    row = s.scalar(q)
    if row is None:
        raise NotFoundError(_("No dashboard '{ref}'.", ref=ref), hint=_("Create one with `levier kpi dashboard --create NAME --role cmo`."))
    return row


def view(ws: Any, s: Session, ref: str | int | None = None, *, role: str | None = None, now: datetime | None = None,
         refresh: bool = True) -> dict[str, Any]:
    """A dashboard (stored, or a role's default) with one tile per KPI and the discipline warnings.

    ``refresh=False`` (the API's GET) shows the stored series as last refreshed and writes nothing.
    """
    if ref is not None:
        d = get_dashboard(s, ref)
        name, role_, keys = d.name, d.role, list(d.kpi_keys)
    else:
        role_ = check_choice(role or "ceo", ROLES, "role") or "ceo"
        name, keys = role_, list(DEFAULTS.get(role_, ()))
    entries = [get_kpi(s, k) for k in keys]
    now = now or datetime.now().replace(microsecond=0)
    with refresh_scope():  # one read of the cleaning journal and import batches for every tile
        tiles = [tile(ws, s, e, now, refresh=refresh).to_dict() for e in entries]
    return {"name": name, "role": role_, "as_of": now.isoformat(), "warnings": lint(entries), "tiles": tiles}
