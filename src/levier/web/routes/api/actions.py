"""Actions: one owner, due date, target KPI; verification from the facts; CSV / iCalendar exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from levier.loop.services import actions, audit_log, exports
from levier.web.deps import Db, Editor, Viewer, Ws
from levier.web.schemas import ActionIn, ActionPatch

router = APIRouter(prefix="/actions", tags=["actions"])


def _list(s: Any, status: str | None, owner: str | None, retro_id: int | None, overdue: bool | None) -> list[dict[str, Any]]:
    rows = actions.list_actions(s, status=status, owner=owner, retro_id=retro_id, overdue=overdue)
    return [actions.action_dict(s, a) for a in rows]


@router.get("")
def list_actions(
    _user: Viewer, s: Db, status: str | None = None, owner: str | None = None, retro_id: int | None = None, overdue: bool | None = None
) -> list[dict[str, Any]]:
    return _list(s, status, owner, retro_id, overdue)


@router.post("", status_code=201)
def create_action(body: ActionIn, _user: Editor, s: Db) -> dict[str, Any]:
    """A new action; exactly one owner; emits ``action.created``."""
    return actions.action_dict(s, actions.create_action(s, **body.model_dump()))


@router.get("/export.csv", response_class=Response)
def export_csv(user: Viewer, s: Db, status: str | None = None, owner: str | None = None, retro_id: int | None = None) -> Response:
    rows = _list(s, status, owner, retro_id, None)
    audit_log.record(s, user, "export", "actions.csv", {"rows": len(rows)})
    return Response(exports.actions_csv(rows), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="actions.csv"'})


@router.get("/export.ics", response_class=Response)
def export_ics(user: Viewer, s: Db, status: str | None = None, owner: str | None = None, retro_id: int | None = None) -> Response:
    rows = _list(s, status, owner, retro_id, None)
    audit_log.record(s, user, "export", "actions.ics", {"rows": len(rows)})
    return Response(exports.actions_ics(rows), media_type="text/calendar; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="actions.ics"'})


@router.get("/{action_id}")
def get_action(action_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    return actions.action_dict(s, actions.get_action(s, action_id))


@router.patch("/{action_id}")
def update_action(action_id: int, body: ActionPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return actions.action_dict(s, actions.update_action(s, action_id, **body.model_dump(exclude_unset=True)))


@router.post("/{action_id}/verify")
def verify(action_id: int, _user: Editor, s: Db, ws: Ws) -> dict[str, Any]:
    """Measure the KPI over the ended window and mark met / missed / not measurable."""
    return actions.action_dict(s, actions.verify_action(s, ws, action_id))
