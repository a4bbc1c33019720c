"""Log in and out, and the language switch (cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from levier.errors import AuthError
from levier.i18n import gettext as _
from levier.loop.services import audit_log, users
from levier.web.pages_core import (
    LANG_COOKIE,
    PageDb,
    PageRoute,
    PageViewer,
    form_data,
    redirect,
    render,
    safe_next,
)
from levier.web.security import SESSION_COOKIE, clear_session_cookie, set_session_cookie

__all__ = ["router"]

router = APIRouter(route_class=PageRoute)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the usual name
    return render(request, "login.html", next=safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, s: PageDb) -> Response:
    form = await form_data(request)
    target = safe_next(form.get("next"))
    hours = request.app.state.settings["session_hours"]

    def check() -> str:  # argon2 is slow on purpose: keep it off the event loop
        user = users.authenticate(s, form.get("username", ""), form.get("password", ""))
        _row, secret = users.create_session(s, user.id, hours=hours)
        audit_log.record(s, user, "login", "session")
        return secret

    try:
        secret = await run_in_threadpool(check)
    except AuthError as exc:
        return render(request, "login.html", status=401, next=target, error=exc.message, username=form.get("username", ""))
    out = redirect(target)
    set_session_cookie(out, secret, secure=request.app.state.settings["secure_cookies"], max_age=hours * 3600)
    return out


@router.post("/logout")
def logout(request: Request, user: PageViewer, s: PageDb) -> Response:
    users.end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    audit_log.record(s, user, "logout", "session")
    out = redirect("/login", _("You are logged out."))
    clear_session_cookie(out)
    return out


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:  # noqa: A002
    """Remember the chosen language (fr or en) in a cookie for a year."""
    out = redirect(safe_next(next))
    if code in ("fr", "en"):
        out.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return out
