"""Server-rendered pages (Jinja2 + HTMX), mounted at the root next to the API.

Forms carry the session's CSRF token (``csrf_token`` field); every route checks the role it
needs (viewer to read, editor to change, admin for share-link administration). Mount with
:func:`mount_pages` (called by :func:`levier.web.app.create_app`).
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from levier.web.pages_core import PageRoute
from levier.web.routes.pages import analytics, auth, customers, data, home, knowledge, loop, share

__all__ = ["router", "mount_pages"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
for module in (auth, home, loop, knowledge, analytics, customers, data, share):
    router.include_router(module.router)


def mount_pages(app: FastAPI) -> None:
    """Add the pages and the vendored static files (``/static``) to ``app``."""
    from levier.web.pages_core import pages_sessionmaker

    app.state.pages_sessionmaker = pages_sessionmaker(app.state.workspace)
    static = resources.files("levier.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(router)
