"""Retrospectives from templates: one objective, observations, votes and groups, 5 whys, reverse SWOT.

Every retro opens with the review of the previous retro's actions: a retro created after a
retro that had actions starts in status ``review``; observations, actions and the rest are
refused until :func:`review_previous_actions` has recorded the review (verifying from the facts
each action whose window has ended).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import ConflictError, OptionError, RuleError
from levier.i18n import gettext as _
from levier.loop.models import (
    ERROR_CATEGORIES,
    OBSERVATION_SOURCES,
    RETRO_TEMPLATES,
    SWOT_QUADRANTS,
    Action,
    ActionReview,
    CycleResult,
    Experiment,
    Learning,
    Observation,
    Retro,
    SwotItem,
    Vote,
    WhyChain,
    utcnow,
)
from levier.loop.services import actions as action_svc
from levier.loop.services._common import as_date, check_choice, get, require_text

__all__ = [
    "TEMPLATES", "create_retro", "get_retro", "list_retros", "previous_actions", "review_previous_actions",
    "add_observation", "observe_figure", "vote", "group", "add_why_chain", "add_swot", "set_error_category",
    "close_retro", "retro_detail", "figure_at",
]

#: What each template asks for (shown by the CLI / web to frame the session).
TEMPLATES: dict[str, dict[str, Any]] = {
    "monthly_audit_review": {"cadence": "monthly", "prompts": ["previous actions", "audit figures", "thresholds", "A/B protocol"]},
    "weekly_micro_retro": {"cadence": "weekly", "prompts": ["one friction", "one action"]},
    "campaign_post_mortem": {"cadence": "per campaign", "prompts": ["warning signals", "5 whys", "reverse SWOT", "error category"]},
    "cross_team_retro": {"cadence": "quarterly", "prompts": ["marketing", "sales", "support", "the whole customer journey"]},
}
QUALITATIVE_SOURCES = ("interview", "field", "call", "other")
QUANTITATIVE_SOURCES = ("audit", "funnel", "experiment", "kpi")


def get_retro(s: Session, retro_id: int) -> Retro:
    return get(s, Retro, retro_id, _("retro"))


def _require_open(s: Session, retro_id: int) -> Retro:
    retro = action_svc.require_retro_open(s, retro_id)
    assert retro is not None
    return retro


def create_retro(
    s: Session, template: str, title: str, objective: str, *, period_start: date | str | None = None,
    period_end: date | str | None = None, participants: list[str] | None = None, cycle_id: int | None = None,
    held_at: datetime | None = None, created_by_id: int | None = None,
) -> Retro:
    """A new retro; it links to the previous one and starts in ``review`` when that one had actions."""
    check_choice(template, RETRO_TEMPLATES, "template")
    held = held_at or utcnow()
    previous = s.scalar(sa.select(Retro).where(Retro.held_at <= held).order_by(Retro.held_at.desc(), Retro.id.desc()).limit(1))
    has_actions = previous is not None and s.scalar(sa.select(sa.func.count(Action.id)).where(Action.retro_id == previous.id))
    retro = Retro(
        template=template, title=require_text(title, "title"), objective=require_text(objective, "objective"),
        period_start=as_date(period_start, "period_start"), period_end=as_date(period_end, "period_end"),
        participants=list(participants or []), cycle_id=cycle_id, previous_id=previous.id if previous else None,
        status="review" if has_actions else "open", held_at=held, created_by_id=created_by_id,
    )
    s.add(retro)
    s.flush()
    return retro


def list_retros(s: Session, *, template: str | None = None) -> list[Retro]:
    stmt = sa.select(Retro).order_by(Retro.held_at.desc(), Retro.id.desc())
    if template:
        stmt = stmt.where(Retro.template == check_choice(template, RETRO_TEMPLATES, "template"))
    return list(s.scalars(stmt))


def previous_actions(s: Session, retro_id: int, today: date | None = None) -> list[dict[str, Any]]:
    """The previous retro's actions with status, overdue flag, verification and review comment."""
    retro = get_retro(s, retro_id)
    if retro.previous_id is None:
        return []
    reviews = {r.action_id: r for r in s.scalars(sa.select(ActionReview).where(ActionReview.retro_id == retro_id))}
    rows = s.scalars(sa.select(Action).where(Action.retro_id == retro.previous_id).order_by(Action.id))
    return [
        {**action_svc.action_dict(s, a, today), "review": reviews[a.id].to_dict() if a.id in reviews else None} for a in rows
    ]


