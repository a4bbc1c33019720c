"""The KPI registry: every KPI of the catalogue plus user-defined formulas, with their reading.

A registry entry = the catalogue's definition (:mod:`levier.analysis.kpis`, never copied) or a
validated formula (:mod:`levier.kpi.formula`), plus what the workspace decides about it: ONE
owner, kind (activity / impact), timing (leading / lagging), vanity flag, review frequency,
AARRR stages, direction of improvement, the North Star flag (one per workspace), SMART targets
and OKRs. Overrides and custom KPIs live in the loop store (``kpi_definitions``…).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.analysis.kpis import KPIS
from levier.errors import ConflictError, NotFoundError, OptionError, RuleError
from levier.i18n import gettext as _
from levier.kpi import formula as fml
from levier.kpi.models import (
    AARRR,
    DIRECTIONS,
    FREQUENCIES,
    KINDS,
    TIMINGS,
    KeyResult,
    KpiDefinition,
    KpiTarget,
    Objective,
)
from levier.loop.models import User
from levier.loop.services._common import as_date, check_choice, require_text
from levier.loop.services.users import get_user

__all__ = [
    "Entry", "Target", "list_kpis", "get_kpi", "define_kpi", "update_kpi", "set_north_star", "north_star",
    "set_target", "list_targets", "create_objective", "list_objectives", "TABLE_DEPS", "SETTLE_DAYS",
]

_AARRR_DEFAULT = {
    **dict.fromkeys(("lead", "web_visitors", "spend", "cpl", "cplq", "bounce_rate", "form_completion_rate", "cac"), "acquisition"),
    **dict.fromkeys(("ttf_hours", "share_within_sla", "contacts_per_lead", "effective_contact_rate", "touch_quality", "mql_to_sql_rate",
                     "conversion", "conversion_rate", "lead_to_opportunity_rate", "pct_q1", "delta_cr_points", "funnel_step_rate",
                     "median_time_between_steps"), "activation"),
    **dict.fromkeys(("monthly_churn", "retention_cohorts", "complaint_rate", "unsubscribe_rate"), "retention"),
    **dict.fromkeys(("win_rate", "average_deal", "pipeline_velocity", "arpa", "cltv", "roas", "romi", "sales_cycle_days",
                     "attributed_conversions", "time_to_conversion_days"), "revenue"),
}
_DECREASE = {"ttf_hours", "complaint_rate", "unsubscribe_rate", "cpl", "cplq", "cac", "bounce_rate", "sales_cycle_days",
             "monthly_churn", "time_to_conversion_days", "median_time_between_steps"}
#: vanity KPI → the impact KPI that must sit next to it on a dashboard
_VANITY = {"lead": "conversion_rate", "web_visitors": "form_completion_rate", "spend": "romi"}

_LEAD_FACTS = ("leads", "touches", "stage_events")
#: facts tables each catalogue KPI reads (incremental refresh watches their import batches)
TABLE_DEPS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("lead", "conversion", "conversion_rate", "contacts_per_lead", "effective_contact_rate", "ttf_hours",
                     "share_within_sla", "complaint_rate", "unsubscribe_rate", "touch_quality", "pearson_r", "slope", "intercept", "r2"), _LEAD_FACTS),
    **dict.fromkeys(("mql_to_sql_rate", "lead_to_opportunity_rate"), ("leads", "stage_events")),
    **dict.fromkeys(("form_completion_rate", "bounce_rate", "web_visitors"), ("web_events",)),
    **dict.fromkeys(("sales_cycle_days", "win_rate", "average_deal", "pipeline_velocity"), ("deals", "stage_events")),
    **dict.fromkeys(("monthly_churn", "arpa", "cltv"), ("orders",)),
    "spend": ("spend",), "cpl": ("spend", "leads"), "cplq": ("spend", "stage_events"), "cac": ("spend", "stage_events"),
    "roas": ("spend", "deals"), "romi": ("spend", "deals"), "time_to_conversion_days": _LEAD_FACTS,
}
#: how far back (days) a new row can change a stored period: lead-cohort KPIs look 30 days ahead
#: of the lead's creation (the conversion window); funnel cohorts are settled after 90 days.
SETTLE_DAYS: dict[str, int] = {
    **{k: 31 for k, v in TABLE_DEPS.items() if v == _LEAD_FACTS and k != "time_to_conversion_days"},
    "mql_to_sql_rate": 90, "lead_to_opportunity_rate": 90, "bounce_rate": 1,
}


@dataclass(frozen=True)
class Target:
    id: int
    kpi_key: str
    value: float
    deadline: date
    baseline: float | None
    baseline_date: date | None
    segment: dict[str, str] | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kpi_key": self.kpi_key, "value": self.value, "deadline": self.deadline.isoformat(),
                "baseline": self.baseline, "baseline_date": self.baseline_date.isoformat() if self.baseline_date else None,
                "segment": self.segment, "note": self.note}


@dataclass(frozen=True)
class Entry:
    """One KPI of the registry, as the workspace reads it."""

    key: str
    name: str
    definition: str
    unit: str
    owner: str | None
    kind: str
    timing: str
    vanity: bool
    frequency: str
    aarrr: tuple[str, ...]
    direction: str
    north_star: bool = False
    counterpart: str | None = None
    formula: str | None = None
    source: str = "catalogue"
    computable: bool = True
    tables: tuple[str, ...] = ()
    settle_days: int = 0
    targets: tuple[Target, ...] = field(default_factory=tuple)

    @property
    def impact(self) -> bool:
        return self.kind == "impact"

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("key", "name", "definition", "unit", "owner", "kind", "timing", "vanity", "frequency",
                                             "direction", "north_star", "counterpart", "formula", "source", "computable", "settle_days")}
        return {**out, "aarrr": list(self.aarrr), "tables": list(self.tables), "targets": [t.to_dict() for t in self.targets]}


def _catalogue_entry(key: str, lang: str | None) -> Entry:
    k = KPIS[key]
    return Entry(key, k.name(lang), k.formula(lang), k.unit, None, k.kind, k.timing, key in _VANITY, k.frequency,
                 (_AARRR_DEFAULT[key],) if key in _AARRR_DEFAULT else (), "decrease" if key in _DECREASE else "increase",
                 counterpart=_VANITY.get(key), computable=k.computable, tables=TABLE_DEPS.get(key, ()),
                 settle_days=SETTLE_DAYS.get(key, 0))


def _apply(e: Entry, row: KpiDefinition, owner: str | None) -> Entry:
    return replace(e, name=row.name or e.name, definition=row.definition or e.definition, unit=row.unit, owner=owner,
                   kind=row.kind, timing=row.timing, vanity=row.vanity, frequency=row.frequency, aarrr=tuple(row.aarrr or ()),
                   direction=row.direction, north_star=row.north_star, counterpart=row.counterpart)


def _custom_entry(row: KpiDefinition, owner: str | None) -> Entry:
    f = fml.parse(row.formula or "")
    base = Entry(row.key, row.name, row.definition, row.unit, owner, row.kind, row.timing, row.vanity, row.frequency,
                 (), row.direction, formula=row.formula, source="custom", tables=f.tables)
    return _apply(base, row, owner)


def _targets(s: Session) -> dict[str, list[Target]]:
    out: dict[str, list[Target]] = {}
    for t in s.scalars(sa.select(KpiTarget).where(KpiTarget.active.is_(True)).order_by(KpiTarget.deadline, KpiTarget.id)):
        out.setdefault(t.kpi_key, []).append(Target(t.id, t.kpi_key, t.value, t.deadline, t.baseline, t.baseline_date, t.segment, t.note))
    return out


def list_kpis(s: Session, lang: str | None = None, *, computable_only: bool = False) -> list[Entry]:
    """Every KPI of the catalogue then every custom KPI, with the workspace's overrides and targets."""
    rows = {r.key: r for r in s.scalars(sa.select(KpiDefinition))}
    owners = {u.id: u.username for u in s.scalars(sa.select(User))}
    targets = _targets(s)
    out = []
    for key in KPIS:
        e = _catalogue_entry(key, lang)
        if key in rows:
            e = _apply(e, rows[key], owners.get(rows[key].owner_id or -1))
        out.append(e)
    for key, row in rows.items():
        if key not in KPIS:
            out.append(_custom_entry(row, owners.get(row.owner_id or -1)))
    out = [replace(e, targets=tuple(targets.get(e.key, ()))) for e in out]
    return [e for e in out if e.computable] if computable_only else out


