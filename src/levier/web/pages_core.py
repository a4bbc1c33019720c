"""Plumbing of the server-rendered pages: Jinja2, language, page auth, HTML errors, flash, cache.

Pages authenticate with the session cookie only (no API token) and every unsafe request must
carry the session's CSRF token as the ``csrf_token`` form field (or the X-CSRF-Token header
that HTMX sends, see base.html). Errors never surface as JSON or tracebacks on a page: a
:class:`PageRoute` turns them into an HTML page (GET) or a redirect back with a flash message
(POST); an expired session redirects to the login page.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

import levier
from levier import errors as e
from levier.i18n import _current, _normalise, catalog
from levier.i18n import gettext as _
from levier.loop.db import transaction
from levier.loop.models import User
from levier.loop.services import users
from levier.report.fmt import Formatter
from levier.web.deps import check_csrf
from levier.web.errors import STATUS
from levier.web.pages_cache import (  # re-exported: the pages import their cache from here
    CACHE_SIZE,
    cached,
    clear_cache,
    end_request_scope,
    facts_key,
    facts_lock,
    facts_version,
    request_memo,
    request_scope,
)
from levier.web.security import CSRF_FIELD, SESSION_COOKIE

__all__ = [
    "LANG_COOKIE", "FLASH_COOKIE", "PageRoute", "request_lang", "render", "redirect", "flash", "page_user",
    "page_require", "PageViewer", "PageEditor", "PageAdmin", "cached", "facts_lock", "form_data", "safe_next",
    "SECURITY_HEADERS", "PageDb", "get_page_db", "pages_sessionmaker", "clear_cache", "facts_version", "facts_key",
    "request_memo", "render_fragment", "translator", "formatter", "MemoFormatter", "CSRF_PLACEHOLDER", "CACHE_SIZE",
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
    ("/attribution", "Attribution"), ("/funnel", "Funnel"), ("/kpis", "KPI registry"), ("/alerts", "Alerts"),
)


@cache
def translator(lang: str) -> Callable[..., str]:
    """``t(message, **kw)`` for templates: :func:`levier.i18n.gettext` with the catalogue looked up once."""
    table = catalog(_normalise(lang))

    def t(message: str, /, **kw: Any) -> str:
        text = table.get(message, message)
        return text.format(**kw) if kw else text

    return t


class MemoFormatter:
    """A :class:`Formatter` whose results are memoised (Babel formatting dominates a page's cost)."""

    __slots__ = ("_f", "_memo", "lang")
    LIMIT = 8192

    def __init__(self, lang: str) -> None:
        self._f, self._memo, self.lang = Formatter(lang), {}, lang

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._f, name)
        if not callable(method):
            return method
        memo = self._memo

        def call(*args: Any, **kw: Any) -> Any:
            try:
                key = (name, tuple(type(a) for a in args), args, tuple(sorted(kw.items())))
                hit = memo.get(key, _MISS)
            except TypeError:  # an unhashable argument (a list): format it directly
                return method(*args, **kw)
            if hit is _MISS:
                if len(memo) > self.LIMIT:
                    memo.clear()
                hit = memo[key] = method(*args, **kw)
            return hit

        return call


_MISS = object()


@cache
def formatter(lang: str) -> MemoFormatter:
    """The shared memoising formatter of ``lang`` (``fr`` or ``en``)."""
    return MemoFormatter(lang)


#: stands for the session's CSRF token in cached fragments; replaced when the page is sent
CSRF_PLACEHOLDER = "csrf-" + secrets.token_hex(16)


def render_fragment(template: str, lang: str, **context: Any) -> Markup:
    """``template`` rendered without the request (for caching): no user, CSRF token as a placeholder."""
    html = _env().get_template(template).render(
        lang=lang, t=translator(lang), f=formatter(lang), csrf_token=CSRF_PLACEHOLDER, csrf_field=CSRF_FIELD, **context,
    )
    return Markup(html)


def render(request: Request, template: str, status: int = 200, lang_override: str | None = None, **context: Any) -> HTMLResponse:
    """``template`` rendered in the request's language with the user, CSRF token and flash message."""
    lang = lang_override or request_lang(request)
    login = getattr(request.state, "login", None)
    note = _take_flash(request)
    token = login.csrf_token if login else ""
    html = _env().get_template(template).render(
        request=request, lang=lang, t=translator(lang), f=formatter(lang), user=getattr(request.state, "user", None),
        csrf_token=token, csrf_field=CSRF_FIELD, flash=note, nav=NAV,
        path=request.url.path, version=levier.__version__, **context,
    )
    if CSRF_PLACEHOLDER in html:  # a cached fragment's forms get this session's token
        html = html.replace(CSRF_PLACEHOLDER, token)
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


async def get_page_db(request: Request) -> AsyncIterator[Session]:
    """A session committed when the page route returns normally, rolled back on error.

    :func:`levier.loop.db.transaction` entered on the event loop (creating a session does no
    I/O) and left in a worker thread (commit or rollback, close): one thread hop, not two.
    """
    scope = transaction(request.app.state.pages_sessionmaker)
    session = scope.__enter__()
    try:
        yield session
    except BaseException as exc:
        await run_in_threadpool(scope.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await run_in_threadpool(scope.__exit__, None, None, None)


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
            memo = request_scope()  # copied into the worker thread of a sync route
            try:
                try:
                    response = await original(request)
                except (e.LevierError, RequestValidationError) as exc:
                    response = _handle(request, exc)
            finally:
                end_request_scope(memo)
                _current.reset(token)
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return handler
