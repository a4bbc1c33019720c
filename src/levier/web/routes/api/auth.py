"""Log in (session cookie + CSRF token), log out, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.loop.services import audit_log, users
from levier.web.deps import Db, Viewer
from levier.web.schemas import Login
from levier.web.security import SESSION_COOKIE, clear_session_cookie, set_session_cookie

router = APIRouter(prefix="/auth", tags=["auth"])


async def _credentials(request: Request) -> Login:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        data = await request.json()
    else:
        data = dict(await request.form())
    try:
        return Login.model_validate(data)
    except Exception:
        raise OptionError(_("Send username and password (JSON or form fields).")) from None


@router.post("/login", openapi_extra={"requestBody": {"content": {"application/json": {"schema": Login.model_json_schema()}}}})
async def login(request: Request, response: Response, s: Db) -> dict[str, Any]:
    """Check the credentials; set the HttpOnly session cookie; return the user and the CSRF token."""
    creds = await _credentials(request)
    user = users.authenticate(s, creds.username, creds.password)
    hours = request.app.state.settings["session_hours"]
    row, secret = users.create_session(s, user.id, hours=hours)
    set_session_cookie(response, secret, secure=request.app.state.settings["secure_cookies"], max_age=hours * 3600)
    audit_log.record(s, user, "login", "session")
    return {"user": user.to_dict(), "csrf_token": row.csrf_token, "expires_at": row.expires_at.isoformat()}


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, user: Viewer, s: Db) -> Response:
    """End the session (a form-style POST: send the CSRF token as ``csrf_token`` or X-CSRF-Token)."""
    users.end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    audit_log.record(s, user, "logout", "session")
    out = Response(status_code=204)
    clear_session_cookie(out)
    return out


@router.get("/me")
def me(request: Request, user: Viewer) -> dict[str, Any]:
    """The current user (and the CSRF token of the cookie session, if any)."""
    login = getattr(request.state, "login", None)
    return {"user": user.to_dict(), "csrf_token": login.csrf_token if login else None}
