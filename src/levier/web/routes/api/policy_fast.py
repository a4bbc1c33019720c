"""``POST /api/v1/policy/check`` answered before the router: the hot endpoint without route matching.

With the pages and the API mounted, FastAPI 0.165 matches a request against ~200 routes through
nested included routers before it reaches the check — measured at about half of the server's
CPU per check request (docs/decisions/0141-policy-check-fast-path.md). :class:`PolicyCheckFastPath`
is a pure ASGI wrapper: ``POST /api/v1/policy/check`` goes straight to :func:`check_response`
(the same code as the routed endpoint: cached token check, ``CheckIn`` validation, the check, the
JSON), every other request and the lifespan go to the app unchanged. Errors leave through the
app's own exception handlers, so the JSON error shape is the same.

Two ways in: ``app.add_middleware(PolicyCheckFastPath)`` as the innermost middleware of
:func:`levier.web.app.create_app` (language and worker header already applied), or the factory
:func:`app_from_env` (``uvicorn --factory levier.web.routes.api.policy_fast:app_from_env``),
which wraps :func:`levier.web.app.app_from_env` and applies the language and worker-header
middlewares itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PolicyCheckFastPath", "app_from_env", "CHECK_PATH"]

CHECK_PATH = "/api/v1/policy/check"


async def _handle(scope: Scope, receive: Receive, send: Send) -> None:
    from levier.web.routes.api.policy import check_response

    request = Request(scope, receive)
    try:
        response = await check_response(request)
    except Exception as exc:  # noqa: BLE001 — every error goes through the app's handlers (one JSON shape)
        handler = _handler_for(scope["app"], exc)
        if handler is None:
            raise
        response = await handler(request, exc)
    await response(scope, receive, send)


def _handler_for(app: Any, exc: Exception) -> Any:
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


class PolicyCheckFastPath:
    """ASGI: the check endpoint before routing; ``wrap_app`` also sets ``scope["app"]`` and the language / worker header."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI | None = None) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        hot: ASGIApp = _handle
        if fastapi_app is not None:  # outside the app: apply its language and worker-header middlewares here
            from levier.web.app import LanguageMiddleware, WorkerHeaderMiddleware

            hot = LanguageMiddleware(WorkerHeaderMiddleware(hot))
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CHECK_PATH and scope["method"] == "POST":
            if self.fastapi_app is not None:
                scope["app"] = self.fastapi_app
            await self.hot(scope, receive, send)
            return
        await self.app(scope, receive, send)


def app_from_env() -> PolicyCheckFastPath:
    """:func:`levier.web.app.app_from_env` with the check answered before routing (uvicorn ``--factory``)."""
    from levier.web.app import app_from_env as base

    app = base()
    return PolicyCheckFastPath(app, fastapi_app=app)
