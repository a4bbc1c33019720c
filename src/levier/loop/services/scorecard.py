"""The Retro ROI scorecard: does a retro turn into done actions, met targets and standards?

Per retro (definitions, also in docs/loop.md):

- ``actions``: actions created in the retro; ``done_on_time``: done with ``done_at`` on or
  before the due date; ``overdue``: neither done nor cancelled and past due;
- ``targets_met`` / ``targets_missed`` / ``not_measurable``: verification verdicts;
- ``experiments_run``: experiments testing a hypothesis of the retro that started (running,
  concluded or stopped after running); ``experiments_concluded``: status concluded;
- ``learnings`` and ``learnings_standardised``: learnings of the retro linked to at least one
  playbook entry that became standard (even if since retired);
- ``median_days_to_playbook``: median over standardised learnings of the days from the
  learning's observation (``observed_at``, else its creation) to the first standardisation.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.loop.models import (
    Action,
    Experiment,
    Hypothesis,
    Learning,
    PlaybookEntry,
    PlaybookLink,
    Retro,
    utcnow,
)
from levier.loop.services._common import get

__all__ = ["RetroScorecard", "retro_scorecard", "scorecards", "over_time", "retro_of_retros", "to_frame"]


@dataclass(frozen=True)
class RetroScorecard:
    """Counts of one retro (or of a period when ``retro_id`` is None)."""

    retro_id: int | None
    label: str
    actions: int
    done_on_time: int
    overdue: int
    targets_met: int
    targets_missed: int
    not_measurable: int
    experiments_run: int
    experiments_concluded: int
    learnings: int
    learnings_standardised: int
    median_days_to_playbook: float | None

    @property
    def on_time_rate(self) -> float | None:
        return self.done_on_time / self.actions if self.actions else None

    @property
    def target_hit_rate(self) -> float | None:
        verified = self.targets_met + self.targets_missed
        return self.targets_met / verified if verified else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "on_time_rate": self.on_time_rate, "target_hit_rate": self.target_hit_rate}


def _days_to_playbook(s: Session, learnings: list[Learning]) -> tuple[int, list[float]]:
    standardised, days = 0, []
    for ln in learnings:
        first = s.scalar(
            sa.select(sa.func.min(PlaybookEntry.standardised_at))
            .join(PlaybookLink, PlaybookLink.entry_id == PlaybookEntry.id)
            .where(PlaybookLink.learning_id == ln.id, PlaybookEntry.standardised_at.is_not(None))
        )
        if first is not None:
            standardised += 1
            start = ln.observed_at or ln.created_at
            days.append((first - start).total_seconds() / 86400.0)
    return standardised, days


def _counts(s: Session, retro_ids: list[int], today: date) -> dict[str, Any]:
    acts = list(s.scalars(sa.select(Action).where(Action.retro_id.in_(retro_ids)))) if retro_ids else []
    exps = list(
        s.scalars(sa.select(Experiment).join(Hypothesis, Hypothesis.id == Experiment.hypothesis_id).where(Hypothesis.retro_id.in_(retro_ids)))
    ) if retro_ids else []
    lns = list(s.scalars(sa.select(Learning).where(Learning.retro_id.in_(retro_ids)))) if retro_ids else []
    standardised, days = _days_to_playbook(s, lns)
    return {
        "actions": len(acts),
        "done_on_time": sum(a.status == "done" and a.done_at is not None and a.done_at.date() <= a.due_date for a in acts),
        "overdue": sum(a.status not in ("done", "cancelled") and a.due_date < today for a in acts),
        "targets_met": sum(a.verification == "met" for a in acts),
        "targets_missed": sum(a.verification == "missed" for a in acts),
        "not_measurable": sum(a.verification == "not_measurable" for a in acts),
        "experiments_run": sum(e.status in ("running", "concluded") or (e.status == "stopped" and e.start_date is not None) for e in exps),
        "experiments_concluded": sum(e.status == "concluded" for e in exps),
        "learnings": len(lns),
        "learnings_standardised": standardised,
        "median_days_to_playbook": float(statistics.median(days)) if days else None,
    }


def retro_scorecard(s: Session, retro_id: int, today: date | None = None) -> RetroScorecard:
    retro = get(s, Retro, retro_id, "retro")
    return RetroScorecard(retro_id=retro_id, label=retro.title, **_counts(s, [retro_id], today or utcnow().date()))


def scorecards(s: Session, today: date | None = None) -> list[RetroScorecard]:
    """One scorecard per retro, oldest first."""
    ids = list(s.scalars(sa.select(Retro.id).order_by(Retro.held_at, Retro.id)))
    return [retro_scorecard(s, i, today) for i in ids]


def over_time(s: Session, today: date | None = None, *, freq: str = "month") -> list[RetroScorecard]:
    """Scorecards aggregated per month (or quarter) of the retros' dates."""
    today = today or utcnow().date()
    groups: dict[str, list[int]] = {}
    for rid, held in s.execute(sa.select(Retro.id, Retro.held_at).order_by(Retro.held_at, Retro.id)):
        label = f"{held.year}Q{(held.month - 1) // 3 + 1}" if freq == "quarter" else held.strftime("%Y-%m")
        groups.setdefault(label, []).append(rid)
    return [RetroScorecard(retro_id=None, label=label, **_counts(s, ids, today)) for label, ids in groups.items()]


def retro_of_retros(s: Session, today: date | None = None) -> dict[str, Any]:
    """The retro of retros: totals, per-retro and per-month scorecards, and their trend."""
    today = today or utcnow().date()
    per_retro = scorecards(s, today)
    ids = [c.retro_id for c in per_retro if c.retro_id is not None]
    total = RetroScorecard(retro_id=None, label="all", **_counts(s, ids, today))
    months = over_time(s, today)
    rates = [m.target_hit_rate for m in months if m.target_hit_rate is not None]
    trend = None if len(rates) < 2 else ("improving" if rates[-1] > rates[0] else "declining" if rates[-1] < rates[0] else "flat")
    return {
        "total": total.to_dict(), "retros": [c.to_dict() for c in per_retro], "months": [m.to_dict() for m in months],
        "target_hit_trend": trend, "as_of": today.isoformat(),
    }


def to_frame(cards: list[RetroScorecard]) -> pd.DataFrame:
    """Scorecards as a table (one row each)."""
    return pd.DataFrame([c.to_dict() for c in cards])