def get_kpi(s: Session, key: str, lang: str | None = None) -> Entry:
    for e in list_kpis(s, lang):
        if e.key == key:
            return e
    keys = sorted(e.key for e in list_kpis(s, lang))
    raise NotFoundError(_("Unknown KPI '{key}'.", key=key), hint=_("Use one of: {keys}.", keys=", ".join(keys)))


def _one_owner(s: Session, owner: str | Sequence[str] | None) -> int | None:
    if owner is None:
        return None
    names = [owner] if isinstance(owner, str) else list(owner)
    names = [p.strip() for n in names for p in n.replace(";", ",").split(",") if p.strip()]
    if len(names) > 1:
        raise RuleError(_("A KPI has exactly one owner; got {n}: {names}.", n=len(names), names=", ".join(names)),
                        hint=_("Pick the one person accountable; others can be consulted or informed."))
    return get_user(s, names[0]).id if names else None


def _check_fields(fields: Mapping[str, Any]) -> None:
    for name, allowed in (("kind", KINDS), ("timing", TIMINGS), ("frequency", FREQUENCIES), ("direction", DIRECTIONS)):
        if name in fields and fields[name] is not None:
            check_choice(fields[name], allowed, name)
    for tag in fields.get("aarrr") or ():
        check_choice(tag, AARRR, "aarrr")
    counterpart = fields.get("counterpart")
    if counterpart and counterpart not in KPIS:
        raise OptionError(_("counterpart: '{key}' is not a KPI of the catalogue.", key=counterpart))


