"""Users, roles, argon2 hashes, API tokens and login sessions (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from levier.errors import AuthError, ConflictError, OptionError
from levier.loop.models import utcnow
from levier.loop.services import users


def test_users_roles_and_passwords(s) -> None:  # noqa: ANN001
    admin = users.create_user(s, "Admin", role="admin", password="correct horse")
    assert admin.username == "admin"
    assert admin.password_hash.startswith("$argon2id$")
    assert "password_hash" not in admin.to_dict() and admin.to_dict()["can_log_in"] is True
    assert users.authenticate(s, "admin", "correct horse").id == admin.id
    with pytest.raises(AuthError):
        users.authenticate(s, "admin", "wrong password")
    with pytest.raises(ConflictError):
        users.create_user(s, "admin")
    with pytest.raises(OptionError):
        users.create_user(s, "x", role="owner")
    with pytest.raises(OptionError, match="8 characters"):
        users.create_user(s, "y", password="short")
    owner = users.create_user(s, "sdr1", email="SDR1@example.com")
    assert users.find_user(s, "sdr1@example.com").id == owner.id
    with pytest.raises(AuthError):
        users.authenticate(s, "sdr1", "")
    assert [users.role_allows(r, "editor") for r in ("viewer", "editor", "admin")] == [False, True, True]


def test_api_tokens(s) -> None:  # noqa: ANN001
    u = users.create_user(s, "bot", role="editor")
    token, secret = users.create_token(s, u.id, "ci")
    assert secret.startswith("lvr_") and token.token_hash != secret and "token_hash" not in token.to_dict()
    assert users.user_for_token(s, secret).id == u.id
    assert token.last_used_at is not None
    users.revoke_token(s, token.id)
    with pytest.raises(AuthError):
        users.user_for_token(s, secret)
    with pytest.raises(AuthError):
        users.user_for_token(s, "lvr_forged")


def test_token_use_is_recorded_at_most_once_a_minute(s) -> None:  # noqa: ANN001
    from datetime import timedelta

    u = users.create_user(s, "toucher", role="viewer")
    token, secret = users.create_token(s, u.id, "ci")
    users.user_for_token(s, secret)
    first = token.last_used_at
    assert first is not None
    users.user_for_token(s, secret)
    assert token.last_used_at == first  # no write per request
    token.last_used_at = first - users.TOKEN_TOUCH_INTERVAL - timedelta(seconds=1)
    users.user_for_token(s, secret)
    assert token.last_used_at > first


def test_sessions_expire(s) -> None:  # noqa: ANN001
    u = users.create_user(s, "ana", password="long enough")
    row, secret = users.create_session(s, u.id, hours=1)
    assert users.session_for(s, secret)[0].id == u.id
    assert len(row.csrf_token) >= 32
    with pytest.raises(AuthError):
        users.session_for(s, secret, now=utcnow() + timedelta(hours=2))
    users.end_session(s, secret)
    with pytest.raises(AuthError):
        users.session_for(s, secret)


def test_session_lookup_is_one_query_and_refuses_inactive_users(s) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    u = users.create_user(s, "bea", password="long enough")
    row, secret = users.create_session(s, u.id, hours=1)
    s.commit()
    s.expire_all()
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = s.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        user, found = users.session_for(s, secret)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert (user.id, found.id) == (u.id, row.id) and len(statements) == 1 and "JOIN" in statements[0]
    users.update_user(s, u.id, active=False)
    with pytest.raises(AuthError):
        users.session_for(s, secret)
