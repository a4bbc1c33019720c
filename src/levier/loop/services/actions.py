"""Actions: exactly one owner, a due date, a target KPI; overdue flags; verification from the facts.

Verification happens once the measurement window has ended: the KPI is computed from the
workspace facts over the window (``[window_start, window_end + 1 day)``) and the action is
marked ``met`` (the value reached the target in the intended direction), ``missed``, or
``not_measurable`` (no data in the window, unknown KPI), with the figure kept.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import OptionError, RuleError
from levier.i18n import gettext as _
from levier.loop.models import ACTION_STATUSES, Action, Retro, User, utcnow
from levier.loop.services import kpi as kpis
from levier.loop.services import webhooks
from levier.loop.services._common import as_date, check_choice, clean_fields, get, require_text
from levier.loop.services.users import find_user

__all__ = [
    "create_action", "update_action", "set_status", "get_action", "list_actions", "is_overdue", "action_dict",
    "verify_action", "verify_due", "judge", "scan_due",
]

_MANY = re.compile(r"[,;&/+]|\band\b|\bet\b", re.I)
EDITABLE = {"title", "owner", "due_date", "kpi_key", "segment", "baseline", "target", "window_start", "window_end", "status", "hypothesis_id"}


def _owner(s: Session, owner: Any) -> User:
    """Resolve exactly one owner (id, user name or e-mail); lists and "a, b" are refused."""
    if isinstance(owner, (list, tuple, set)):
        if len(owner) != 1:
            raise RuleError(_("An action has exactly one owner; {n} were given.", n=len(owner)), hint=_("Split the action, one per owner."))
        owner = next(iter(owner))
    if owner is None or (isinstance(owner, str) and not owner.strip()):
        raise RuleError(_("An action has exactly one owner; none was given."), hint=_("Pass --owner USER."))
    user = find_user(s, owner)
    if user is None and isinstance(owner, str) and _MANY.search(owner):
        raise RuleError(_("An action has exactly one owner; '{owner}' names several.", owner=owner), hint=_("Split the action, one per owner."))
    if user is None:
        raise OptionError(_("owner: no user '{owner}'.", owner=owner), hint=_("Create it with `levier user create NAME` (no password needed)."))
    return user


def _check_window(start: date, end: date) -> None:
    if end < start:
        raise OptionError(_("window_end ({end}) is before window_start ({start}).", end=end, start=start))


def require_retro_open(s: Session, retro_id: int | None) -> Retro | None:
    """The retro ``retro_id`` if it accepts new items; a RuleError while it awaits its review or is closed."""
    if retro_id is None:
        return None
    retro = get(s, Retro, retro_id, _("retro"))
    if retro.status == "review":
        raise RuleError(
            _("Retro {id} opens with the review of the previous retro's actions.", id=retro_id),
            hint=_("Run the review first (`levier retro review {id}`).", id=retro_id),
        )
    if retro.status == "closed":
        raise RuleError(_("Retro {id} is closed.", id=retro_id))
    return retro


def action_dict(s: Session, action: Action, today: date | None = None) -> dict[str, Any]:
    """The action as JSON-safe data with its owner's name and overdue flag."""
    owner = s.get(User, action.owner_id)
    return {
        **action.to_dict(), "owner": owner.username if owner else None,
        "overdue": is_overdue(action, today), "direction": _direction(action),
    }


def create_action(
    s: Session, title: str, *, owner: Any, due_date: date | str, kpi_key: str, target: float,
    window_start: date | str | None = None, window_end: date | str | None = None, baseline: float | None = None,
    segment: dict[str, Any] | None = None, retro_id: int | None = None, hypothesis_id: int | None = None,
) -> Action:
    """A new action. The measurement window defaults to 30 days ending on the due date."""
    user = _owner(s, owner)
    due = as_date(due_date, "due_date")
    assert due is not None
    end = as_date(window_end, "window_end") or due
    start = as_date(window_start, "window_start") or end - timedelta(days=29)
    _check_window(start, end)
    require_retro_open(s, retro_id)
    if target is None:
        raise OptionError(_("target: give the KPI value the action aims for."))
    action = Action(
        title=require_text(title, "title"), owner_id=user.id, due_date=due, kpi_key=kpis.check_kpi(kpi_key),
        target=float(target), baseline=None if baseline is None else float(baseline), window_start=start, window_end=end,
        segment=dict(segment) if segment else None, retro_id=retro_id, hypothesis_id=hypothesis_id, status="open",
    )
    s.add(action)
    s.flush()
    webhooks.emit(s, "action.created", action_dict(s, action))
    return action


def get_action(s: Session, action_id: int) -> Action:
    return get(s, Action, action_id, _("action"))