def review_previous_actions(
    s: Session, retro_id: int, ws: Any = None, *, today: date | None = None, comments: dict[int, str] | None = None
) -> list[ActionReview]:
    """Open the retro: verify the previous actions whose window ended (when ``ws`` is given) and record the review."""
    retro = get_retro(s, retro_id)
    if retro.status == "closed":
        raise RuleError(_("Retro {id} is closed.", id=retro_id))
    today = today or utcnow().date()
    comments = comments or {}
    out = []
    for action in list(s.scalars(sa.select(Action).where(Action.retro_id == retro.previous_id).order_by(Action.id))) if retro.previous_id else []:
        if ws is not None and action.verification is None and action.window_end < today and action.status != "cancelled":
            action_svc.verify_action(s, ws, action.id, today=today)
        review = s.scalar(sa.select(ActionReview).where(ActionReview.retro_id == retro_id, ActionReview.action_id == action.id))
        review = review or ActionReview(retro_id=retro_id, action_id=action.id)
        review.status, review.verification, review.measured_value = action.status, action.verification, action.measured_value
        review.comment = comments.get(action.id, review.comment or "")
        review.reviewed_at = utcnow()
        s.add(review)
        out.append(review)
    retro.status, retro.reviewed_at = "open", utcnow()
    s.flush()
    return out


def add_observation(
    s: Session, retro_id: int, text: str, *, kind: str = "qualitative", source: str = "field", figure_key: str | None = None,
    figure_value: float | None = None, figure_ref: str | None = None, author_id: int | None = None, anonymous: bool = False,
    group_label: str | None = None,
) -> Observation:
    """A quantitative observation (a figure with its key and value) or a qualitative one (a source)."""
    _require_open(s, retro_id)
    check_choice(kind, ("quantitative", "qualitative"), "kind")
    check_choice(source, OBSERVATION_SOURCES, "source")
    if kind == "quantitative" and (not figure_key or figure_value is None):
        raise OptionError(_("A quantitative observation needs the figure's key and value."), hint=_("Create it from an audit, funnel or experiment figure."))
    if kind == "qualitative" and source not in QUALITATIVE_SOURCES:
        raise OptionError(_("source: a qualitative observation comes from {sources}.", sources=", ".join(QUALITATIVE_SOURCES)))
    row = Observation(
        retro_id=retro_id, kind=kind, text=require_text(text, "text"), source=source, figure_key=figure_key,
        figure_value=None if figure_value is None else float(figure_value), figure_ref=figure_ref,
        author_id=None if anonymous else author_id, anonymous=anonymous, group_label=group_label,
    )
    s.add(row)
    s.flush()
    return row


def figure_at(payload: Any, key: str) -> float:
    """The number at dotted path ``key`` of a result dict (``overall.ttf.median_hours``, ``segments.0.n``)."""
    node = payload
    for part in key.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise OptionError(_("figure: '{key}' is not in the result (stopped at '{part}').", key=key, part=part))
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise OptionError(_("figure: '{key}' is not a number.", key=key))
    return float(node)


def observe_figure(
    s: Session, retro_id: int, *, figure_key: str, cycle_result_id: int | None = None, experiment_id: int | None = None,
    text: str | None = None, author_id: int | None = None, anonymous: bool = False,
) -> Observation:
    """One click: a quantitative observation from an attached audit / funnel result or an experiment result."""
    if (cycle_result_id is None) == (experiment_id is None):
        raise OptionError(_("Give exactly one of cycle_result_id or experiment_id."))
    if cycle_result_id is not None:
        res = get(s, CycleResult, cycle_result_id, _("cycle result"))
        payload, ref, source = res.payload, f"cycle_result:{res.id}", res.kind if res.kind in ("audit", "funnel") else "audit"
    else:
        exp = get(s, Experiment, experiment_id, _("experiment"))  # type: ignore[arg-type]
        payload, ref, source = exp.result or {}, f"experiment:{exp.key}", "experiment"
    value = figure_at(payload, figure_key)
    return add_observation(
        s, retro_id, text or f"{figure_key} = {value:g}", kind="quantitative", source=source, figure_key=figure_key,
        figure_value=value, figure_ref=ref, author_id=author_id, anonymous=anonymous,
    )


