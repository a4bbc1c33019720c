"""KPI registry API: KPIs and their reading, targets, OKRs, series, dashboards, alerts."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.kpi import alerts, dashboards, registry, thresholds, timeseries
from levier.web.deps import Db, Editor, Viewer, Ws

__all__ = ["router"]

router = APIRouter(prefix="/kpi", tags=["kpi registry"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KpiIn(_In):
    key: str
    formula: str
    name: str = ""
    owner: str | list[str] | None = None
    definition: str = ""
    unit: str = "count"
    kind: str = "activity"
    timing: str = "leading"
    vanity: bool = False
    frequency: str = "weekly"
    aarrr: list[str] = Field(default_factory=list)
    direction: str = "increase"
    counterpart: str | None = None


class KpiPatch(_In):
    owner: str | list[str] | None = None
    name: str | None = None
    definition: str | None = None
    kind: str | None = None
    timing: str | None = None
    vanity: bool | None = None
    frequency: str | None = None
    aarrr: list[str] | None = None
    direction: str | None = None
    counterpart: str | None = None
    formula: str | None = None


class TargetIn(_In):
    value: float
    deadline: date
    baseline: float | None = None
    segment: dict[str, str] | None = None
    note: str = ""


class ThresholdIn(_In):
    lower: float | None = None
    upper: float | None = None
    segment: dict[str, str] | None = None
    note: str = ""


class KeyResultIn(TargetIn):
    kpi: str


class ObjectiveIn(_In):
    title: str
    owner: str | None = None
    period: str = ""
    key_results: list[KeyResultIn]


class DashboardIn(_In):
    name: str
    role: str = "custom"
    kpis: list[str] = Field(default_factory=list)


class AlertPatch(_In):
    status: str


@router.get("")
def list_kpis(_user: Viewer, s: Db, lang: str | None = None) -> list[dict[str, Any]]:
    return [e.to_dict() for e in registry.list_kpis(s, lang)]


@router.post("", status_code=201)
def define_kpi(body: KpiIn, _user: Editor, s: Db) -> dict[str, Any]:
    """A user-defined KPI; the formula is validated (422 with the problem and an example)."""
    return registry.define_kpi(s, **body.model_dump()).to_dict()


@router.get("/north-star")
def get_north_star(_user: Viewer, s: Db) -> dict[str, Any] | None:
    e = registry.north_star(s)
    return e.to_dict() if e else None


@router.get("/objectives")
def list_objectives(_user: Viewer, s: Db) -> list[dict[str, Any]]:
    return registry.list_objectives(s)


@router.post("/objectives", status_code=201)
def create_objective(body: ObjectiveIn, _user: Editor, s: Db) -> dict[str, Any]:
    krs = [kr.model_dump() for kr in body.key_results]
    return registry.create_objective(s, body.title, krs, owner=body.owner, period=body.period)


@router.get("/dashboards")
def list_dashboards(_user: Viewer, s: Db) -> list[dict[str, Any]]:
    return dashboards.list_dashboards(s)


@router.post("/dashboards", status_code=201)
def create_dashboard(body: DashboardIn, _user: Editor, s: Db) -> dict[str, Any]:
    return dashboards.create_dashboard(s, body.name, body.role, body.kpis)


@router.get("/dashboards/{ref}")
def view_dashboard(ref: str, _user: Viewer, s: Db, ws: Ws) -> dict[str, Any]:
    """A stored dashboard, or a role's default (``cmo``, ``sdr_manager``, ``ceo``), with tiles and warnings."""
    """Tiles read the stored series (a GET writes nothing): refresh them with ``POST /kpi/{key}/series/refresh``."""
    if ref in dashboards.DEFAULTS:
        return dashboards.view(ws, s, role=ref, refresh=False)
    return dashboards.view(ws, s, ref, refresh=False)


