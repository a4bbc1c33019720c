"""Contact policy: the real-time check, posted touches, due steps, the TTF queue, compliance."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from levier.policy import Policy
from levier.web.deps import Editor, Viewer
from levier.web.pages_cache import facts_lock
from levier.web.routes.api.policy_auth import authorise

router = APIRouter(tags=["policy"])
_LOCK = threading.Lock()


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_id: str = Field(min_length=1)
    channel: str
    at: datetime | None = None


class TouchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_id: str = Field(min_length=1)
    channel: str
    at: datetime | None = None
    direction: Literal["out", "in"] = "out"
    outcome: str | None = None
    owner: str | None = None
    campaign_id: str | None = None
    touch_id: str | None = None


def policy_of(request: Request) -> Policy:
    """The app's policy (loaded once per worker; refreshed from the facts at most once a minute).

    Loading and refreshing are heavy facts computations, so they take the process's facts lock like
    every page figure (``pages_cache.facts_lock``: one at a time, for the worker's memory cap); the
    connection itself is safe without it, each thread running on its own DuckDB cursor (decision
    0243). A check between refreshes takes no lock.
    """
    state = request.app.state
    policy = getattr(state, "policy", None)
    if policy is None:
        with _LOCK, facts_lock():
            policy = getattr(state, "policy", None)
            if policy is None:
                policy = state.policy = Policy.load(state.workspace)
    if policy.refresh_due(60):
        with facts_lock():
            policy.refresh_every(60)
    return policy


@router.get("/policy")
def show(request: Request, _user: Viewer) -> dict[str, Any]:
    """The active rules and where they come from (default file or playbook version)."""
    p = policy_of(request)
    return {"source": p.source, "rules": p.rules.model_dump(mode="json")}


async def _ready_policy(request: Request) -> Policy:
    """The worker's policy; loading it or its periodic refresh (engine queries) run off the event loop."""
    policy = getattr(request.app.state, "policy", None)
    if policy is None or policy.refresh_due(60):
        policy = await run_in_threadpool(policy_of, request)
    return policy


_CHECK_BODY = {"required": True, "content": {"application/json": {"schema": CheckIn.model_json_schema()}}}


@router.post("/policy/check", openapi_extra={"requestBody": _CHECK_BODY}, response_model=None)
async def check(request: Request) -> Response:
    """allow / deny / escalate, the deciding rules and the next allowed time (UTC)."""
    return await check_response(request)


async def check_response(request: Request) -> Response:
    """The check endpoint's work (also served before routing by :mod:`.policy_fast`).

    Cached token check (:mod:`.policy_auth`), the body validated by ``CheckIn`` straight from the
    bytes, the check run on the event loop (tens of microseconds: memory-mapped state, no I/O),
    the JSON written directly (docs/decisions/0141-policy-check-fast-path.md).
    """
    await authorise(request, "viewer")
    try:
        body = CheckIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None
    policy = await _ready_policy(request)
    decision = policy.check(body.lead_id, body.channel, body.at).to_dict()
    return Response(json.dumps(decision, ensure_ascii=False, separators=(",", ":")).encode(), media_type="application/json")


@router.post("/touches", status_code=201)
def post_touch(body: TouchIn, request: Request, _user: Editor) -> dict[str, Any]:
    """Append a touch to the facts; the next check sees it at once."""
    row = policy_of(request).record_touch(**body.model_dump())
    return {**row, "at": row["at"].isoformat()}


@router.get("/policy/due")
def due(request: Request, _user: Viewer, rep: str | None = None, at: datetime | None = None) -> list[dict[str, Any]]:
    """Sequence steps due today (or overdue) per rep."""
    from levier.policy.sequences import due_today

    return [d.to_dict() for d in due_today(policy_of(request), rep, at)]


@router.get("/policy/queue")
def queue(request: Request, _user: Viewer, at: datetime | None = None, within_days: int = 7, rep: str | None = None) -> list[dict[str, Any]]:
    """Leads breaching the TTF SLA now, most overdue first."""
    from levier.policy.sequences import ttf_queue

    return [b.to_dict() for b in ttf_queue(policy_of(request), at, within_days, rep)]


@router.get("/policy/compliance")
def compliance(request: Request, _user: Viewer, start: date, end: date) -> dict[str, Any]:
    """Violations by rule, rep, segment and week; TTF breaches; touches after opt-out; complaints."""
    from levier.policy.compliance import audit

    p = policy_of(request)
    return audit(p.ws, p.rules, start, end).to_dict()
