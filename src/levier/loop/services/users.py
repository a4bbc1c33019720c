"""Users (roles admin / editor / viewer), argon2 password hashes, API tokens and login sessions.

API tokens and session ids are random secrets shown once; only their SHA-256 is stored (they
carry 256 bits of entropy, so a fast hash is enough and makes look-ups indexable).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    OptionError,
    ServiceUnavailableError,
)
from levier.i18n import gettext as _
from levier.loop.models import ROLES, ApiToken, LoginSession, User, utcnow
from levier.loop.services._common import check_choice, clean_fields, get, require_text

__all__ = [
    "hash_password", "verify_password", "role_allows", "create_user", "get_user", "find_user", "list_users",
    "update_user", "set_password", "authenticate", "create_token", "list_tokens", "revoke_token",
    "user_for_token", "create_session", "session_for", "end_session", "TOKEN_PREFIX",
]

TOKEN_PREFIX = "lvr_"
_RANK = {"viewer": 0, "editor": 1, "admin": 2}
MIN_PASSWORD = 8


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError:  # pragma: no cover - the web extra is installed in dev
        raise ServiceUnavailableError(
            _("Password hashing needs argon2-cffi."), hint=_("Install it with pip install 'levier[web]'.")
        ) from None
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (refuses passwords shorter than 8 characters)."""
    if len(password or "") < MIN_PASSWORD:
        raise OptionError(_("password: use at least {n} characters.", n=MIN_PASSWORD))
    return str(_hasher().hash(password))


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches the argon2 ``hashed`` value."""
    if not hashed:
        return False
    try:
        return bool(_hasher().verify(hashed, password))
    except Exception:  # argon2 raises VerifyMismatchError / InvalidHash
        return False


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` is at least ``needed`` (viewer < editor < admin)."""
    return _RANK.get(role, -1) >= _RANK[needed]


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    s: Session, username: str, *, role: str = "viewer", password: str | None = None, name: str = "", email: str | None = None
) -> User:
    """A new user; without a password the user can own actions but cannot log in."""
    username = require_text(username, "username").lower()
    check_choice(role, ROLES, "role")
    if s.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise ConflictError(_("A user named '{name}' already exists.", name=username))
    user = User(username=username, role=role, name=name or username, email=email, active=True)
    user.password_hash = hash_password(password) if password is not None else None
    s.add(user)
    s.flush()
    return user


def find_user(s: Session, ref: int | str) -> User | None:
    """The user with id, user name or e-mail ``ref`` (None when unknown)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return s.get(User, int(ref))
    ref = ref.strip().lower()
    return s.scalar(sa.select(User).where(sa.or_(User.username == ref, sa.func.lower(User.email) == ref)))


def get_user(s: Session, ref: int | str) -> User:
    user = find_user(s, ref)
    if user is None:
        raise NotFoundError(_("No user '{ref}'.", ref=ref), hint=_("Create it with `levier user create`."))
    return user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(sa.select(User).order_by(User.id)))


def update_user(s: Session, user_id: int, **fields: Any) -> User:
    """Change name, e-mail, role or active flag."""
    clean_fields(fields, {"name", "email", "role", "active"})
    user = get(s, User, user_id, _("user"))
    if "role" in fields:
        check_choice(fields["role"], ROLES, "role")
    for key, value in fields.items():
        setattr(user, key, value)
    s.flush()
    return user


def set_password(s: Session, user_id: int, password: str) -> User:
    user = get(s, User, user_id, _("user"))
    user.password_hash = hash_password(password)
    s.flush()
    return user


def authenticate(s: Session, username: str, password: str) -> User:
    """The active user with these credentials, else :class:`AuthError` (same message either way)."""
    user = find_user(s, username) if username else None
    if user is None or not user.active or not verify_password(user.password_hash, password):
        raise AuthError(_("Unknown user name or wrong password."))
    return user


def create_token(s: Session, user_id: int, name: str = "api") -> tuple[ApiToken, str]:
    """A new API token for ``user_id``; the secret is returned once and never stored."""
    get(s, User, user_id, _("user"))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user_id, name=require_text(name, "name"), prefix=secret[:10], token_hash=_sha(secret))
    s.add(token)
    s.flush()
    return token, secret


def list_tokens(s: Session, user_id: int | None = None) -> list[ApiToken]:
    stmt = sa.select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list(s.scalars(stmt))


def revoke_token(s: Session, token_id: int) -> ApiToken:
    token = get(s, ApiToken, token_id, _("API token"))
    token.revoked_at = token.revoked_at or utcnow()
    s.flush()
    return token


#: How stale ``ApiToken.last_used_at`` may get before a request refreshes it.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def user_for_token(s: Session, secret: str) -> User:
    """The active user owning the unrevoked token ``secret``; :class:`AuthError` otherwise."""
    token = s.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _sha(secret or "")))
    user = s.get(User, token.user_id) if token is not None and token.revoked_at is None else None
    if token is None or user is None or not user.active:
        raise AuthError(_("Invalid or revoked API token."), hint=_("Create one with `levier user token USER`."))
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now  # at most one write a minute per token, not one per request
    return user


def create_session(s: Session, user_id: int, *, hours: int = 12) -> tuple[LoginSession, str]:
    """A login session (cookie value returned once) with its own CSRF token."""
    secret = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=_sha(secret), user_id=user_id, csrf_token=secrets.token_urlsafe(32), expires_at=utcnow() + timedelta(hours=hours)
    )
    s.add(row)
    s.flush()
    return row, secret


def session_for(s: Session, secret: str, now: datetime | None = None) -> tuple[User, LoginSession]:
    """The user and session of cookie value ``secret``; :class:`AuthError` when unknown or expired."""
    found = s.execute(sa.select(LoginSession, User).join(User, User.id == LoginSession.user_id)
                      .where(LoginSession.token_hash == _sha(secret or ""))).first()  # one query for both
    row, user = found if found is not None else (None, None)
    if row is None or user is None or not user.active or row.expires_at <= (now or utcnow()):
        raise AuthError(_("Your session has expired; log in again."))
    return user, row


def end_session(s: Session, secret: str) -> None:
    s.execute(sa.delete(LoginSession).where(LoginSession.token_hash == _sha(secret or "")))
