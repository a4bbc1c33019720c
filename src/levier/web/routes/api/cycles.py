"""Audit cycles: framing, steps, results (audit runs), decisions, reminders, monthly replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.loop.models import CycleResult
from levier.loop.services import audit_log, cycles
from levier.loop.services._common import get
from levier.web.deps import Db, Editor, Viewer, Ws
from levier.web.schemas import AuditRun, CycleIn, DecisionIn, ReplayIn, ResultIn, StepDone

router = APIRouter(prefix="/cycles", tags=["cycles"])


@router.get("")
def list_cycles(_user: Viewer, s: Db) -> list[dict[str, Any]]:
    return [c.to_dict() for c in cycles.list_cycles(s)]


@router.post("", status_code=201)
def create_cycle(body: CycleIn, _user: Editor, s: Db) -> dict[str, Any]:
    c = cycles.create_cycle(s, **body.model_dump())
    return cycles.cycle_detail(s, c.id)


@router.get("/reminders")
def reminders(_user: Viewer, s: Db, within_days: int = 3) -> list[dict[str, Any]]:
    """Steps overdue or due within ``within_days`` across active cycles."""
    return cycles.reminders(s, within_days=within_days)


@router.get("/{cycle_id}")
def cycle_detail(cycle_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    return cycles.cycle_detail(s, cycle_id)


@router.post("/{cycle_id}/steps/{step}/done")
def complete_step(cycle_id: int, step: str, body: StepDone, _user: Editor, s: Db) -> dict[str, Any]:
    return cycles.complete_step(s, cycle_id, step, note=body.note).to_dict()


@router.post("/{cycle_id}/results", status_code=201)
def attach_result(cycle_id: int, body: ResultIn, user: Editor, s: Db) -> dict[str, Any]:
    """Attach an analysis result computed elsewhere (e.g. ``levier audit --json``)."""
    row = cycles.attach_result(s, cycle_id, body.payload, kind=body.kind, user_id=user.id)
    return {"id": row.id, "cycle_id": cycle_id, "kind": row.kind, "created_at": row.created_at.isoformat()}


@router.post("/{cycle_id}/audit", status_code=201)
def run_audit(cycle_id: int, body: AuditRun, user: Editor, s: Db, ws: Ws) -> dict[str, Any]:
    """Run the audit on the workspace facts for the cycle's period and attach the result."""
    row = cycles.run_audit(s, ws, cycle_id, body.options, user_id=user.id)
    audit_log.record(s, user, "run", f"cycle:{cycle_id}/audit", {"result_id": row.id})
    return row.to_dict()


@router.get("/{cycle_id}/results")
def list_results(cycle_id: int, _user: Viewer, s: Db) -> list[dict[str, Any]]:
    return [{"id": r.id, "kind": r.kind, "created_at": r.created_at.isoformat()} for r in cycles.list_results(s, cycle_id)]


@router.get("/{cycle_id}/results/{result_id}")
def get_result(cycle_id: int, result_id: int, user: Viewer, s: Db) -> dict[str, Any]:
    """The full result (journalled in the access log)."""
    row = get(s, CycleResult, result_id, "cycle result")
    if row.cycle_id != cycle_id:
        get(s, CycleResult, -1, "cycle result")
    audit_log.record(s, user, "view", f"cycle:{cycle_id}/result:{result_id}")
    return row.to_dict()


@router.post("/{cycle_id}/decisions", status_code=201)
def add_decision(cycle_id: int, body: DecisionIn, _user: Editor, s: Db) -> dict[str, Any]:
    return cycles.add_decision(s, cycle_id, **body.model_dump()).to_dict()


@router.post("/{cycle_id}/replay", status_code=201)
def replay(cycle_id: int, body: ReplayIn, _user: Editor, s: Db) -> dict[str, Any]:
    """The monthly replay: the same framing on next month's period."""
    return cycles.cycle_detail(s, cycles.replay(s, cycle_id, start_date=body.start_date).id)
