"""FastAPI dependencies: the workspace, a database session per request, the current user, roles.

Nothing here lives in the process: login sessions and their CSRF tokens, API tokens and their
last-use throttle (``users.user_for_token`` writes ``last_used_at`` at most once a minute) are
rows of the loop DB, so any of several worker processes authenticates any request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from levier.errors import AuthError, CsrfError, PermissionDeniedError
from levier.i18n import gettext as _
from levier.loop.db import transaction
from levier.loop.models import LoginSession, User
from levier.loop.services import users
from levier.web.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, csrf_matches

__all__ = ["get_ws", "get_db", "Db", "Ws", "current_user", "require", "Viewer", "Editor", "Admin", "check_csrf"]


def get_ws(request: Request) -> Any:
    return request.app.state.workspace


def get_db(request: Request) -> Iterator[Session]:
    """A session committed when the route returns normally, rolled back on error."""
    with transaction(request.app.state.sessionmaker) as session:
        yield session


Db = Annotated[Session, Depends(get_db, scope="function")]
Ws = Annotated[Any, Depends(get_ws)]


async def check_csrf(request: Request, login: LoginSession) -> None:
    """Unsafe cookie-authenticated requests need the session's CSRF token (header or form field)."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    ctype = request.headers.get("content-type", "")
    if given is None and (ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith("multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_matches(login.csrf_token, given):
        raise CsrfError(
            _("Missing or invalid CSRF token."),
            hint=_("Send the session's token in the {header} header or the {field} form field.", header=CSRF_HEADER, field=CSRF_FIELD),
        )


async def current_user(request: Request, s: Db) -> User:
    """The user of the API token (``Authorization: Bearer``) or of the session cookie.

    The database look-ups run in the thread pool: a blocking query on the event loop would stall
    every request in flight (and deadlock once the connection pool is exhausted).
    """
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _sep, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthError(_("Use 'Authorization: Bearer <token>'."))
        user = await run_in_threadpool(users.user_for_token, s, secret.strip())
        request.state.login = None
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise AuthError(_("Authentication required: log in or send an API token."))
        user, login = await run_in_threadpool(users.session_for, s, cookie)
        await check_csrf(request, login)
        request.state.login = login
    request.state.user = user
    return user


def require(role: str) -> Callable[..., Any]:
    """A dependency that lets through users whose role is at least ``role``."""

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not users.role_allows(user.role, role):
            raise PermissionDeniedError(_("Your role ({role}) cannot do this; it needs {needed}.", role=user.role, needed=role))
        return user

    return dependency


Viewer = Annotated[User, Depends(require("viewer"))]
Editor = Annotated[User, Depends(require("editor"))]
Admin = Annotated[User, Depends(require("admin"))]
