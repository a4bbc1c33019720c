"""Retros: opening review, observations, votes, groups, 5 whys, reverse SWOT, closing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.loop.services import retros, scorecard
from levier.web.deps import Db, Editor, Viewer, Ws
from levier.web.schemas import (
    FigureObservationIn,
    GroupIn,
    ObservationIn,
    RetroIn,
    RetroPatch,
    ReviewIn,
    SwotIn,
    VoteIn,
    WhysIn,
)

router = APIRouter(tags=["retros"])


@router.get("/retros")
def list_retros(_user: Viewer, s: Db, template: str | None = None) -> list[dict[str, Any]]:
    return [r.to_dict() for r in retros.list_retros(s, template=template)]


@router.get("/retros/templates")
def templates(_user: Viewer) -> dict[str, Any]:
    return retros.TEMPLATES


@router.post("/retros", status_code=201)
def create_retro(body: RetroIn, user: Editor, s: Db) -> dict[str, Any]:
    """A new retro; status ``review`` until the previous retro's actions are reviewed."""
    r = retros.create_retro(s, created_by_id=user.id, **body.model_dump())
    return retros.retro_detail(s, r.id)


@router.get("/retros/{retro_id}")
def retro_detail(retro_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    """The retro, opening with the review of the previous retro's actions."""
    return retros.retro_detail(s, retro_id)


@router.patch("/retros/{retro_id}")
def update_retro(retro_id: int, body: RetroPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return retros.set_error_category(s, retro_id, body.error_category).to_dict()


@router.post("/retros/{retro_id}/review")
def review(retro_id: int, body: ReviewIn, _user: Editor, s: Db, ws: Ws) -> dict[str, Any]:
    """Review the previous retro's actions (verifying from the facts those whose window ended)."""
    retros.review_previous_actions(s, retro_id, ws, comments=body.comments)
    return retros.retro_detail(s, retro_id)


@router.post("/retros/{retro_id}/observations", status_code=201)
def add_observation(retro_id: int, body: ObservationIn, user: Editor, s: Db) -> dict[str, Any]:
    return retros.add_observation(s, retro_id, author_id=user.id, **body.model_dump()).to_dict()


@router.post("/retros/{retro_id}/observations/from-figure", status_code=201)
def observe_figure(retro_id: int, body: FigureObservationIn, user: Editor, s: Db) -> dict[str, Any]:
    """One click: a quantitative observation from an audit / funnel / experiment figure."""
    return retros.observe_figure(s, retro_id, author_id=user.id, **body.model_dump()).to_dict()


@router.post("/observations/{observation_id}/votes", status_code=201)
def vote(observation_id: int, body: VoteIn, user: Editor, s: Db) -> dict[str, Any]:
    row = retros.vote(s, observation_id, user.username)
    out = row.to_dict()
    if body.anonymous:
        out["voter"] = None
    return out


@router.post("/retros/{retro_id}/groups")
def group(retro_id: int, body: GroupIn, _user: Editor, s: Db) -> list[dict[str, Any]]:
    rows = retros.group(s, body.observation_ids, body.label)
    return [r.to_dict() for r in rows if r.retro_id == retro_id]


@router.post("/retros/{retro_id}/whys", status_code=201)
def add_whys(retro_id: int, body: WhysIn, _user: Editor, s: Db) -> dict[str, Any]:
    return retros.add_why_chain(s, retro_id, body.problem, body.whys, body.root_cause).to_dict()


@router.post("/retros/{retro_id}/swot", status_code=201)
def add_swot(retro_id: int, body: SwotIn, _user: Editor, s: Db) -> dict[str, Any]:
    return retros.add_swot(s, retro_id, body.quadrant, body.text).to_dict()


@router.post("/retros/{retro_id}/close")
def close(retro_id: int, _user: Editor, s: Db) -> dict[str, Any]:
    return retros.close_retro(s, retro_id).to_dict()


@router.get("/retros/{retro_id}/scorecard")
def retro_scorecard(retro_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    return scorecard.retro_scorecard(s, retro_id).to_dict()