@router.get("/alerts")
def list_alerts(_user: Viewer, s: Db, status: str | None = "open", kpi_key: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [a.to_dict() for a in alerts.list_alerts(s, status=status, kpi_key=kpi_key, kind=kind)]


@router.post("/alerts/check")
def check_alerts(_user: Editor, s: Db, ws: Ws) -> dict[str, Any]:
    return alerts.check(ws, s).to_dict()


@router.patch("/alerts/{alert_id}")
def update_alert(alert_id: int, body: AlertPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return alerts.set_status(s, alert_id, body.status).to_dict()


@router.get("/{key}")
def get_kpi(key: str, _user: Viewer, s: Db, lang: str | None = None) -> dict[str, Any]:
    return registry.get_kpi(s, key, lang).to_dict()


@router.patch("/{key}")
def update_kpi(key: str, body: KpiPatch, _user: Editor, s: Db) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    owner = fields.pop("owner", None)
    return registry.update_kpi(s, key, owner=owner, **fields).to_dict()


@router.post("/{key}/north-star")
def set_north_star(key: str, _user: Editor, s: Db) -> dict[str, Any]:
    return registry.set_north_star(s, key).to_dict()


@router.get("/{key}/targets")
def list_targets(key: str, _user: Viewer, s: Db) -> list[dict[str, Any]]:
    return [t.to_dict() for t in registry.list_targets(s, key)]


@router.post("/{key}/targets", status_code=201)
def set_target(key: str, body: TargetIn, _user: Editor, s: Db) -> dict[str, Any]:
    return registry.set_target(s, key, **body.model_dump()).to_dict()


@router.get("/{key}/thresholds")
def list_thresholds(key: str, _user: Viewer, s: Db) -> list[dict[str, Any]]:
    registry.get_kpi(s, key)
    return [t.to_dict() for t in thresholds.list_thresholds(s, key)]


@router.post("/{key}/thresholds", status_code=201)
def set_threshold(key: str, body: ThresholdIn, _user: Editor, s: Db, ws: Ws) -> dict[str, Any]:
    """Store the alert bounds of the KPI (overall, or for ``segment``); replaces earlier bounds of that segment."""
    return thresholds.set_threshold(s, key, **body.model_dump(), ws=ws).to_dict()


@router.delete("/{key}/thresholds", status_code=204)
def clear_threshold(key: str, _user: Editor, s: Db, segment: str | None = None) -> None:
    """Remove the bounds of the KPI for ``segment`` (``column=value,…``; none: all leads)."""
    thresholds.clear_threshold(s, key, _segment(segment))


def _segment(text: str | None) -> dict[str, str] | None:
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        k, sep, v = item.partition("=")
        if not sep:
            raise OptionError(_("segment: '{item}' must look like column=value.", item=item))
        out[k.strip()] = v.strip()
    return out or None


@router.get("/{key}/series")
def get_series(key: str, _user: Viewer, s: Db, ws: Ws, grain: str = "week", start: date | None = None, end: date | None = None,
               by: str | None = None) -> dict[str, Any]:
    """The stored KPI series per period (``by``: comma-separated lead columns); nothing is computed or written.

    ``refreshed_at`` (null: never refreshed) and ``stale`` (facts imported since) say how fresh it is;
    ``POST /kpi/{key}/series/refresh`` with the same parameters refreshes it.
    """
    return timeseries.stored(ws, s, key, grain, start, end, _by(by)).to_dict()


@router.post("/{key}/series/refresh")
def refresh_series(key: str, _user: Editor, s: Db, ws: Ws, grain: str = "week", start: date | None = None, end: date | None = None,
                   by: str | None = None, full: bool = False) -> dict[str, Any]:
    """Refresh the stored series incrementally (``full``: recompute every period) and return it."""
    return timeseries.series(ws, s, key, grain, start, end, _by(by), full=full).to_dict()


def _by(by: str | None) -> tuple[str, ...]:
    return tuple(c for c in (by or "").split(",") if c)
