"""Request bodies of the REST API (pydantic v2; unknown fields are refused)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Login", "UserIn", "UserPatch", "TokenIn", "CycleIn", "StepDone", "ResultIn", "AuditRun", "DecisionIn", "ReplayIn",
    "RetroIn", "RetroPatch", "ReviewIn", "ObservationIn", "FigureObservationIn", "VoteIn", "GroupIn", "WhysIn", "SwotIn",
    "HypothesisIn", "HypothesisPatch", "ExperimentIn", "ExperimentPatch", "ExperimentStart", "ExperimentDecision",
    "ExperimentResult", "ActionIn", "ActionPatch", "LearningIn", "LearningPatch", "EntryIn", "EntryPatch", "VersionIn",
    "LinksIn", "WebhookIn", "WebhookPatch",
]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(In):
    username: str
    password: str


class UserIn(In):
    username: str
    role: Literal["admin", "editor", "viewer"] = "viewer"
    password: str | None = None
    name: str = ""
    email: str | None = None


class UserPatch(In):
    name: str | None = None
    email: str | None = None
    role: Literal["admin", "editor", "viewer"] | None = None
    active: bool | None = None
    password: str | None = None


class TokenIn(In):
    name: str = "api"


class CycleIn(In):
    name: str
    period_start: date
    period_end: date
    start_date: date | None = None
    segment: str | None = None
    framing: dict[str, Any] = Field(default_factory=dict)
    raci: dict[str, Any] = Field(default_factory=dict)


class StepDone(In):
    note: str = ""


class ResultIn(In):
    kind: str = "audit"
    payload: dict[str, Any]


class AuditRun(In):
    options: dict[str, Any] = Field(default_factory=dict)


class DecisionIn(In):
    text: str
    segment: str | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    colour: Literal["green", "amber", "red"] | None = None
    decided_by: str = ""


class ReplayIn(In):
    start_date: date | None = None


class RetroIn(In):
    template: str
    title: str
    objective: str
    period_start: date | None = None
    period_end: date | None = None
    participants: list[str] = Field(default_factory=list)
    cycle_id: int | None = None


class RetroPatch(In):
    error_category: str | None = None


class ReviewIn(In):
    comments: dict[int, str] = Field(default_factory=dict)


class ObservationIn(In):
    text: str
    kind: Literal["quantitative", "qualitative"] = "qualitative"
    source: str = "field"
    figure_key: str | None = None
    figure_value: float | None = None
    figure_ref: str | None = None
    anonymous: bool = False
    group_label: str | None = None


class FigureObservationIn(In):
    figure_key: str
    cycle_result_id: int | None = None
    experiment_id: int | None = None
    text: str | None = None
    anonymous: bool = False


class VoteIn(In):
    anonymous: bool = False


class GroupIn(In):
    observation_ids: list[int]
    label: str


class WhysIn(In):
    problem: str
    whys: list[str]
    root_cause: str | None = None


class SwotIn(In):
    quadrant: str
    text: str


class HypothesisIn(In):
    statement: str
    kpi_key: str | None = None
    expected_change: float | None = None
    retro_id: int | None = None
    observation_id: int | None = None


class HypothesisPatch(In):
    status: str


class ExperimentIn(In):
    key: str
    name: str
    hypothesis_id: int | None = None
    variable: str = ""
    variants: list[str] = Field(default_factory=lambda: ["control", "treatment"])
    primary_kpi: str | None = None
    guardrails: list[str] = Field(default_factory=list)
    n_per_arm: int | None = None
    start_date: date | None = None
    end_date: date | None = None


class ExperimentPatch(In):
    name: str | None = None
    variable: str | None = None
    variants: list[str] | None = None
    primary_kpi: str | None = None
    guardrails: list[str] | None = None
    n_per_arm: int | None = None
    start_date: date | None = None
    end_date: date | None = None


class ExperimentStart(In):
    start_date: date | None = None


class ExperimentDecision(In):
    decision: Literal["ship", "iterate", "stop"]
    result: dict[str, Any] | None = None
    hypothesis_status: Literal["supported", "refuted", "open", "testing"] | None = None


class ExperimentResult(In):
    result: dict[str, Any]


class ActionIn(In):
    title: str
    owner: str | int | list[str | int]
    due_date: date
    kpi_key: str
    target: float
    baseline: float | None = None
    window_start: date | None = None
    window_end: date | None = None
    segment: dict[str, Any] | None = None
    retro_id: int | None = None
    hypothesis_id: int | None = None


class ActionPatch(In):
    title: str | None = None
    owner: str | int | list[str | int] | None = None
    due_date: date | None = None
    kpi_key: str | None = None
    target: float | None = None
    baseline: float | None = None
    window_start: date | None = None
    window_end: date | None = None
    segment: dict[str, Any] | None = None
    status: str | None = None


class LearningIn(In):
    title: str
    outcome: Literal["success", "failure"]
    body: str = ""
    retro_id: int | None = None
    experiment_id: int | None = None
    observation_id: int | None = None
    evidence: list[str] = Field(default_factory=list)
    cause: str = ""
    lesson: str = ""
    error_category: str | None = None
    kpi_key: str | None = None
    audience: str | None = None
    channel: str | None = None
    timing: str | None = None
    offer: str | None = None
    quarter: str | None = None
    segment: str | None = None


class LearningPatch(In):
    title: str | None = None
    body: str | None = None
    outcome: Literal["success", "failure"] | None = None
    cause: str | None = None
    lesson: str | None = None
    error_category: str | None = None
    evidence: list[str] | None = None
    audience: str | None = None
    channel: str | None = None
    timing: str | None = None
    offer: str | None = None
    quarter: str | None = None
    segment: str | None = None


class EntryIn(In):
    key: str
    kind: str
    title: str
    body: str = ""
    content: dict[str, Any] = Field(default_factory=dict)
    segment: str | None = None
    channel: str | None = None
    kpi_key: str | None = None
    learning_ids: list[int] = Field(default_factory=list)
    experiment_ids: list[int] = Field(default_factory=list)


class EntryPatch(In):
    title: str | None = None
    body: str | None = None
    content: dict[str, Any] | None = None
    segment: str | None = None
    channel: str | None = None
    kpi_key: str | None = None


class VersionIn(EntryPatch):
    learning_ids: list[int] = Field(default_factory=list)
    experiment_ids: list[int] = Field(default_factory=list)


class LinksIn(In):
    learning_ids: list[int] = Field(default_factory=list)
    experiment_ids: list[int] = Field(default_factory=list)


class WebhookIn(In):
    name: str
    url: str
    events: list[str]
    format: Literal["json", "slack"] = "json"
    secret: str | None = None


class WebhookPatch(In):
    name: str | None = None
    url: str | None = None
    events: list[str] | None = None
    format: Literal["json", "slack"] | None = None
    secret: str | None = None
    active: bool | None = None
