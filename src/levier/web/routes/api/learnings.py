"""Learnings and the failure board."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.loop.services import learnings
from levier.web.deps import Db, Editor, Viewer
from levier.web.schemas import LearningIn, LearningPatch

router = APIRouter(tags=["learnings"])


@router.get("/learnings")
def list_learnings(
    _user: Viewer, s: Db, outcome: str | None = None, channel: str | None = None, segment: str | None = None,
    quarter: str | None = None, kpi_key: str | None = None, retro_id: int | None = None,
) -> list[dict[str, Any]]:
    rows = learnings.list_learnings(s, outcome=outcome, channel=channel, segment=segment, quarter=quarter, kpi_key=kpi_key, retro_id=retro_id)
    return [r.to_dict() for r in rows]


@router.post("/learnings", status_code=201)
def create_learning(body: LearningIn, _user: Editor, s: Db) -> dict[str, Any]:
    return learnings.create_learning(s, **body.model_dump(exclude_none=True)).to_dict()


@router.get("/learnings/{learning_id}")
def get_learning(learning_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    return learnings.get_learning(s, learning_id).to_dict()


@router.patch("/learnings/{learning_id}")
def update_learning(learning_id: int, body: LearningPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return learnings.update_learning(s, learning_id, **body.model_dump(exclude_unset=True)).to_dict()


@router.get("/failure-board")
def failure_board(_user: Viewer, s: Db, channel: str | None = None, quarter: str | None = None) -> list[dict[str, Any]]:
    """Failures with causes, lessons, error categories and 5-whys root causes."""
    return learnings.failure_board(s, channel=channel, quarter=quarter)
