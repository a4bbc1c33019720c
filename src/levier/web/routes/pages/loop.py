"""Cycles (audit dashboard and charts), retro board, action board (kanban)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.loop.models import (
    ACTION_STATUSES,
    OBSERVATION_SOURCES,
    RETRO_TEMPLATES,
    SWOT_QUADRANTS,
    Retro,
)
from levier.loop.services import actions, cycles, retros, users
from levier.loop.services.kpi import known_kpis
from levier.report.fmt import Formatter
from levier.web.deps import Ws
from levier.web.pages_core import (
    PageDb,
    PageEditor,
    PageRoute,
    PageViewer,
    cached,
    form_data,
    redirect,
    render,
    render_fragment,
    request_lang,
)
from levier.web.pages_data import audit_charts, audit_payload, figure_options, latest_audit

__all__ = ["router", "board_columns", "board_body"]

router = APIRouter(route_class=PageRoute)


def _num(value: str | None, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(str(value).replace(",", ".").replace("%", "").strip())
    except ValueError:
        raise OptionError(_("{field}: '{value}' is not a number.", field=field, value=value)) from None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# -- cycles ------------------------------------------------------------------------------
@router.get("/cycles")
def cycle_list(request: Request, _user: PageViewer, s: PageDb) -> Response:
    return render(request, "cycles.html", cycles=cycles.list_cycles(s), reminders=cycles.reminders(s))


@router.get("/cycles/{cycle_id}")
def cycle_page(request: Request, cycle_id: int, _user: PageViewer, s: PageDb, ws: Ws) -> Response:
    detail = cycles.cycle_detail(s, cycle_id)
    cycle, result = latest_audit(s, cycle_id)
    doc, charts = (None, {})
    if result is not None:
        doc, charts = audit_charts(ws, result, audit_payload(ws, result), request_lang(request))
    linked = [r for r in retros.list_retros(s) if r.cycle_id == cycle_id]
    return render(request, "cycle.html", cycle=detail, result=result, doc=doc, charts=charts, retros=linked)


@router.post("/cycles/{cycle_id}/retro")
def cycle_retro(request: Request, cycle_id: int, user: PageEditor, s: PageDb) -> Response:
    """Start the monthly audit review of this cycle."""
    cycle = cycles.get_cycle(s, cycle_id)
    retro = retros.create_retro(
        s, "monthly_audit_review", _("Audit review: {name}", name=cycle.name), _("Decide the thresholds and actions of {name}", name=cycle.name),
        period_start=cycle.period_start, period_end=cycle.period_end, cycle_id=cycle.id, created_by_id=user.id,
    )
    return redirect(f"/retros/{retro.id}", _("Retro created."))


@router.post("/cycles/{cycle_id}/steps/{step}")
def cycle_step(request: Request, cycle_id: int, step: str, _user: PageEditor, s: PageDb) -> Response:
    cycles.complete_step(s, cycle_id, step)
    return redirect(f"/cycles/{cycle_id}", _("Step done."))


# -- retros ------------------------------------------------------------------------------
@router.get("/retros")
def retro_list(request: Request, _user: PageViewer, s: PageDb) -> Response:
    return render(request, "retros.html", retros=retros.list_retros(s), templates=RETRO_TEMPLATES, cycles=cycles.list_cycles(s))


@router.post("/retros")
async def retro_create(request: Request, user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    retro = retros.create_retro(
        s, form.get("template", ""), form.get("title", ""), form.get("objective", ""), cycle_id=_int(form.get("cycle_id")),
        created_by_id=user.id,
    )
    return redirect(f"/retros/{retro.id}", _("Retro created."))


@router.get("/retros/{retro_id}")
def retro_board(request: Request, retro_id: int, _user: PageViewer, s: PageDb, ws: Ws) -> Response:
    detail = retros.retro_detail(s, retro_id)
    cycle_id = detail["retro"].get("cycle_id")
    _cycle, result = latest_audit(s, cycle_id) if cycle_id else latest_audit(s)
    figures = figure_options(audit_payload(ws, result), Formatter(request_lang(request))) if result else []
    return render(
        request, "retro.html", d=detail, result=result, figures=figures, sources=[x for x in OBSERVATION_SOURCES if x in retros.QUALITATIVE_SOURCES],
        quadrants=SWOT_QUADRANTS, kpis=known_kpis(request_lang(request)), people=users.list_users(s), today=date.today(),
    )


@router.post("/retros/{retro_id}/review")
def retro_review(retro_id: int, _user: PageEditor, s: PageDb, ws: Ws) -> Response:
    retros.review_previous_actions(s, retro_id, ws)
    return redirect(f"/retros/{retro_id}", _("Previous actions reviewed."))


@router.post("/retros/{retro_id}/observations")
async def retro_observation(request: Request, retro_id: int, user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    if form.get("figure_key"):
        retros.observe_figure(s, retro_id, figure_key=form["figure_key"], cycle_result_id=_int(form.get("cycle_result_id")),
                              text=form.get("text") or None, author_id=user.id)
    else:
        retros.add_observation(s, retro_id, form.get("text", ""), source=form.get("source") or "field", author_id=user.id,
                               anonymous=form.get("anonymous") == "on")
    return redirect(f"/retros/{retro_id}#observations", _("Observation added."))


@router.post("/observations/{observation_id}/vote")
async def observation_vote(request: Request, observation_id: int, user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    row = retros.vote(s, observation_id, user.username)
    retro_id = _int(form.get("retro_id"))
    del row
    return redirect(f"/retros/{retro_id}#observations" if retro_id else "/retros", _("Vote recorded."))


@router.post("/retros/{retro_id}/whys")
async def retro_whys(request: Request, retro_id: int, _user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    whys = [form.get(f"why{i}", "") for i in range(1, 6)]
    retros.add_why_chain(s, retro_id, form.get("problem", ""), whys, form.get("root_cause") or None)
    return redirect(f"/retros/{retro_id}#whys", _("5 whys added."))


@router.post("/retros/{retro_id}/swot")
async def retro_swot(request: Request, retro_id: int, _user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    retros.add_swot(s, retro_id, form.get("quadrant", ""), form.get("text", ""))
    return redirect(f"/retros/{retro_id}#swot", _("Item added."))


@router.post("/retros/{retro_id}/close")
def retro_close(retro_id: int, _user: PageEditor, s: PageDb) -> Response:
    retros.close_retro(s, retro_id)
    return redirect(f"/retros/{retro_id}", _("Retro closed."))


# -- actions -----------------------------------------------------------------------------
def board_columns(s: Any, status: str | None, owner: str | None, overdue: bool | None) -> dict[str, list[dict[str, Any]]]:
    """The actions by status column (owners are looked up in the session: load the users first)."""
    rows = actions.list_actions(s, status=status or None, owner=owner or None, overdue=overdue)
    cols: dict[str, list[dict[str, Any]]] = {st: [] for st in ACTION_STATUSES}
    for a in rows:
        cols[a.status].append(actions.action_dict(s, a))
    return cols


def _open_retros(s: Any) -> list[dict[str, Any]]:
    stmt = sa.select(Retro.id, Retro.title).where(Retro.status == "open").order_by(Retro.held_at.desc(), Retro.id.desc())
    return [{"id": r.id, "title": r.title} for r in s.execute(stmt)]


def board_body(s: Any, lang: str, can_edit: bool, status: str | None, owner: str | None, overdue: str | None, *, partial: bool = False) -> Any:
    """The action board as HTML (the whole page body, or the ``#board`` part for HTMX).

    Four small queries (users, actions, open retros; the session was the fifth) and the
    rendered HTML cached under a digest of exactly what they returned: any write through any
    worker changes the rows, hence the key, at once.
    """
    loaded = users.list_users(s)  # kept referenced: the session then finds each action's owner without a query
    people = [{"username": u.username, "name": u.name} for u in loaded]
    cols = board_columns(s, status, owner, True if overdue == "1" else None)
    del loaded
    today = date.today()
    retro_rows = _open_retros(s) if can_edit and not partial else []
    kpis = known_kpis(lang)
    filters = {"status": status or "", "owner": owner or "", "overdue": overdue or ""}
    digest = hashlib.blake2b(repr((cols, people, retro_rows, sorted(kpis.items()))).encode(), digest_size=16).hexdigest()
    key = ("board", lang, can_edit, partial, tuple(filters.values()), today, digest)

    def build() -> Any:
        return render_fragment("_board.html" if partial else "_actions_body.html", lang, cols=cols, statuses=ACTION_STATUSES,
                               filters=filters, people=people, kpis=kpis, retros=retro_rows, today=today,
                               default_due=today + timedelta(days=30), can_edit=can_edit)

    return cached(key, build, facts=False)


@router.get("/actions")
def action_board(request: Request, user: PageViewer, s: PageDb, status: str | None = None, owner: str | None = None, overdue: str | None = None) -> Response:
    can_edit = users.role_allows(user.role, "editor")
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "board":
        return render(request, "_fragment.html", body=board_body(s, request_lang(request), can_edit, status, owner, overdue, partial=True))
    return render(request, "actions.html", body=board_body(s, request_lang(request), can_edit, status, owner, overdue))


@router.post("/actions")
async def action_create(request: Request, _user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    target = _num(form.get("target"), "target")
    if target is None:
        raise OptionError(_("target: give the KPI value the action aims for."))
    action = actions.create_action(
        s, form.get("title", ""), owner=form.get("owner", ""), due_date=form.get("due_date") or "", kpi_key=form.get("kpi_key", ""),
        target=target, baseline=_num(form.get("baseline"), "baseline"), window_start=form.get("window_start") or None,
        window_end=form.get("window_end") or None, retro_id=_int(form.get("retro_id")),
    )
    back = form.get("back") or "/actions"
    return redirect(back if back.startswith("/") else "/actions", _("Action #{id} added.", id=action.id))


@router.post("/actions/{action_id}/status")
async def action_status(request: Request, action_id: int, _user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    actions.set_status(s, action_id, form.get("status", ""))
    return redirect("/actions", _("Action #{id} moved.", id=action_id))


@router.post("/actions/{action_id}/verify")
def action_verify(action_id: int, _user: PageEditor, s: PageDb, ws: Ws) -> Response:
    a = actions.verify_action(s, ws, action_id)
    return redirect("/actions", _("Action #{id} verified: {verdict}.", id=action_id, verdict=_(a.verification or "not_measurable")))
