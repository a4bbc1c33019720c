"""The FastAPI application factory: ``create_app(workspace_path)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import levier
from levier.i18n import _current, _normalise
from levier.loop.db import make_sessionmaker
from levier.web.errors import install_error_handlers
from levier.workspace import open_workspace

__all__ = ["create_app"]

API_PREFIX = "/api/v1"


class LanguageMiddleware:
    """Messages (errors included) follow ``Accept-Language`` when it names fr or en."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode(errors="ignore")
        lang = header.split(",")[0].strip() if header else None
        token = _current.set(_normalise(lang)) if lang else None
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                _current.reset(token)


def create_app(workspace_path: str | Path | None = None, *, secure_cookies: bool = False, session_hours: int = 12) -> FastAPI:
    """The Levier web app on the workspace at ``workspace_path`` (default: current directory).

    ``secure_cookies=True`` marks the session cookie Secure (serve over HTTPS).
    """
    from levier.web.routes.api import router as api_router

    ws = open_workspace(workspace_path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ws.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Levier API", version=levier.__version__,
        description="The Retro ROI loop: cycles, retros, actions, experiments, learnings, playbook.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
    )
    app.state.workspace = ws
    app.state.sessionmaker = make_sessionmaker(ws.engine)
    app.state.settings = {"secure_cookies": secure_cookies, "session_hours": session_hours}
    install_error_handlers(app)
    app.add_middleware(LanguageMiddleware)
    # server-rendered pages + /static (web-app issue)
    from levier.web.routes.pages import mount_pages

    mount_pages(app)  # first: most requests are pages, and routes are matched in order
    app.include_router(api_router, prefix=API_PREFIX)

    return app
