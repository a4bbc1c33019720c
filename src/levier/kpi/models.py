"""Loop-store tables of the KPI registry (migration ``0004_kpi_registry`` or the next free number).

They share :class:`levier.loop.models.Base` so Alembic and the models-vs-migrations test see
them; ``levier.loop.models`` imports this module at its end.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from levier.loop.models import Base, _created, _fk, _id, utcnow

__all__ = [
    "KINDS", "TIMINGS", "FREQUENCIES", "AARRR", "DIRECTIONS", "ROLES", "ALERT_KINDS", "ALERT_STATUSES",
    "KpiDefinition", "KpiTarget", "KpiThreshold", "Objective", "KeyResult", "Dashboard", "KpiAlert", "KpiPoint", "KpiSeriesState",
]

KINDS = ("activity", "impact")
TIMINGS = ("leading", "lagging")
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly")
AARRR = ("acquisition", "activation", "retention", "referral", "revenue")
DIRECTIONS = ("increase", "decrease")
ROLES = ("cmo", "sdr_manager", "ceo", "custom")
ALERT_KINDS = ("threshold", "anomaly", "lead_untouched", "action_overdue")
ALERT_STATUSES = ("open", "acknowledged", "resolved")


class KpiDefinition(Base):
    """A KPI of the registry: a catalogue KPI's reading (owner, tags) or a user-defined formula."""

    __tablename__ = "kpi_definitions"
    id: Mapped[int] = _id()
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    definition: Mapped[str] = mapped_column(sa.Text, default="")
    formula: Mapped[str | None] = mapped_column(sa.Text)  # None for catalogue KPIs
    unit: Mapped[str] = mapped_column(sa.String(32), default="count")
    owner_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    kind: Mapped[str] = mapped_column(sa.String(16), default="activity")
    timing: Mapped[str] = mapped_column(sa.String(16), default="leading")
    vanity: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    frequency: Mapped[str] = mapped_column(sa.String(16), default="monthly")
    aarrr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    direction: Mapped[str] = mapped_column(sa.String(16), default="increase")
    north_star: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    counterpart: Mapped[str | None] = mapped_column(sa.String(80))  # impact KPI paired with a vanity one
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class KpiTarget(Base):
    """A SMART target: value by deadline, from a baseline, for a segment (or all leads)."""

    __tablename__ = "kpi_targets"
    id: Mapped[int] = _id()
    kpi_key: Mapped[str] = mapped_column(sa.String(80), index=True)
    value: Mapped[float] = mapped_column(sa.Float)
    deadline: Mapped[date] = mapped_column(sa.Date)
    baseline: Mapped[float | None] = mapped_column(sa.Float)
    baseline_date: Mapped[date | None] = mapped_column(sa.Date)
    segment: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class KpiThreshold(Base):
    """Alert bounds of a KPI (lower and/or upper), overall or for one lead segment (migration 0007)."""

    __tablename__ = "kpi_thresholds"
    __table_args__ = (sa.UniqueConstraint("kpi_key", "segment_key"),)
    id: Mapped[int] = _id()
    kpi_key: Mapped[str] = mapped_column(sa.String(80), index=True)
    segment_key: Mapped[str] = mapped_column(sa.String(300), default="")  # "column=value,…" ("" = all leads)
    segment: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    lower: Mapped[float | None] = mapped_column(sa.Float)
    upper: Mapped[float | None] = mapped_column(sa.Float)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class Objective(Base):
    """The O of an OKR (2–5 key results)."""

    __tablename__ = "okr_objectives"
    id: Mapped[int] = _id()
    title: Mapped[str] = mapped_column(sa.String(300))
    owner_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    period: Mapped[str] = mapped_column(sa.String(16), default="")  # e.g. 2026-Q4
    created_at: Mapped[datetime] = _created()


class KeyResult(Base):
    __tablename__ = "okr_key_results"
    id: Mapped[int] = _id()
    objective_id: Mapped[int] = _fk("okr_objectives.id", nullable=False)
    target_id: Mapped[int] = _fk("kpi_targets.id", nullable=False)


class Dashboard(Base):
    __tablename__ = "kpi_dashboards"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="custom")
    kpi_keys: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = _created()


class KpiAlert(Base):
    """One alert group: repeated firings of the same (kind, KPI, subject) within the cool-down bump ``count``."""

    __tablename__ = "kpi_alerts"
    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(sa.String(24))
    kpi_key: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    group_key: Mapped[str] = mapped_column(sa.String(300), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    severity: Mapped[str] = mapped_column(sa.String(16), default="warning")
    message: Mapped[str] = mapped_column(sa.Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    owner_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    count: Mapped[int] = mapped_column(sa.Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


class KpiSeriesState(Base):
    """The watermark of one stored time series: the last import batch seen per facts table, the last cleaning run."""

    __tablename__ = "kpi_series_state"
    id: Mapped[int] = _id()
    series_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    watermark: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)


class KpiPoint(Base):
    """One computed value of a KPI time series (period start, segment label)."""

    __tablename__ = "kpi_points"
    __table_args__ = (sa.UniqueConstraint("series_key", "period_start", "segment"),)
    id: Mapped[int] = _id()
    series_key: Mapped[str] = mapped_column(sa.String(300), index=True)
    period_start: Mapped[datetime] = mapped_column(sa.DateTime)
    segment: Mapped[str] = mapped_column(sa.String(300), default="")
    value: Mapped[float | None] = mapped_column(sa.Float)
    computed_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
