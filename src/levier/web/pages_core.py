"""Plumbing of the server-rendered pages: Jinja2, language, page auth, HTML errors, flash, cache.

Pages authenticate with the session cookie only (no API token) and every unsafe request must
carry the session's CSRF token as the ``csrf_token`` form field (or the X-CSRF-Token header
that HTMX sends, see base.html). Errors never surface as JSON or tracebacks on a page: a
:class:`PageRoute` turns them into an HTML page (GET) or a redirect back with a flash message
(POST); an expired session redirects to the login page.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

import levier
from levier import errors as e
from levier.i18n import _current
from levier.i18n import gettext as _
from levier.loop.db import transaction
from levier.loop.models import User
from levier.loop.services import users
from levier.report.fmt import Formatter
from levier.web.deps import check_csrf
from levier.web.errors import STATUS
from levier.web.security import CSRF_FIELD, SESSION_COOKIE

__all__ = [
    "LANG_COOKIE", "FLASH_COOKIE", "PageRoute", "request_lang", "render", "redirect", "flash", "page_user",
    "page_require", "PageViewer", "PageEditor", "PageAdmin", "cached", "facts_lock", "form_data", "safe_next",
    "SECURITY_HEADERS", "PageDb", "get_page_db", "pages_sessionmaker",
]

LANG_COOKIE = "levier_lang"
FLASH_COOKIE = "levier_flash"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@cache
def _env() -> jinja2.Environment:
    folder = resources.files("levier.web") / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["kind"] = lambda b: type(b).__name__.lower()
    return env


def request_lang(request: Request) -> str:
    """``fr`` or ``en``: the language cookie, else the first of Accept-Language we know, else French."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("fr", "en"):
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("fr", "en"):
            return code
    return "fr"


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to (never another site)."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or value.startswith("//"):
        return default
    return value


def flash(response: Response, text: str, kind: str = "info") -> Response:
    """A one-shot message shown by the next page (cookie, 60 s)."""
    response.set_cookie(FLASH_COOKIE, quote(json.dumps({"text": text, "kind": kind})), max_age=60, httponly=True, samesite="lax", path="/")
    return response


def _take_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    from urllib.parse import unquote

    try:
        data = json.loads(unquote(raw))
        return {"text": str(data["text"]), "kind": str(data.get("kind", "info"))}
    except (ValueError, KeyError, TypeError):
        return None


def redirect(url: str, message: str | None = None, kind: str = "info") -> Response:
    out = RedirectResponse(url, status_code=303)
    return flash(out, message, kind) if message else out


NAV = (
    ("/", "Dashboard"), ("/cycles", "Cycles"), ("/retros", "Retros"), ("/actions", "Actions"),
    ("/experiments", "Experiments"), ("/learnings", "Learnings"), ("/playbook", "Playbook"),
    ("/customers", "Customers"), ("/data", "Data"), ("/shares", "Share links"),
    ("/attribution", "Attribution"), ("/funnel", "Funnel"), ("/kpis", "KPI registry"),
)


def render(request: Request, template: str, status: int = 200, lang_override: str | None = None, **context: Any) -> HTMLResponse:
    """``template`` rendered in the request's language with the user, CSRF token and flash message."""
    lang = lang_override or request_lang(request)
    f = Formatter(lang)
    login = getattr(request.state, "login", None)
    note = _take_flash(request)

    def t(message: str, /, **kw: Any) -> str:
        return _(message, lang=lang, **kw)

    html = _env().get_template(template).render(
        request=request, lang=lang, t=t, f=f, user=getattr(request.state, "user", None),
        csrf_token=login.csrf_token if login else "", csrf_field=CSRF_FIELD, flash=note, nav=NAV,
        path=request.url.path, version=levier.__version__, **context,
    )
    response = HTMLResponse(html, status_code=status)
    if note:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as a dict of stripped strings (the CSRF field left out)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


