"""Hypotheses (a testable cause and the KPI movement expected) and the experiments registry.

An experiment records its protocol (one variable, variants, primary KPI, guardrails, n per
arm, dates) and its status planned → running → concluded | stopped. Its statistical result
comes from the experiments analysis (``levier.analysis.experiments``) and is stored as JSON;
deciding an experiment emits the ``experiment.decided`` webhook.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import ConflictError, OptionError, RuleError
from levier.i18n import gettext as _
from levier.loop.models import (
    EXPERIMENT_STATUSES,
    HYPOTHESIS_STATUSES,
    Experiment,
    Hypothesis,
    Observation,
    Retro,
    utcnow,
)
from levier.loop.services import webhooks
from levier.loop.services._common import as_date, check_choice, clean_fields, get, require_text
from levier.loop.services.kpi import check_kpi

__all__ = [
    "DECISIONS", "create_hypothesis", "list_hypotheses", "set_hypothesis_status", "create_experiment", "get_experiment",
    "list_experiments", "update_experiment", "start_experiment", "record_result", "decide_experiment",
]

DECISIONS = ("ship", "iterate", "stop")
_TRANSITIONS = {"planned": {"running", "stopped"}, "running": {"concluded", "stopped"}, "concluded": set(), "stopped": set()}


def create_hypothesis(
    s: Session, statement: str, *, kpi_key: str | None = None, expected_change: float | None = None,
    retro_id: int | None = None, observation_id: int | None = None,
) -> Hypothesis:
    if retro_id is not None:
        get(s, Retro, retro_id, _("retro"))
    if observation_id is not None:
        obs = get(s, Observation, observation_id, _("observation"))
        retro_id = retro_id or obs.retro_id
    row = Hypothesis(
        statement=require_text(statement, "statement"), kpi_key=check_kpi(kpi_key) if kpi_key else None,
        expected_change=expected_change, retro_id=retro_id, observation_id=observation_id, status="open",
    )
    s.add(row)
    s.flush()
    return row


def list_hypotheses(s: Session, *, retro_id: int | None = None) -> list[Hypothesis]:
    stmt = sa.select(Hypothesis).order_by(Hypothesis.id)
    if retro_id is not None:
        stmt = stmt.where(Hypothesis.retro_id == retro_id)
    return list(s.scalars(stmt))


def set_hypothesis_status(s: Session, hypothesis_id: int, status: str) -> Hypothesis:
    row = get(s, Hypothesis, hypothesis_id, _("hypothesis"))
    row.status = str(check_choice(status, HYPOTHESIS_STATUSES, "status"))
    s.flush()
    return row


def create_experiment(
    s: Session, key: str, name: str, *, hypothesis_id: int | None = None, variable: str = "", variants: list[str] | None = None,
    primary_kpi: str | None = None, guardrails: list[str] | None = None, n_per_arm: int | None = None,
    start_date: date | str | None = None, end_date: date | str | None = None,
) -> Experiment:
    """Register an experiment (``key`` is the experiment_key of the assignments facts)."""
    key = require_text(key, "key")
    if s.scalar(sa.select(Experiment.id).where(Experiment.key == key)) is not None:
        raise ConflictError(_("An experiment with key '{key}' already exists.", key=key))
    variants = list(variants or ["control", "treatment"])
    if len(variants) < 2 or len(set(variants)) != len(variants):
        raise OptionError(_("variants: give at least two distinct variants."))
    if n_per_arm is not None and n_per_arm < 1:
        raise OptionError(_("n_per_arm must be a positive number of units."))
    start, end = as_date(start_date, "start_date"), as_date(end_date, "end_date")
    if start and end and end <= start:
        raise OptionError(_("end_date ({end}) must be after start_date ({start}).", end=end, start=start))
    hyp = get(s, Hypothesis, hypothesis_id, _("hypothesis")) if hypothesis_id is not None else None
    row = Experiment(
        key=key, name=require_text(name, "name"), hypothesis_id=hypothesis_id, variable=variable, variants=variants,
        primary_kpi=check_kpi(primary_kpi) if primary_kpi else None, guardrails=list(guardrails or []), n_per_arm=n_per_arm,
        start_date=start, end_date=end, status="planned",
    )
    s.add(row)
    if hyp is not None and hyp.status == "open":
        hyp.status = "testing"
    s.flush()
    return row


def get_experiment(s: Session, ref: int | str) -> Experiment:
    if isinstance(ref, str) and not ref.isdigit():
        row = s.scalar(sa.select(Experiment).where(Experiment.key == ref))
        if row is None:
            return get(s, Experiment, -1, _("experiment"))
        return row
    return get(s, Experiment, int(ref), _("experiment"))


def list_experiments(s: Session, *, status: str | None = None) -> list[Experiment]:
    stmt = sa.select(Experiment).order_by(Experiment.id)
    if status:
        stmt = stmt.where(Experiment.status == check_choice(status, EXPERIMENT_STATUSES, "status"))
    return list(s.scalars(stmt))


def update_experiment(s: Session, experiment_id: int, **fields: Any) -> Experiment:
    """Change protocol fields while the experiment is planned."""
    clean_fields(fields, {"name", "variable", "variants", "primary_kpi", "guardrails", "n_per_arm", "start_date", "end_date", "hypothesis_id"})
    row = get(s, Experiment, experiment_id, _("experiment"))
    if row.status != "planned":
        raise RuleError(_("The protocol of experiment '{key}' is frozen once it runs.", key=row.key))
    for key in ("start_date", "end_date"):
        if key in fields:
            fields[key] = as_date(fields[key], key)
    if fields.get("primary_kpi"):
        check_kpi(fields["primary_kpi"])
    for key, value in fields.items():
        setattr(row, key, value)
    s.flush()
    return row


def _move(row: Experiment, status: str) -> None:
    if status not in _TRANSITIONS[row.status]:
        raise RuleError(_("Experiment '{key}' cannot go from {old} to {new}.", key=row.key, old=row.status, new=status))
    row.status = status


def start_experiment(s: Session, experiment_id: int, *, start_date: date | str | None = None) -> Experiment:
    row = get(s, Experiment, experiment_id, _("experiment"))
    _move(row, "running")
    row.start_date = as_date(start_date, "start_date") or row.start_date or utcnow().date()
    s.flush()
    return row


def record_result(s: Session, experiment_id: int, result: dict[str, Any]) -> Experiment:
    """Store the analysis result (e.g. the experiments analysis ``to_dict()``)."""
    row = get(s, Experiment, experiment_id, _("experiment"))
    if not isinstance(result, dict):
        raise OptionError(_("The result must be a JSON object (the analysis to_dict())."))
    row.result = result
    s.flush()
    return row


def decide_experiment(
    s: Session, experiment_id: int, decision: str, *, result: dict[str, Any] | None = None, hypothesis_status: str | None = None
) -> Experiment:
    """Conclude (ship / iterate) or stop an experiment; updates its hypothesis; emits the webhook."""
    row = get(s, Experiment, experiment_id, _("experiment"))
    check_choice(decision, DECISIONS, "decision")
    if row.status == "planned" and decision != "stop":
        raise RuleError(_("Experiment '{key}' has not run yet; start it or stop it.", key=row.key))
    _move(row, "stopped" if decision == "stop" and row.status == "planned" else "concluded")
    row.decision, row.decided_at = decision, utcnow()
    if result is not None:
        row.result = result
    if hypothesis_status and row.hypothesis_id:
        set_hypothesis_status(s, row.hypothesis_id, hypothesis_status)
    s.flush()
    webhooks.emit(s, "experiment.decided", row.to_dict())
    return row
