"""Audit cycles: framing, the 7 steps on a 4-week calendar, results, decisions, reminders, replay."""

from __future__ import annotations

import calendar as _calendar
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import OptionError, ServiceUnavailableError
from levier.i18n import gettext as _
from levier.loop.models import Cycle, CycleResult, CycleStep, Decision, utcnow
from levier.loop.services._common import as_date, get, require_text

__all__ = [
    "STEPS", "WEEKS", "create_cycle", "list_cycles", "get_cycle", "cycle_detail", "complete_step", "attach_result",
    "run_audit", "record_audit", "list_results", "add_decision", "reminders", "replay", "add_months",
]

#: Framing keys kept on the cycle as audit options (the full framing note stays in each result).
FRAMING_OPTIONS = ("segment_by", "unit", "conversion_stage", "conversion_window_days", "contact_outcomes", "ttf_sla_hours")

#: (number, key, week the step is due at the end of)
STEPS: tuple[tuple[int, str, int], ...] = (
    (1, "frame", 1), (2, "collect", 1), (3, "clean", 1),
    (4, "visualise", 2), (5, "quantify", 2), (6, "decide", 2),
    (7, "experiment", 4),
)
#: The default 4-week calendar of a cycle (what the team does each week).
WEEKS: dict[int, tuple[str, ...]] = {
    1: ("frame", "collect", "clean"),
    2: ("visualise", "quantify", "propose thresholds"),
    3: ("launch the A/B test", "brief the team"),
    4: ("checkpoint", "business story"),
}
RACI_KEYS = ("responsible", "accountable", "consulted", "informed")


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (clamped to the month's last day)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def _check_raci(raci: dict[str, Any] | None) -> dict[str, Any]:
    raci = dict(raci or {})
    unknown = set(raci) - set(RACI_KEYS)
    if unknown:
        raise OptionError(_("raci: unknown role(s) {roles}; use responsible, accountable, consulted, informed.", roles=", ".join(sorted(unknown))))
    for key in ("responsible", "accountable"):
        if isinstance(raci.get(key), list):
            raise OptionError(_("raci.{key}: name exactly one person.", key=key))
    return raci


def create_cycle(
    s: Session,
    name: str,
    *,
    period_start: date | str,
    period_end: date | str,
    start_date: date | str | None = None,
    segment: str | None = None,
    framing: dict[str, Any] | None = None,
    raci: dict[str, Any] | None = None,
    replay_of_id: int | None = None,
) -> Cycle:
    """A new cycle whose 7 steps are scheduled on the default 4-week calendar from ``start_date``."""
    start, end = as_date(period_start, "period_start"), as_date(period_end, "period_end")
    assert start is not None and end is not None
    if end <= start:
        raise OptionError(_("period_end ({end}) must be after period_start ({start}).", end=end, start=start))
    begin = as_date(start_date, "start_date") or end
    cycle = Cycle(
        name=require_text(name, "name"), segment=segment, period_start=start, period_end=end, start_date=begin,
        framing=dict(framing or {}), raci=_check_raci(raci), status="active", replay_of_id=replay_of_id,
    )
    s.add(cycle)
    s.flush()
    for number, key, week in STEPS:
        s.add(CycleStep(cycle_id=cycle.id, number=number, key=key, week=week, due_date=begin + timedelta(days=7 * week - 1)))
    s.flush()
    return cycle


def list_cycles(s: Session) -> list[Cycle]:
    return list(s.scalars(sa.select(Cycle).order_by(Cycle.period_start.desc(), Cycle.id.desc())))


def get_cycle(s: Session, cycle_id: int) -> Cycle:
    return get(s, Cycle, cycle_id, _("cycle"))


def _steps(s: Session, cycle_id: int) -> list[CycleStep]:
    return list(s.scalars(sa.select(CycleStep).where(CycleStep.cycle_id == cycle_id).order_by(CycleStep.number)))


def cycle_detail(s: Session, cycle_id: int, today: date | None = None) -> dict[str, Any]:
    """The cycle with its steps (and overdue flags), calendar, results (ids only) and decisions."""
    cycle = get_cycle(s, cycle_id)
    today = today or utcnow().date()
    steps = [{**st.to_dict(), "overdue": st.done_at is None and st.due_date < today} for st in _steps(s, cycle_id)]
    results = s.execute(
        sa.select(CycleResult.id, CycleResult.kind, CycleResult.created_at).where(CycleResult.cycle_id == cycle_id).order_by(CycleResult.id)
    )
    decisions = s.scalars(sa.select(Decision).where(Decision.cycle_id == cycle_id).order_by(Decision.id))
    weeks = [
        {"week": w, "starts": (cycle.start_date + timedelta(days=7 * (w - 1))).isoformat(), "tasks": list(tasks)}
        for w, tasks in WEEKS.items()
    ]
    return {
        **cycle.to_dict(), "steps": steps, "calendar": weeks,
        "results": [{"id": r.id, "kind": r.kind, "created_at": r.created_at.isoformat()} for r in results],
        "decisions": [d.to_dict() for d in decisions],
    }


def complete_step(s: Session, cycle_id: int, step: int | str, *, note: str = "", at: datetime | None = None) -> CycleStep:
    """Mark step ``step`` (number or key, e.g. 3 or ``clean``) of the cycle as done."""
    get_cycle(s, cycle_id)
    for row in _steps(s, cycle_id):
        if str(step) in (str(row.number), row.key):
            row.done_at, row.note = at or utcnow(), note
            s.flush()
            return row
    raise OptionError(_("step: '{step}' is not a step of the cycle; use 1–7 or {keys}.", step=step, keys=", ".join(k for _n, k, _w in STEPS)))


def attach_result(s: Session, cycle_id: int, payload: dict[str, Any], *, kind: str = "audit", user_id: int | None = None) -> CycleResult:
    """Attach an analysis result (e.g. ``AuditResult.to_dict()``) to its cycle."""
    get_cycle(s, cycle_id)
    if not isinstance(payload, dict):
        raise OptionError(_("The result must be a JSON object (the analysis to_dict())."))
    row = CycleResult(cycle_id=cycle_id, kind=require_text(kind, "kind"), payload=payload, created_by_id=user_id)
    s.add(row)
    s.flush()
    return row


def _audit_options(analysis: Any, cycle: Cycle, options: dict[str, Any]) -> Any:
    """``AuditOptions`` from the cycle's period and framing, overridden by ``options``."""
    from dataclasses import fields

    from levier.analysis.framing import Period

    cls = analysis.AuditOptions
    allowed = {f.name for f in fields(cls)} - {"raci", "thresholds"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise OptionError(_("Invalid audit options: {problem}", problem=", ".join(unknown)), hint=_("Allowed: {allowed}.", allowed=", ".join(sorted(allowed))))
    merged = {k: v for k, v in {**(cycle.framing or {}), **options}.items() if k in allowed}
    merged = {k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()}
    merged.setdefault("period", Period(cycle.period_start, cycle.period_end, f"{cycle.period_start}..{cycle.period_end}"))
    return cls(**merged)


def run_audit(s: Session, ws: Any, cycle_id: int, options: dict[str, Any] | None = None, *, user_id: int | None = None) -> CycleResult:
    """Run the audit on the workspace facts for the cycle's period and attach its result."""
    cycle = get_cycle(s, cycle_id)
    try:
        from levier import analysis

        run = analysis.run_audit
    except (ImportError, AttributeError):
        raise ServiceUnavailableError(_("The audit analysis is not available in this installation.")) from None
    opts = _audit_options(analysis, cycle, options or {}) if getattr(analysis, "AuditOptions", None) else {"start": cycle.period_start, "end": cycle.period_end, **(options or {})}
    try:
        result = run(ws, opts)
    except TypeError as exc:
        raise OptionError(_("Invalid audit options: {problem}", problem=exc)) from None
    return attach_result(s, cycle_id, result.to_dict(), kind="audit", user_id=user_id)


def _framing_options(framing: dict[str, Any]) -> dict[str, Any]:
    """The audit options of a framing note (``AuditResult.to_dict()["framing"]``)."""
    conversion, contact = framing.get("conversion") or {}, framing.get("contact") or {}
    values = {
        "segment_by": framing.get("segment_by"), "unit": framing.get("unit"),
        "conversion_stage": conversion.get("stage"), "conversion_window_days": conversion.get("window_days"),
        "contact_outcomes": contact.get("outcomes"), "ttf_sla_hours": framing.get("ttf_sla_hours"),
    }
    return {k: v for k, v in values.items() if k in FRAMING_OPTIONS and v not in (None, [])}


def record_audit(s: Session, payload: dict[str, Any], *, cycle_id: int | None = None, user_id: int | None = None) -> CycleResult:
    """Attach an audit run (``AuditResult.to_dict()``) to its cycle: ``cycle_id``, else the cycle
    of the same period, else a new cycle whose framing note is the run's framing."""
    framing = payload.get("framing") or {}
    period = framing.get("period") or {}
    if cycle_id is None:
        start, end = as_date(period.get("start"), "period.start"), as_date(period.get("end"), "period.end")
        if start is None or end is None:
            raise OptionError(_("The audit result has no period; it cannot be attached to a cycle."))
        found = s.scalars(sa.select(Cycle).where(Cycle.period_start == start, Cycle.period_end == end).order_by(Cycle.id.desc())).first()
        if found is None:
            found = create_cycle(
                s, _("Audit {period}", period=period.get("label") or start), period_start=start, period_end=end,
                framing=_framing_options(framing), raci={k: v for k, v in (framing.get("raci") or {}).items() if v},
            )
        cycle_id = found.id
    return attach_result(s, cycle_id, payload, kind="audit", user_id=user_id)


def list_results(s: Session, cycle_id: int) -> list[CycleResult]:
    get_cycle(s, cycle_id)
    return list(s.scalars(sa.select(CycleResult).where(CycleResult.cycle_id == cycle_id).order_by(CycleResult.id)))


def add_decision(
    s: Session, cycle_id: int, text: str, *, segment: str | None = None, thresholds: dict[str, Any] | None = None,
    colour: str | None = None, decided_by: str = "",
) -> Decision:
    """Record a decision of step 6 (thresholds, exceptions, traffic light) on the cycle."""
    get_cycle(s, cycle_id)
    if colour is not None and colour not in ("green", "amber", "red"):
        raise OptionError(_("colour: '{value}' is not one of green, amber, red.", value=colour))
    row = Decision(cycle_id=cycle_id, text=require_text(text, "text"), segment=segment, thresholds=dict(thresholds or {}), colour=colour, decided_by=decided_by)
    s.add(row)
    s.flush()
    return row


def reminders(s: Session, today: date | None = None, within_days: int = 3) -> list[dict[str, Any]]:
    """Steps of active cycles that are overdue or due within ``within_days``, soonest first."""
    today = today or utcnow().date()
    rows = s.execute(
        sa.select(CycleStep, Cycle.name)
        .join(Cycle, Cycle.id == CycleStep.cycle_id)
        .where(Cycle.status == "active", CycleStep.done_at.is_(None), CycleStep.due_date <= today + timedelta(days=within_days))
        .order_by(CycleStep.due_date, CycleStep.cycle_id, CycleStep.number)
    )
    return [
        {"cycle_id": st.cycle_id, "cycle": name, "step": st.number, "key": st.key, "due_date": st.due_date.isoformat(),
         "overdue": st.due_date < today, "days_left": (st.due_date - today).days}
        for st, name in rows
    ]


def replay(s: Session, cycle_id: int, *, start_date: date | str | None = None) -> Cycle:
    """The monthly replay: a new cycle with the same framing on the next month's period."""
    old = get_cycle(s, cycle_id)
    start, end = add_months(old.period_start, 1), add_months(old.period_end, 1)
    name = f"{old.name} → {start.isoformat()[:7]}"
    return create_cycle(
        s, name, period_start=start, period_end=end, start_date=start_date or end, segment=old.segment,
        framing=dict(old.framing or {}), raci=dict(old.raci or {}), replay_of_id=old.id,
    )