# -- database sessions --------------------------------------------------------------------
def pages_sessionmaker(ws: Any) -> Any:
    """Sessions for the pages on their own engine whose pool grows with the load.

    A fixed pool smaller than the number of requests in flight starves: requests hold their
    connection while they wait for a worker thread, and new ones wait for a connection.
    SQLite connections are cheap, so the pool keeps 10 and opens more when needed.
    """
    import sqlalchemy as sa

    from levier.loop.db import make_sessionmaker

    engine = ws.engine
    if engine.dialect.name == "sqlite":
        from levier.loop.db import _sqlite_pragmas

        engine = sa.create_engine(ws.db_url, pool_size=10, max_overflow=-1, pool_timeout=60)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return make_sessionmaker(engine)


def get_page_db(request: Request) -> Iterator[Session]:
    """A session committed when the page route returns normally, rolled back on error."""
    with transaction(request.app.state.pages_sessionmaker) as session:
        yield session


PageDb = Annotated[Session, Depends(get_page_db, scope="function")]


# -- authentication ---------------------------------------------------------------------
async def page_user(request: Request, s: PageDb) -> User:
    """The user of the session cookie; unsafe requests must carry the session's CSRF token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise e.AuthError(_("Log in to see this page."))
    user, login = await run_in_threadpool(users.session_for, s, cookie)  # never block the event loop on the DB
    await check_csrf(request, login)
    request.state.user, request.state.login = user, login
    return user


def page_require(role: str) -> Callable[..., Coroutine[Any, Any, User]]:
    async def dependency(user: Annotated[User, Depends(page_user)]) -> User:
        if not users.role_allows(user.role, role):
            raise e.PermissionDeniedError(_("Your role ({role}) cannot do this; it needs {needed}.", role=user.role, needed=role))
        return user

    return dependency


PageViewer = Annotated[User, Depends(page_require("viewer"))]
PageEditor = Annotated[User, Depends(page_require("editor"))]
PageAdmin = Annotated[User, Depends(page_require("admin"))]


# -- errors as pages ---------------------------------------------------------------------
def _status_of(exc: e.LevierError) -> int:
    for cls, status, _code in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _error_page(request: Request, status: int, message: str, hint: str | None) -> Response:
    return render(request, "error.html", status=status, message=message, hint=hint)


def _back(request: Request) -> str | None:
    ref = request.headers.get("referer")
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), "") or None


def _handle(request: Request, exc: Exception) -> Response:
    if isinstance(exc, e.AuthError):
        if request.method == "GET":
            return redirect("/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else "")))
        return _error_page(request, 401, exc.message, exc.hint)
    if isinstance(exc, e.CsrfError | e.PermissionDeniedError):
        return _error_page(request, 403, exc.message, exc.hint)
    if isinstance(exc, e.LevierError):
        back = _back(request) if request.method == "POST" else None
        if back:
            return redirect(back, exc.message + (f" {exc.hint}" if exc.hint else ""), "error")
        return _error_page(request, _status_of(exc), exc.message, exc.hint)
    if isinstance(exc, RequestValidationError):
        fields = ", ".join(".".join(str(p) for p in err.get("loc", ())[1:]) for err in exc.errors())
        return _error_page(request, 422, _("The form is incomplete or invalid: {fields}.", fields=fields), None)
    raise exc


class PageRoute(APIRoute):
    """A route whose errors become HTML pages and whose messages follow the page language."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            token = _current.set(request_lang(request))
            try:
                try:
                    response = await original(request)
                except (e.LevierError, RequestValidationError) as exc:
                    response = _handle(request, exc)
            finally:
                _current.reset(token)
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return handler


# -- small caches for figures computed from the facts -------------------------------------
_CACHE: dict[tuple[Any, ...], tuple[float, Any]] = {}
_CACHE_LOCK = threading.Lock()
_FACTS_LOCK = threading.RLock()


def facts_lock() -> threading.RLock:
    """One facts query at a time per process (a DuckDB connection is not shared across threads)."""
    return _FACTS_LOCK


def cached(key: tuple[Any, ...], compute: Callable[[], Any], ttl: float = 300.0) -> Any:
    """``compute()`` memoised for ``ttl`` seconds under ``key`` (figures, charts, validation)."""
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    with _FACTS_LOCK:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]
        value = compute()
    with _CACHE_LOCK:
        if len(_CACHE) > 2000:
            _CACHE.clear()
        _CACHE[key] = (time.monotonic(), value)
    return value
