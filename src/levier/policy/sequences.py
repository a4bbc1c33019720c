"""Cadence sequences of the playbook: what each rep has due today, and the TTF SLA queue.

A step is scheduled on the lead's local calendar: creation day + ``day``. A step is done when the
lead has received, since its creation, at least as many outbound touches on the step's channel as
the sequence schedules on that channel up to and including the step. Both queues read the state
(indexed by owner and creation time), never the facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from levier.policy._time import DAY, from_epoch, parse_time, to_epoch, zone
from levier.policy.core import Policy
from levier.policy.state import CHANNEL_CODE, FLAG_BITS, LeadState

__all__ = ["DueStep", "Breach", "due_today", "ttf_queue", "to_frame"]


@dataclass(frozen=True)
class DueStep:
    """One sequence step due (or overdue) for a lead."""

    lead_id: str
    owner: str | None
    segment: str
    day: int
    channel: str
    template: str
    due_on: date
    overdue_days: int
    decision: str
    next_allowed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "due_on": self.due_on.isoformat(),
                "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None}


@dataclass(frozen=True)
class Breach:
    """A lead past its TTF SLA with no outbound touch yet."""

    lead_id: str
    owner: str | None
    segment: str
    created_at: datetime
    deadline: datetime
    overdue_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat(), "deadline": self.deadline.isoformat(),
                "overdue_hours": round(self.overdue_hours, 2)}


def to_frame(items: list[Any]) -> pd.DataFrame:
    """Due steps or breaches as a table."""
    return pd.DataFrame([i.to_dict() for i in items])


def _done(lead: LeadState, channel: str, needed: int) -> bool:
    code = CHANNEL_CODE.get(channel, 7)
    since = lead.created or 0
    return sum(1 for c in lead.recent if c & 7 == code and c >> 3 >= since) >= needed


def due_today(policy: Policy, rep: str | None = None, at: str | datetime | None = None) -> list[DueStep]:
    """Sequence steps due today (lead's local day) or overdue and not done, for ``rep`` (or everyone)."""
    now = parse_time(at)
    ts = to_epoch(now)
    horizon = max((s.day for seg in policy.rules.segments for s in seg.sequence), default=0) + 2
    where, params = "created >= ? AND created <= ? AND (opted_out IS NULL OR opted_out > ?) AND flags = 0", (ts - horizon * DAY, ts, ts)
    if rep:
        where, params = "owner = ? AND " + where, (rep, *params)
    out: list[DueStep] = []
    for lead in policy.store.leads_where(where, params):
        seg = policy.rules.segment_for(lead.channel, lead.size, lead.phase)
        if seg is None or not seg.sequence or lead.created is None:
            continue
        tz = zone(lead.tz, policy.rules.timezone)
        start = datetime.fromtimestamp(lead.created, tz).date()
        today = datetime.fromtimestamp(ts, tz).date()
        seen: dict[str, int] = {}
        for step in sorted(seg.sequence, key=lambda s: s.day):
            seen[step.channel] = seen.get(step.channel, 0) + 1
            due_on = start + timedelta(days=step.day)
            if due_on > today or _done(lead, step.channel, seen[step.channel]):
                continue
            d = policy.check(lead.lead_id, step.channel, now)
            out.append(DueStep(lead.lead_id, lead.owner, seg.key, step.day, step.channel, step.template, due_on,
                               (today - due_on).days, d.decision, d.next_allowed_at))
    return sorted(out, key=lambda s: (-s.overdue_days, s.due_on, s.lead_id, s.day))


def ttf_queue(policy: Policy, at: str | datetime | None = None, within_days: int = 7, rep: str | None = None) -> list[Breach]:
    """Leads created in the last ``within_days`` that breach their segment's TTF SLA now, most overdue first."""
    now = parse_time(at)
    ts = to_epoch(now)
    slas = [s for s in policy.rules.segments if s.ttf_hours]
    if not slas:
        return []
    shortest = min(s.ttf_hours or 0 for s in slas)
    where = "(first_out IS NULL OR first_out > ?) AND (opted_out IS NULL OR opted_out > ?) AND flags & ? = 0 AND created >= ? AND created <= ?"
    bits = sum(FLAG_BITS[f] for f in policy.rules.escalation.flags)
    params: tuple[Any, ...] = (ts, ts, bits, ts - within_days * DAY, ts - int(shortest * 3600))
    if rep:
        where, params = "owner = ? AND " + where, (rep, *params)
    out = []
    for lead in policy.store.leads_where(where, params):
        seg = policy.rules.segment_for(lead.channel, lead.size, lead.phase)
        if seg is None or not seg.ttf_hours or lead.created is None:
            continue
        deadline = lead.created + int(seg.ttf_hours * 3600)
        if ts > deadline:
            out.append(Breach(lead.lead_id, lead.owner, seg.key, from_epoch(lead.created), from_epoch(deadline), (ts - deadline) / 3600))
    return sorted(out, key=lambda b: (-b.overdue_hours, b.lead_id))

