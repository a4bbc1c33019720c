"""Users and API tokens (admin only, except a user's own tokens)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.errors import PermissionDeniedError
from levier.i18n import gettext as _
from levier.loop.services import users
from levier.web.deps import Admin, Db, Viewer
from levier.web.schemas import TokenIn, UserIn, UserPatch

router = APIRouter(tags=["users"])


@router.get("/users")
def list_users(_user: Viewer, s: Db) -> list[dict[str, Any]]:
    """Every user (owners of actions are users too)."""
    return [u.to_dict() for u in users.list_users(s)]


@router.post("/users", status_code=201)
def create_user(body: UserIn, _admin: Admin, s: Db) -> dict[str, Any]:
    return users.create_user(s, body.username, role=body.role, password=body.password, name=body.name, email=body.email).to_dict()


@router.patch("/users/{user_id}")
def update_user(user_id: int, body: UserPatch, _admin: Admin, s: Db) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    password = fields.pop("password", None)
    user = users.update_user(s, user_id, **fields)
    if password:
        users.set_password(s, user_id, password)
    return user.to_dict()


@router.post("/users/{user_id}/tokens", status_code=201)
def create_token(user_id: int, body: TokenIn, user: Viewer, s: Db) -> dict[str, Any]:
    """A new API token (shown once). Admins may create tokens for anyone, others for themselves."""
    if user.id != user_id and user.role != "admin":
        raise PermissionDeniedError(_("You can only create API tokens for yourself."))
    token, secret = users.create_token(s, user_id, body.name)
    return {**token.to_dict(), "token": secret}


@router.get("/tokens")
def list_tokens(user: Viewer, s: Db) -> list[dict[str, Any]]:
    return [t.to_dict() for t in users.list_tokens(s, None if user.role == "admin" else user.id)]


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, user: Viewer, s: Db) -> dict[str, Any]:
    mine = {t.id for t in users.list_tokens(s, user.id)}
    if token_id not in mine and user.role != "admin":
        raise PermissionDeniedError(_("You can only revoke your own API tokens."))
    return users.revoke_token(s, token_id).to_dict()
