"""The FastAPI application factory: ``create_app(workspace_path)``; ``app_from_env`` for uvicorn workers.

Several worker processes (``levier serve --workers N``) each build the app with
:func:`app_from_env`. Nothing a request relies on lives only in one process: sessions, CSRF
tokens, share links, API tokens and their use throttle are rows of the loop DB; facts writes
go through :mod:`levier.data.inbox`; every response names its worker in ``X-Levier-Worker``
(docs/deployment.md, docs/decisions/0171-read-only-facts-for-workers.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import levier
from levier.i18n import _current, _normalise
from levier.i18n import gettext as _
from levier.loop.db import make_sessionmaker
from levier.web.errors import install_error_handlers
from levier.workspace import open_workspace

__all__ = ["create_app", "app_from_env", "ENV_WORKSPACE", "ENV_SECURE_COOKIES", "ENV_READ_ONLY", "ENV_THREADS", "ENV_WORKERS", "ENV_WARM", "WORKER_HEADER"]

API_PREFIX = "/api/v1"
log = logging.getLogger("levier.web")
ENV_WORKSPACE = "LEVIER_WORKSPACE"
ENV_SECURE_COOKIES = "LEVIER_SECURE_COOKIES"
ENV_READ_ONLY = "LEVIER_FACTS_READ_ONLY"  # "1": each worker opens the facts read-only
ENV_THREADS = "LEVIER_WEB_THREADS"  # thread pool of each worker process (sync routes)
ENV_WORKERS = "LEVIER_WEB_WORKERS"  # how many worker processes serve the port (per-process limits divide by it)
ENV_WARM = "LEVIER_WEB_WARM"  # "0": no background warm-up of the dashboard figures at start (default on)
WORKER_HEADER = "X-Levier-Worker"
_TRUE = ("1", "true", "yes", "on")


class WorkerHeaderMiddleware:
    """Adds ``X-Levier-Worker: <pid>`` to every HTTP response (which process answered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-levier-worker", self.value)]
            await send(message)

        await self.app(scope, receive, tagged)


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


def create_app(workspace_path: str | Path | None = None, *, secure_cookies: bool = False, session_hours: int = 12,
               read_only: bool = False, threads: int | None = None, warm: bool = False) -> FastAPI:
    """The Levier web app on the workspace at ``workspace_path`` (default: current directory).

    ``secure_cookies=True`` marks the session cookie Secure (serve over HTTPS). ``read_only=True``
    opens the facts read-only (one of several worker processes on a DuckDB file): facts writes
    are then queued in the loop DB (:mod:`levier.data.inbox`). ``threads`` sizes the thread pool
    that runs sync routes (default: AnyIO's 40). ``warm=True`` (what ``levier serve`` does)
    computes the dashboard's figures in a background thread from the start and after every facts
    change (:mod:`levier.web.figures`); without it a dashboard request that misses figures starts
    that thread for them. Either way no dashboard request computes a facts figure itself.
    """
    from levier.web.routes.api import router as api_router

    ws = open_workspace(workspace_path, read_only=read_only)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if threads:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, threads)
        if warm:
            from levier.web.routes.pages.home import WARM_JOBS

            _app.state.warmer.start(WARM_JOBS)  # the dashboard's figures, in the background (decision 0230)
        yield
        _app.state.warmer.stop()
        ws.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Levier API", version=levier.__version__,
        description="The Retro ROI loop: cycles, retros, actions, experiments, learnings, playbook.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None,
    )
    app.state.workspace = ws
    app.state.sessionmaker = make_sessionmaker(ws.engine)
    app.state.settings = {"secure_cookies": secure_cookies, "session_hours": session_hours, "warm": warm}
    from levier.web.figures import Warmer
    from levier.web.routes.pages.home import warm_runner

    app.state.warmer = Warmer(ws, warm_runner(app.state.sessionmaker, ws))
    install_error_handlers(app)
    _read_only_errors(app)
    from levier.web.routes.api.policy_fast import PolicyCheckFastPath

    app.add_middleware(PolicyCheckFastPath)  # innermost: the hot check skips route matching (decision 0141)
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(WorkerHeaderMiddleware)
    # server-rendered pages + /static (web-app issue)
    from levier.web.routes.pages import mount_pages

    mount_pages(app)  # first: most requests are pages, and routes are matched in order
    app.include_router(api_router, prefix=API_PREFIX)

    return app


def _read_only_errors(app: FastAPI) -> None:
    """A write DuckDB refuses on read-only facts (e.g. raw SQL) answers 503 with the fix, not a bare 500."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - DuckDB is a core dependency
        return
    from levier.web.errors import error_response

    async def handler(request: Any, exc: Exception) -> Any:
        if "read-only" not in str(exc):
            log.exception("unexpected error", exc_info=exc)
            return error_response(500, "internal_error", _("Internal error; the server log has the details."))
        return error_response(503, "unavailable", _("The facts are open read-only in this process; this request cannot write them."),
                              hint=_("Run it where the facts can be written: stop the multi-worker server, or serve with --workers 1."))

    app.add_exception_handler(duckdb.Error, handler)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def app_from_env() -> FastAPI:
    """The app as uvicorn workers build it (``uvicorn --factory levier.web.app:app_from_env``).

    Reads ``LEVIER_WORKSPACE`` (directory), ``LEVIER_SECURE_COOKIES`` (1/true), ``LEVIER_FACTS_READ_ONLY``
    (1/true: open the facts read-only) and ``LEVIER_WEB_THREADS`` (threads per process).
    ``LEVIER_WEB_WORKERS`` (number of processes) is read by per-process limits; ``LEVIER_WEB_WARM=0``
    turns off the background warm-up of the dashboard figures at start.
    """
    threads = os.environ.get(ENV_THREADS, "").strip()
    warm = os.environ.get(ENV_WARM, "1").strip().lower() in _TRUE
    return create_app(os.environ.get(ENV_WORKSPACE) or None, secure_cookies=_env_flag(ENV_SECURE_COOKIES),
                      read_only=_env_flag(ENV_READ_ONLY), threads=int(threads) if threads.isdigit() else None, warm=warm)
