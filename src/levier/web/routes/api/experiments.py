"""Hypotheses and the experiments registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.loop.services import hypotheses
from levier.web.deps import Db, Editor, Viewer
from levier.web.schemas import (
    ExperimentDecision,
    ExperimentIn,
    ExperimentPatch,
    ExperimentResult,
    ExperimentStart,
    HypothesisIn,
    HypothesisPatch,
)

router = APIRouter(tags=["experiments"])


@router.get("/hypotheses")
def list_hypotheses(_user: Viewer, s: Db, retro_id: int | None = None) -> list[dict[str, Any]]:
    return [h.to_dict() for h in hypotheses.list_hypotheses(s, retro_id=retro_id)]


@router.post("/hypotheses", status_code=201)
def create_hypothesis(body: HypothesisIn, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.create_hypothesis(s, **body.model_dump()).to_dict()


@router.patch("/hypotheses/{hypothesis_id}")
def update_hypothesis(hypothesis_id: int, body: HypothesisPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.set_hypothesis_status(s, hypothesis_id, body.status).to_dict()


@router.get("/experiments")
def list_experiments(_user: Viewer, s: Db, status: str | None = None) -> list[dict[str, Any]]:
    return [e.to_dict() for e in hypotheses.list_experiments(s, status=status)]


@router.post("/experiments", status_code=201)
def create_experiment(body: ExperimentIn, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.create_experiment(s, **body.model_dump()).to_dict()


@router.get("/experiments/{ref}")
def get_experiment(ref: str, _user: Viewer, s: Db) -> dict[str, Any]:
    """An experiment by id or key."""
    return hypotheses.get_experiment(s, ref).to_dict()


@router.patch("/experiments/{experiment_id}")
def update_experiment(experiment_id: int, body: ExperimentPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.update_experiment(s, experiment_id, **body.model_dump(exclude_unset=True)).to_dict()


@router.post("/experiments/{experiment_id}/start")
def start(experiment_id: int, body: ExperimentStart, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.start_experiment(s, experiment_id, start_date=body.start_date).to_dict()


@router.post("/experiments/{experiment_id}/result")
def record_result(experiment_id: int, body: ExperimentResult, _user: Editor, s: Db) -> dict[str, Any]:
    return hypotheses.record_result(s, experiment_id, body.result).to_dict()


@router.post("/experiments/{experiment_id}/decision")
def decide(experiment_id: int, body: ExperimentDecision, _user: Editor, s: Db) -> dict[str, Any]:
    """Conclude or stop; emits the ``experiment.decided`` webhook."""
    return hypotheses.decide_experiment(s, experiment_id, body.decision, result=body.result, hypothesis_status=body.hypothesis_status).to_dict()
