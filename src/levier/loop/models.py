"""SQLAlchemy 2 models of the loop store (cycles, retros, actions, learnings, playbook …).

The schema is owned by the Alembic migrations in :mod:`levier.loop.migrations`; a test checks
that these models and the migrations agree. Timestamps are naive UTC; dates are calendar dates.
Enumerations are plain strings validated by the services (values listed below).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base", "utcnow", "ROLES", "RETRO_TEMPLATES", "ERROR_CATEGORIES", "OBSERVATION_SOURCES",
    "SWOT_QUADRANTS", "ACTION_STATUSES", "VERIFICATIONS", "EXPERIMENT_STATUSES", "HYPOTHESIS_STATUSES",
    "OUTCOMES", "PLAYBOOK_KINDS", "PLAYBOOK_STATUSES",
    "User", "ApiToken", "LoginSession", "Cycle", "CycleStep", "CycleResult", "Decision", "Retro",
    "Observation", "Vote", "WhyChain", "SwotItem", "Hypothesis", "Experiment", "Action", "ActionReview",
    "Learning", "PlaybookEntry", "PlaybookLink", "AccessLog", "Webhook", "WebhookDelivery",
    "SHARE_KINDS", "ShareLink", "CustomerNote", "FactsInbox",
]

ROLES = ("admin", "editor", "viewer")
RETRO_TEMPLATES = ("monthly_audit_review", "weekly_micro_retro", "campaign_post_mortem", "cross_team_retro")
ERROR_CATEGORIES = ("strategic", "operational", "communication", "technological")
OBSERVATION_SOURCES = ("audit", "funnel", "experiment", "kpi", "interview", "field", "call", "other")
SWOT_QUADRANTS = ("strength", "weakness", "opportunity", "threat")
ACTION_STATUSES = ("open", "in_progress", "done", "cancelled")
VERIFICATIONS = ("met", "missed", "not_measurable")
HYPOTHESIS_STATUSES = ("open", "testing", "supported", "refuted")
EXPERIMENT_STATUSES = ("planned", "running", "concluded", "stopped")
OUTCOMES = ("success", "failure")
PLAYBOOK_KINDS = ("cadence_sequence", "message_template", "threshold_sla", "automation_rule")
PLAYBOOK_STATUSES = ("draft", "standard", "retired")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (the store's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)

    def to_dict(self) -> dict[str, Any]:
        """Every column as a JSON-safe value (dates as ISO strings)."""
        return {c.key: _jsonable(getattr(self, c.key)) for c in sa.inspect(type(self)).column_attrs}


def _id() -> Mapped[int]:
    return mapped_column(sa.Integer, primary_key=True)


def _fk(target: str, *, nullable: bool = True, ondelete: str = "CASCADE") -> Any:
    return mapped_column(sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


def _created() -> Mapped[datetime]:
    return mapped_column(sa.DateTime, default=utcnow, nullable=False)


# -- people and credentials ----------------------------------------------------------------
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = _id()
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(16), default="viewer")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = _created()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("password_hash")
        out["can_log_in"] = self.password_hash is not None
        return out


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = _id()
    user_id: Mapped[int] = _fk("users.id", nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("token_hash")
        return out


class LoginSession(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = _id()
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = _fk("users.id", nullable=False)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime)


# -- audit cycles -------------------------------------------------------------------------
class Cycle(Base):
    __tablename__ = "cycles"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(sa.String(200))
    segment: Mapped[str | None] = mapped_column(sa.String(200))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    start_date: Mapped[date] = mapped_column(sa.Date)
    framing: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    raci: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    replay_of_id: Mapped[int | None] = _fk("cycles.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = _created()


class CycleStep(Base):
    __tablename__ = "cycle_steps"
    __table_args__ = (sa.UniqueConstraint("cycle_id", "number"),)
    id: Mapped[int] = _id()
    cycle_id: Mapped[int] = _fk("cycles.id", nullable=False)
    number: Mapped[int] = mapped_column(sa.Integer)
    key: Mapped[str] = mapped_column(sa.String(32))
    week: Mapped[int] = mapped_column(sa.Integer)
    due_date: Mapped[date] = mapped_column(sa.Date)
    done_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    note: Mapped[str] = mapped_column(sa.Text, default="")


class CycleResult(Base):
    __tablename__ = "cycle_results"
    id: Mapped[int] = _id()
    cycle_id: Mapped[int] = _fk("cycles.id", nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), default="audit")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = _created()


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = _id()
    cycle_id: Mapped[int] = _fk("cycles.id", nullable=False)
    segment: Mapped[str | None] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    thresholds: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    colour: Mapped[str | None] = mapped_column(sa.String(8))
    decided_by: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = _created()


# -- retrospectives -----------------------------------------------------------------------
class Retro(Base):
    __tablename__ = "retros"
    id: Mapped[int] = _id()
    template: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(300))
    objective: Mapped[str] = mapped_column(sa.String(300))
    period_start: Mapped[date | None] = mapped_column(sa.Date)
    period_end: Mapped[date | None] = mapped_column(sa.Date)
    participants: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    cycle_id: Mapped[int | None] = _fk("cycles.id", ondelete="SET NULL")
    previous_id: Mapped[int | None] = _fk("retros.id", ondelete="SET NULL")
    error_category: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    held_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = _created()


class Observation(Base):
    __tablename__ = "observations"
    id: Mapped[int] = _id()
    retro_id: Mapped[int] = _fk("retros.id", nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16))  # quantitative | qualitative
    text: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(16))
    figure_key: Mapped[str | None] = mapped_column(sa.String(200))
    figure_value: Mapped[float | None] = mapped_column(sa.Float)
    figure_ref: Mapped[str | None] = mapped_column(sa.String(300))
    author_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    anonymous: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    group_label: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = _created()


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (sa.UniqueConstraint("observation_id", "voter"),)
    id: Mapped[int] = _id()
    observation_id: Mapped[int] = _fk("observations.id", nullable=False)
    voter: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = _created()


class WhyChain(Base):
    __tablename__ = "why_chains"
    id: Mapped[int] = _id()
    retro_id: Mapped[int] = _fk("retros.id", nullable=False)
    problem: Mapped[str] = mapped_column(sa.Text)
    whys: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    root_cause: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = _created()


class SwotItem(Base):
    __tablename__ = "swot_items"
    id: Mapped[int] = _id()
    retro_id: Mapped[int] = _fk("retros.id", nullable=False)
    quadrant: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = _created()


# -- hypotheses, experiments, actions -----------------------------------------------------
class Hypothesis(Base):
    __tablename__ = "hypotheses"
    id: Mapped[int] = _id()
    retro_id: Mapped[int | None] = _fk("retros.id", ondelete="SET NULL")
    observation_id: Mapped[int | None] = _fk("observations.id", ondelete="SET NULL")
    statement: Mapped[str] = mapped_column(sa.Text)
    kpi_key: Mapped[str | None] = mapped_column(sa.String(80))
    expected_change: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[datetime] = _created()


class Experiment(Base):
    __tablename__ = "experiments"
    id: Mapped[int] = _id()
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    hypothesis_id: Mapped[int | None] = _fk("hypotheses.id", ondelete="SET NULL")
    variable: Mapped[str] = mapped_column(sa.String(300), default="")
    variants: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    primary_kpi: Mapped[str | None] = mapped_column(sa.String(80))
    guardrails: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    n_per_arm: Mapped[int | None] = mapped_column(sa.Integer)
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default="planned")
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = _created()


class Action(Base):
    __tablename__ = "actions"
    id: Mapped[int] = _id()
    retro_id: Mapped[int | None] = _fk("retros.id", ondelete="SET NULL")
    hypothesis_id: Mapped[int | None] = _fk("hypotheses.id", ondelete="SET NULL")
    title: Mapped[str] = mapped_column(sa.String(300))
    owner_id: Mapped[int] = _fk("users.id", nullable=False, ondelete="RESTRICT")
    due_date: Mapped[date] = mapped_column(sa.Date)
    kpi_key: Mapped[str] = mapped_column(sa.String(80))
    segment: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    baseline: Mapped[float | None] = mapped_column(sa.Float)
    target: Mapped[float] = mapped_column(sa.Float)
    window_start: Mapped[date] = mapped_column(sa.Date)
    window_end: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    done_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    verification: Mapped[str | None] = mapped_column(sa.String(16))
    measured_value: Mapped[float | None] = mapped_column(sa.Float)
    verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    verification_detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    due_soon_notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = _created()


class ActionReview(Base):
    __tablename__ = "action_reviews"
    __table_args__ = (sa.UniqueConstraint("retro_id", "action_id"),)
    id: Mapped[int] = _id()
    retro_id: Mapped[int] = _fk("retros.id", nullable=False)
    action_id: Mapped[int] = _fk("actions.id", nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16))
    verification: Mapped[str | None] = mapped_column(sa.String(16))
    measured_value: Mapped[float | None] = mapped_column(sa.Float)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_at: Mapped[datetime] = _created()


# -- learnings and the playbook -----------------------------------------------------------
class Learning(Base):
    __tablename__ = "learnings"
    id: Mapped[int] = _id()
    retro_id: Mapped[int | None] = _fk("retros.id", ondelete="SET NULL")
    experiment_id: Mapped[int | None] = _fk("experiments.id", ondelete="SET NULL")
    observation_id: Mapped[int | None] = _fk("observations.id", ondelete="SET NULL")
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    outcome: Mapped[str] = mapped_column(sa.String(16))
    audience: Mapped[str | None] = mapped_column(sa.String(200))
    channel: Mapped[str | None] = mapped_column(sa.String(80))
    timing: Mapped[str | None] = mapped_column(sa.String(200))
    offer: Mapped[str | None] = mapped_column(sa.String(200))
    quarter: Mapped[str | None] = mapped_column(sa.String(8))
    segment: Mapped[str | None] = mapped_column(sa.String(200))
    kpi_key: Mapped[str | None] = mapped_column(sa.String(80))
    cause: Mapped[str] = mapped_column(sa.Text, default="")
    lesson: Mapped[str] = mapped_column(sa.Text, default="")
    error_category: Mapped[str | None] = mapped_column(sa.String(16))
    evidence: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    observed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = _created()


class PlaybookEntry(Base):
    __tablename__ = "playbook_entries"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)
    id: Mapped[int] = _id()
    key: Mapped[str] = mapped_column(sa.String(120), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    kind: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    segment: Mapped[str | None] = mapped_column(sa.String(200))
    channel: Mapped[str | None] = mapped_column(sa.String(80))
    kpi_key: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    created_at: Mapped[datetime] = _created()
    standardised_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


class PlaybookLink(Base):
    __tablename__ = "playbook_links"
    id: Mapped[int] = _id()
    entry_id: Mapped[int] = _fk("playbook_entries.id", nullable=False)
    learning_id: Mapped[int | None] = _fk("learnings.id")
    experiment_id: Mapped[int | None] = _fk("experiments.id")


# -- journal and integrations -------------------------------------------------------------
class AccessLog(Base):
    __tablename__ = "access_log"
    id: Mapped[int] = _id()
    user_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    username: Mapped[str] = mapped_column(sa.String(80), default="")
    action: Mapped[str] = mapped_column(sa.String(16))  # view | export | run
    target: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(sa.String(120))
    url: Mapped[str] = mapped_column(sa.String(1000))
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    format: Mapped[str] = mapped_column(sa.String(8), default="json")  # json | slack
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = _created()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["secret"] = "***" if self.secret else None
        return out


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = _id()
    webhook_id: Mapped[int] = _fk("webhooks.id", nullable=False)
    event: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime)
    locked_by: Mapped[str | None] = mapped_column(sa.String(80))
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    log: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = _created()
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


# KPI registry tables (their module owns them; imported here so the metadata is complete).
from levier.kpi import models as _kpi_models  # noqa: E402,F401

# -- web: read-only share links and customer notes (migration 0004) -----------------------
SHARE_KINDS = ("dashboard", "cycle")


class ShareLink(Base):
    """A read-only link to a dashboard or a cycle report: secret token (hashed), expiry, revocable."""

    __tablename__ = "share_links"
    id: Mapped[int] = _id()
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    target_id: Mapped[int | None] = mapped_column(sa.Integer)
    lang: Mapped[str] = mapped_column(sa.String(8), default="fr")
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    last_viewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("token_hash")
        return out


class CustomerNote(Base):
    """A note on a lead or an account, shown in its customer-context timeline."""

    __tablename__ = "customer_notes"
    id: Mapped[int] = _id()
    lead_id: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    account_id: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = _fk("users.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = _created()


# -- facts written by requests while the facts are read-only (migration 0006) -------------
class FactsInbox(Base):
    """Facts rows queued by a process that cannot write the facts (see :mod:`levier.data.inbox`)."""

    __tablename__ = "facts_inbox"
    id: Mapped[int] = _id()
    table_name: Mapped[str] = mapped_column(sa.String(40), index=True)
    match_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    source: Mapped[str] = mapped_column(sa.String(200), default="")
    preset: Mapped[str] = mapped_column(sa.String(60), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    claim: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = _created()