def vote(s: Session, observation_id: int, voter: str) -> Vote:
    """One vote per voter and observation (voter: a user name or an anonymous token)."""
    obs = get(s, Observation, observation_id, _("observation"))
    _require_open(s, obs.retro_id)
    voter = require_text(voter, "voter")
    if s.scalar(sa.select(Vote.id).where(Vote.observation_id == observation_id, Vote.voter == voter)) is not None:
        raise ConflictError(_("'{voter}' already voted for observation {id}.", voter=voter, id=observation_id))
    row = Vote(observation_id=observation_id, voter=voter)
    s.add(row)
    s.flush()
    return row


def group(s: Session, observation_ids: list[int], label: str) -> list[Observation]:
    """Put observations of one retro under a group label."""
    rows = [get(s, Observation, i, _("observation")) for i in observation_ids]
    if len({r.retro_id for r in rows}) > 1:
        raise OptionError(_("Observations of different retros cannot be grouped."))
    for row in rows:
        _require_open(s, row.retro_id)
        row.group_label = require_text(label, "label")
    s.flush()
    return rows


def add_why_chain(s: Session, retro_id: int, problem: str, whys: list[str], root_cause: str | None = None) -> WhyChain:
    """A 5-whys chain (1 to 7 answers); the root cause defaults to the last answer."""
    _require_open(s, retro_id)
    whys = [w.strip() for w in whys if w and w.strip()]
    if not 1 <= len(whys) <= 7:
        raise OptionError(_("whys: give between 1 and 7 answers (5 is the method)."))
    row = WhyChain(retro_id=retro_id, problem=require_text(problem, "problem"), whys=whys, root_cause=(root_cause or whys[-1]).strip())
    s.add(row)
    s.flush()
    return row


def add_swot(s: Session, retro_id: int, quadrant: str, text: str) -> SwotItem:
    """A reverse-SWOT item (strength not used, weakness that caused it, opportunity missed, threat)."""
    _require_open(s, retro_id)
    row = SwotItem(retro_id=retro_id, quadrant=str(check_choice(quadrant, SWOT_QUADRANTS, "quadrant")), text=require_text(text, "text"))
    s.add(row)
    s.flush()
    return row


def set_error_category(s: Session, retro_id: int, category: str | None) -> Retro:
    retro = _require_open(s, retro_id)
    retro.error_category = check_choice(category, ERROR_CATEGORIES, "error_category", optional=True)
    s.flush()
    return retro


def close_retro(s: Session, retro_id: int) -> Retro:
    """Close a retro; it must have produced at least one action (with its KPI) or one learning."""
    retro = _require_open(s, retro_id)
    n_actions = s.scalar(sa.select(sa.func.count(Action.id)).where(Action.retro_id == retro_id)) or 0
    n_learnings = s.scalar(sa.select(sa.func.count(Learning.id)).where(Learning.retro_id == retro_id)) or 0
    if not n_actions and not n_learnings:
        raise RuleError(
            _("Retro {id} has produced no measurable learning: add an action with a target KPI or a learning first.", id=retro_id)
        )
    retro.status = "closed"
    s.flush()
    return retro


def retro_detail(s: Session, retro_id: int, today: date | None = None) -> dict[str, Any]:
    """Everything of a retro, the review of the previous actions first; anonymous authors hidden."""
    retro = get_retro(s, retro_id)
    votes = dict(s.execute(
        sa.select(Vote.observation_id, sa.func.count(Vote.id)).join(Observation, Observation.id == Vote.observation_id)
        .where(Observation.retro_id == retro_id).group_by(Vote.observation_id)
    ).all())
    observations = [
        {**o.to_dict(), "votes": int(votes.get(o.id, 0))}
        for o in s.scalars(sa.select(Observation).where(Observation.retro_id == retro_id).order_by(Observation.id))
    ]
    def rows(model: Any) -> list[dict[str, Any]]:
        return [r.to_dict() for r in s.scalars(sa.select(model).where(model.retro_id == retro_id).order_by(model.id))]
    return {
        "retro": {**retro.to_dict(), "template_info": TEMPLATES[retro.template]},
        "previous_actions": previous_actions(s, retro_id, today),
        "observations": observations,
        "why_chains": rows(WhyChain),
        "swot": rows(SwotItem),
        "actions": [action_svc.action_dict(s, a, today) for a in s.scalars(sa.select(Action).where(Action.retro_id == retro_id).order_by(Action.id))],
        "learnings": rows(Learning),
    }
