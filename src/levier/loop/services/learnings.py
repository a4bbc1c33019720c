"""Learnings (what worked or failed, in which context, with evidence) and the failure board."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.i18n import gettext as _
from levier.loop.models import (
    ERROR_CATEGORIES,
    OUTCOMES,
    Experiment,
    Learning,
    Observation,
    Retro,
    WhyChain,
    utcnow,
)
from levier.loop.services import search
from levier.loop.services._common import check_choice, clean_fields, get, quarter_of, require_text
from levier.loop.services.kpi import check_kpi

__all__ = ["create_learning", "get_learning", "list_learnings", "update_learning", "failure_board", "CONTEXT_FIELDS"]

CONTEXT_FIELDS = ("audience", "channel", "timing", "offer", "quarter", "segment")
EDITABLE = {"title", "body", "outcome", "cause", "lesson", "error_category", "evidence", "kpi_key", *CONTEXT_FIELDS}


def _observed_at(s: Session, retro_id: int | None, observation_id: int | None) -> datetime | None:
    if observation_id is not None:
        obs = get(s, Observation, observation_id, _("observation"))
        return obs.created_at
    if retro_id is not None:
        return s.scalar(sa.select(sa.func.min(Observation.created_at)).where(Observation.retro_id == retro_id))
    return None


def create_learning(
    s: Session, title: str, *, outcome: str, body: str = "", retro_id: int | None = None, experiment_id: int | None = None,
    observation_id: int | None = None, evidence: list[str] | None = None, cause: str = "", lesson: str = "",
    error_category: str | None = None, kpi_key: str | None = None, observed_at: datetime | None = None, **context: Any,
) -> Learning:
    """A learning; ``observed_at`` (start of the observation → playbook clock) defaults to its observation."""
    clean_fields(context, set(CONTEXT_FIELDS))
    check_choice(outcome, OUTCOMES, "outcome")
    check_choice(error_category, ERROR_CATEGORIES, "error_category", optional=True)
    if retro_id is not None:
        get(s, Retro, retro_id, _("retro"))
    if experiment_id is not None:
        get(s, Experiment, experiment_id, _("experiment"))
    seen = observed_at or _observed_at(s, retro_id, observation_id)
    context.setdefault("quarter", quarter_of(seen or utcnow()))
    row = Learning(
        title=require_text(title, "title"), body=body, outcome=outcome, retro_id=retro_id, experiment_id=experiment_id,
        observation_id=observation_id, evidence=[str(e) for e in evidence or []], cause=cause, lesson=lesson,
        error_category=error_category, kpi_key=check_kpi(kpi_key) if kpi_key else None, observed_at=seen, **context,
    )
    s.add(row)
    s.flush()
    search.index_learning(s, row)
    return row


def get_learning(s: Session, learning_id: int) -> Learning:
    return get(s, Learning, learning_id, _("learning"))


def update_learning(s: Session, learning_id: int, **fields: Any) -> Learning:
    clean_fields(fields, EDITABLE)
    row = get_learning(s, learning_id)
    if "outcome" in fields:
        check_choice(fields["outcome"], OUTCOMES, "outcome")
    if "error_category" in fields:
        check_choice(fields["error_category"], ERROR_CATEGORIES, "error_category", optional=True)
    for key, value in fields.items():
        setattr(row, key, value)
    s.flush()
    search.index_learning(s, row)
    return row


def list_learnings(s: Session, **filters: Any) -> list[Learning]:
    """Learnings filtered by outcome, retro_id, kpi_key or any context field (exact match)."""
    clean_fields(filters, {"outcome", "retro_id", "kpi_key", "experiment_id", *CONTEXT_FIELDS})
    stmt = sa.select(Learning).order_by(Learning.id)
    for key, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Learning, key) == value)
    return list(s.scalars(stmt))


def failure_board(s: Session, **filters: Any) -> list[dict[str, Any]]:
    """Failures with their cause, lesson, error category and the 5-whys root causes of their retro."""
    out = []
    for row in list_learnings(s, outcome="failure", **filters):
        roots = list(s.scalars(sa.select(WhyChain.root_cause).where(WhyChain.retro_id == row.retro_id))) if row.retro_id else []
        retro = s.get(Retro, row.retro_id) if row.retro_id else None
        out.append({
            **row.to_dict(), "root_causes": roots, "retro_title": retro.title if retro else None,
            "error_category": row.error_category or (retro.error_category if retro else None),
        })
    return out