def update_action(s: Session, action_id: int, **fields: Any) -> Action:
    """Change fields of an action (the owner stays exactly one person)."""
    clean_fields(fields, EDITABLE)
    action = get_action(s, action_id)
    if "status" in fields:
        set_status(s, action_id, fields.pop("status"))
    if "owner" in fields:
        action.owner_id = _owner(s, fields.pop("owner")).id
    if "kpi_key" in fields:
        kpis.check_kpi(fields["kpi_key"])
    for key in ("due_date", "window_start", "window_end"):
        if key in fields:
            fields[key] = as_date(fields[key], key)
    for key, value in fields.items():
        setattr(action, key, value)
    _check_window(action.window_start, action.window_end)
    s.flush()
    return action


def set_status(s: Session, action_id: int, status: str, *, at: datetime | None = None) -> Action:
    action = get_action(s, action_id)
    check_choice(status, ACTION_STATUSES, "status")
    action.status = status
    action.done_at = (at or utcnow()) if status == "done" else None
    s.flush()
    return action


def is_overdue(action: Action, today: date | None = None) -> bool:
    """Not done nor cancelled, and the due date has passed."""
    return action.status not in ("done", "cancelled") and action.due_date < (today or utcnow().date())


def list_actions(
    s: Session, *, status: str | None = None, owner: Any = None, retro_id: int | None = None,
    overdue: bool | None = None, today: date | None = None,
) -> list[Action]:
    stmt = sa.select(Action).order_by(Action.due_date, Action.id)
    if status:
        stmt = stmt.where(Action.status == check_choice(status, ACTION_STATUSES, "status"))
    if owner is not None:
        stmt = stmt.where(Action.owner_id == _owner(s, owner).id)
    if retro_id is not None:
        stmt = stmt.where(Action.retro_id == retro_id)
    rows = list(s.scalars(stmt))
    if overdue is not None:
        rows = [a for a in rows if is_overdue(a, today) == overdue]
    return rows


def _direction(action: Action) -> str:
    if action.baseline is not None and action.target < action.baseline:
        return "decrease"
    return "increase"


def judge(value: float | None, target: float, direction: str) -> str:
    """``met`` / ``missed`` / ``not_measurable`` for a measured value against a target."""
    if value is None:
        return "not_measurable"
    reached = value <= target if direction == "decrease" else value >= target
    return "met" if reached else "missed"


def verify_action(s: Session, ws: Any, action_id: int, *, today: date | None = None, force: bool = False) -> Action:
    """Measure the action's KPI over its window from the facts and record the verdict."""
    action = get_action(s, action_id)
    today = today or utcnow().date()
    if action.window_end >= today and not force:
        raise RuleError(
            _("The measurement window of action {id} ends on {end}; it can be verified from {day}.", id=action.id, end=action.window_end, day=action.window_end + timedelta(days=1))
        )
    start = datetime.combine(action.window_start, time.min)
    end = datetime.combine(action.window_end + timedelta(days=1), time.min)
    try:
        m = kpis.measure(ws, action.kpi_key, start, end, action.segment)
    except OptionError:
        raise
    except Exception as exc:  # facts engine failures make the KPI unmeasurable, not the request
        m = kpis.Measurement(action.kpi_key, None, "catalogue", {"error": f"{type(exc).__name__}: {exc}"})
    action.verification = judge(m.value, action.target, _direction(action))
    action.measured_value = m.value
    action.verified_at = utcnow()
    action.verification_detail = {
        **m.to_dict(), "window": [start.isoformat(), end.isoformat()], "target": action.target,
        "baseline": action.baseline, "direction": _direction(action),
    }
    s.flush()
    return action


def verify_due(s: Session, ws: Any, *, today: date | None = None) -> list[Action]:
    """Verify every not-yet-verified action whose window has ended (cancelled ones excepted)."""
    today = today or utcnow().date()
    rows = s.scalars(
        sa.select(Action).where(Action.verification.is_(None), Action.window_end < today, Action.status != "cancelled").order_by(Action.id)
    )
    return [verify_action(s, ws, a.id, today=today) for a in list(rows)]


def scan_due(s: Session, *, today: date | None = None, soon_days: int = 3) -> dict[str, list[int]]:
    """Emit ``action.due_soon`` / ``action.overdue`` once per action; returns the action ids."""
    today = today or utcnow().date()
    out: dict[str, list[int]] = {"due_soon": [], "overdue": []}
    rows = s.scalars(sa.select(Action).where(Action.status.in_(("open", "in_progress"))).order_by(Action.id))
    for action in list(rows):
        if action.due_date < today and action.overdue_notified_at is None:
            action.overdue_notified_at = utcnow()
            webhooks.emit(s, "action.overdue", action_dict(s, action, today))
            out["overdue"].append(action.id)
        elif today <= action.due_date <= today + timedelta(days=soon_days) and action.due_soon_notified_at is None:
            action.due_soon_notified_at = utcnow()
            webhooks.emit(s, "action.due_soon", action_dict(s, action, today))
            out["due_soon"].append(action.id)
    s.flush()
    return out