_FIELDS = ("name", "definition", "unit", "kind", "timing", "vanity", "frequency", "aarrr", "direction", "counterpart")


def define_kpi(s: Session, key: str, formula: str, *, name: str = "", owner: str | Sequence[str] | None = None,
               definition: str = "", unit: str = "count", kind: str = "activity", timing: str = "leading",
               vanity: bool = False, frequency: str = "weekly", aarrr: Sequence[str] = (), direction: str = "increase",
               counterpart: str | None = None) -> Entry:
    """Register a user-defined KPI: ``formula`` is validated (tables, columns, functions) first."""
    key = require_text(key, "key")
    if not key.replace("_", "").isalnum() or not key[0].isalpha():
        raise OptionError(_("key: '{key}' must start with a letter and hold only letters, digits and _.", key=key))
    if key in KPIS or s.scalar(sa.select(KpiDefinition.id).where(KpiDefinition.key == key)) is not None:
        raise ConflictError(_("A KPI '{key}' already exists.", key=key), hint=_("Choose another key or update it."))
    parsed = fml.parse(formula)
    fields = {"kind": kind, "timing": timing, "frequency": frequency, "direction": direction, "aarrr": list(aarrr), "counterpart": counterpart}
    _check_fields(fields)
    row = KpiDefinition(key=key, name=name or key, definition=definition or parsed.text, formula=parsed.text, unit=unit,
                        owner_id=_one_owner(s, owner), vanity=vanity, north_star=False, **fields)
    s.add(row)
    s.flush()
    return get_kpi(s, key)


def update_kpi(s: Session, key: str, *, owner: str | Sequence[str] | None = None, **fields: Any) -> Entry:
    """Change how the workspace reads a KPI (catalogue or custom): owner, kind, tags, frequency…"""
    current = get_kpi(s, key)
    unknown = set(fields) - set(_FIELDS) - {"formula"}
    if unknown:
        raise OptionError(_("Unknown KPI field(s): {f}; use {allowed}.", f=", ".join(sorted(unknown)), allowed=", ".join(_FIELDS)))
    _check_fields(fields)
    row = s.scalar(sa.select(KpiDefinition).where(KpiDefinition.key == key))
    if row is None:
        row = KpiDefinition(key=key, name="", definition="", formula=None, unit=current.unit, kind=current.kind, timing=current.timing,
                            vanity=current.vanity, frequency=current.frequency, aarrr=list(current.aarrr), direction=current.direction,
                            north_star=False, counterpart=current.counterpart)
        s.add(row)
    if "formula" in fields:
        if current.source != "custom":
            raise RuleError(_("KPI '{key}' comes from the catalogue: its formula cannot change.", key=key))
        row.formula = fml.parse(fields.pop("formula")).text
    for k, v in fields.items():
        setattr(row, k, list(v) if k == "aarrr" else v)
    if owner is not None:
        row.owner_id = _one_owner(s, owner)
    s.flush()
    return get_kpi(s, key)


