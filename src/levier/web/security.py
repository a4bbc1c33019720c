"""Security helpers: argon2 password hashes, session cookies (HttpOnly, SameSite) and CSRF tokens.

Authentication: an ``Authorization: Bearer lvr_…`` API token, or the ``levier_session`` cookie
set by ``POST /api/v1/auth/login``. Cookie-authenticated requests that change data (POST, PUT,
PATCH, DELETE) must carry the session's CSRF token, in the ``X-CSRF-Token`` header (API calls
from pages) or the ``csrf_token`` form field (HTML forms). Token-authenticated requests need no
CSRF token: browsers never send them on their own.
"""

from __future__ import annotations

import hmac

from starlette.responses import Response

from levier.loop.models import LoginSession
from levier.loop.services.users import hash_password, verify_password

__all__ = [
    "SESSION_COOKIE", "CSRF_HEADER", "CSRF_FIELD", "SAFE_METHODS", "hash_password", "verify_password",
    "set_session_cookie", "clear_session_cookie", "csrf_matches", "csrf_token_for",
]

SESSION_COOKIE = "levier_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_session_cookie(response: Response, secret: str, *, secure: bool, max_age: int) -> None:
    """The session cookie: HttpOnly (no JavaScript access), SameSite=Lax, Secure behind HTTPS."""
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one sent."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def csrf_token_for(session: LoginSession) -> str:
    """The CSRF token forms of this login session must post (field ``csrf_token``)."""
    return session.csrf_token
