"""Public endpoints for landing pages: variant, events and the A/B snippet (no user session).

- ``GET /api/v1/experiments/{key}/variant?unit_id=…`` → ``{"variant", "changes", "excluded", …}``;
- ``POST /api/v1/events`` with ``{"experiment", "unit_id", "type", "page", …}`` (JSON, sent as
  ``application/json`` or ``text/plain`` so that browsers need no preflight) → 201;
- ``GET /api/v1/experiments/snippet.js`` → the copy-paste snippet (``levier-ab.js``).

Only experiments whose protocol says ``web.enabled: true`` answer (others: 404). A browser
request must come from an origin of the protocol's ``web.origins`` (CORS allow-list; else
403), and each client address may make ``web.rate_per_minute`` requests per experiment
(else 429 with ``Retry-After``; with N worker processes each grants ``rate ÷ N``, decision
0130). Decision 0073 explains why there is no "public key".
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from levier.analysis.experiments.live import EVENT_TYPES, LiveExperiments
from levier.analysis.experiments.protocol import Protocol
from levier.errors import OptionError, PermissionDeniedError
from levier.i18n import gettext as _
from levier.web.errors import error_response

__all__ = ["router", "live_experiments", "EventIn", "SNIPPET", "PUBLIC"]

router = APIRouter(tags=["experiments (public)"])
#: OpenAPI: these operations need no credentials (``security: []``; decision 0073)
PUBLIC = {"security": []}

SNIPPET = Path(__file__).resolve().parents[2] / "static" / "levier-ab.js"
UNIT_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
MAX_BODY = 8192
_init_lock = threading.Lock()


class EventIn(BaseModel):
    """One exposure / conversion event posted by a landing page."""

    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(min_length=1, max_length=120)
    unit_id: str = Field(pattern=UNIT_PATTERN)
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    page: str | None = Field(None, max_length=2000)
    referrer: str | None = Field(None, max_length=2000)
    anonymous_id: str | None = Field(None, max_length=200)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    variant: str | None = Field(None, max_length=120, description="Ignored: the stored assignment is authoritative.")


def live_experiments(request: Request) -> LiveExperiments:
    """The app's :class:`LiveExperiments` (created on first use)."""
    state = request.app.state
    live = getattr(state, "live_experiments", None)
    if live is None:
        with _init_lock:
            live = getattr(state, "live_experiments", None)
            if live is None:
                live = state.live_experiments = LiveExperiments(state.workspace)
    return live


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def _guard(request: Request, live: LiveExperiments, proto: Protocol) -> Response | dict[str, str]:
    """CORS allow-list and rate limit of a published experiment: headers to send, or a 429."""
    origin = request.headers.get("origin")
    if not proto.web.allows(origin):
        raise PermissionDeniedError(_("Origin {origin} may not call experiment '{key}'.", origin=origin, key=proto.key),
                                    hint=_("Add it to web.origins in the experiment's protocol."))
    ok, wait = live.allow(_client(request), proto)  # the protocol's rate ÷ the worker processes
    headers = _cors(origin)
    if not ok:
        resp = error_response(429, "too_many_requests", _("Too many requests; retry in {s} s.", s=math.ceil(wait)))
        resp.headers.update({**headers, "Retry-After": str(math.ceil(wait))})
        return resp
    return headers


@router.get("/experiments/snippet.js", include_in_schema=False)
def snippet() -> Response:
    """The landing-page snippet (also served as /static/levier-ab.js when static files are mounted)."""
    return Response(SNIPPET.read_text(encoding="utf-8"), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


@router.get("/experiments/{key}/variant", openapi_extra=PUBLIC)
def variant(key: str, request: Request,
            unit_id: Annotated[str, Query(pattern=UNIT_PATTERN, description="Visitor, lead or account id.")]) -> Response:
    """The variant of ``unit_id`` and the changes to apply; the first call records the assignment."""
    live = live_experiments(request)
    guard = _guard(request, live, live.published(key))
    if isinstance(guard, Response):
        return guard
    answer = live.variant(key, unit_id)
    return JSONResponse(answer.to_dict(), headers={**guard, "Cache-Control": "no-store"})


async def _event(request: Request) -> EventIn:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise OptionError(_("The event is too large ({n} bytes; at most {max}).", n=len(raw), max=MAX_BODY))
    try:
        return EventIn.model_validate(json.loads(raw or b"null"))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "(body)"
            raise OptionError(_("Invalid event: field '{field}': {problem}", field=field, problem=first["msg"])) from None
        raise OptionError(_("The event must be a JSON object: {problem}", problem=exc)) from None


@router.post("/events", status_code=201, openapi_extra=PUBLIC)
async def post_event(request: Request) -> Response:
    """Store an exposure / conversion / form event of an assigned unit as a web event."""
    live = live_experiments(request)
    event = await _event(request)
    proto = await run_in_threadpool(live.published, event.experiment)
    guard = _guard(request, live, proto)
    if isinstance(guard, Response):
        return guard
    utm = {k: getattr(event, k) for k in ("utm_source", "utm_medium", "utm_campaign")}
    row = await run_in_threadpool(lambda: live.record_event(
        event.experiment, event.unit_id, event.type, page=event.page, referrer=event.referrer,
        anonymous_id=event.anonymous_id, utm=utm))
    body: dict[str, Any] = {"event_id": row["event_id"], "variant": row["variant"], "type": row["type"]}
    return JSONResponse(body, status_code=201, headers=guard)


def _preflight(request: Request, allowed: bool) -> Response:
    origin = request.headers.get("origin")
    if not origin or not allowed:
        return Response(status_code=403, headers=_cors(None))
    return Response(status_code=204, headers={
        **_cors(origin), "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"})


@router.options("/experiments/{key}/variant", include_in_schema=False)
def variant_preflight(key: str, request: Request) -> Response:
    live = live_experiments(request)
    try:
        proto = live.published(key)
    except Exception:  # noqa: BLE001 - unknown or unpublished: no CORS
        return _preflight(request, False)
    return _preflight(request, proto.web.allows(request.headers.get("origin")))


@router.options("/events", include_in_schema=False)
def events_preflight(request: Request) -> Response:
    live = live_experiments(request)
    origins = live.origins()
    origin = (request.headers.get("origin") or "").rstrip("/")
    return _preflight(request, "*" in origins or origin in origins)