def set_north_star(s: Session, key: str) -> Entry:
    """Make ``key`` the workspace's one North Star metric (the previous one loses the flag)."""
    get_kpi(s, key)
    s.execute(sa.update(KpiDefinition).values(north_star=False))
    update_kpi(s, key)
    s.execute(sa.update(KpiDefinition).where(KpiDefinition.key == key).values(north_star=True))
    s.flush()
    return get_kpi(s, key)


def north_star(s: Session) -> Entry | None:
    return next((e for e in list_kpis(s) if e.north_star), None)


def set_target(s: Session, key: str, value: float, deadline: date | str, *, baseline: float | None = None,
               baseline_date: date | str | None = None, segment: Mapping[str, str] | None = None, note: str = "") -> Target:
    """A SMART target for ``key``: ``value`` by ``deadline`` (from ``baseline``, for ``segment``)."""
    e = get_kpi(s, key)
    d = as_date(deadline, "deadline")
    assert d is not None
    bd = as_date(baseline_date, "baseline_date") if baseline_date else None
    if bd and bd >= d:
        raise OptionError(_("baseline_date {b} must come before the deadline {d}.", b=bd, d=d))
    for col in segment or {}:
        if col not in fml.SEGMENT_COLUMNS:
            raise OptionError(_("segment: unknown column '{col}'; use one of {cols}.", col=col, cols=", ".join(fml.SEGMENT_COLUMNS)))
    if e.direction == "increase" and baseline is not None and value <= baseline or e.direction == "decrease" and baseline is not None and value >= baseline:
        raise OptionError(_("Target {v} does not improve on the baseline {b} ({key} should {dir}).", v=value, b=baseline, key=key, dir=_(e.direction)))
    row = KpiTarget(kpi_key=key, value=float(value), deadline=d, baseline=baseline, baseline_date=bd,
                    segment=dict(segment) if segment else None, note=note, active=True)
    s.add(row)
    s.flush()
    return Target(row.id, key, row.value, d, baseline, bd, row.segment, note)


def list_targets(s: Session, key: str | None = None) -> list[Target]:
    got = _targets(s)
    return [t for k, ts in got.items() if key in (None, k) for t in ts]


def create_objective(s: Session, title: str, key_results: Sequence[Mapping[str, Any]], *, owner: str | None = None,
                     period: str = "") -> dict[str, Any]:
    """An OKR: an objective with 2–5 key results, each a SMART target of a registry KPI."""
    if not 2 <= len(key_results) <= 5:
        raise RuleError(_("An objective has 2 to 5 key results; got {n}.", n=len(key_results)))
    obj = Objective(title=require_text(title, "title"), owner_id=_one_owner(s, owner), period=period)
    s.add(obj)
    s.flush()
    for kr in key_results:
        extra = {k: kr[k] for k in ("baseline", "baseline_date", "segment", "note") if k in kr}
        t = set_target(s, kr["kpi"], kr["value"], kr["deadline"], **extra)
        s.add(KeyResult(objective_id=obj.id, target_id=t.id))
    s.flush()
    return objective_dict(s, obj.id)


def objective_dict(s: Session, objective_id: int) -> dict[str, Any]:
    obj = s.get(Objective, objective_id)
    if obj is None:
        raise NotFoundError(_("No objective with id {id}.", id=objective_id))
    ids = list(s.scalars(sa.select(KeyResult.target_id).where(KeyResult.objective_id == obj.id).order_by(KeyResult.id)))
    targets = {t.id: t for t in list_targets(s)}
    owner = s.get(User, obj.owner_id).username if obj.owner_id else None  # type: ignore[union-attr]
    return {"id": obj.id, "title": obj.title, "owner": owner, "period": obj.period,
            "key_results": [targets[i].to_dict() for i in ids if i in targets]}


def list_objectives(s: Session) -> list[dict[str, Any]]:
    return [objective_dict(s, i) for i in s.scalars(sa.select(Objective.id).order_by(Objective.id))]


def kr_progress(current: float | None, target: Target) -> float | None:
    """Share of the way from the baseline to the target (0–1, clipped); None without a baseline."""
    if current is None or target.baseline is None or target.value == target.baseline:
        return None
    return max(0.0, min(1.0, (current - target.baseline) / (target.value - target.baseline)))


def _as_dt(d: date | datetime) -> datetime:
    return d if isinstance(d, datetime) else datetime.combine(d, datetime.min.time())
