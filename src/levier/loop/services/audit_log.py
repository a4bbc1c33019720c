"""The access journal: who viewed, exported or ran what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.loop.models import AccessLog, User

__all__ = ["ACTIONS", "record", "entries"]

ACTIONS = ("view", "export", "run", "login", "logout")


def record(s: Session, user: User | None, action: str, target: str, detail: dict[str, Any] | None = None) -> AccessLog:
    """Journal one access (``action`` in view / export / run / login / logout)."""
    assert action in ACTIONS, action
    row = AccessLog(user_id=user.id if user else None, username=user.username if user else "", action=action, target=target, detail=dict(detail or {}))
    s.add(row)
    s.flush()
    return row


def entries(
    s: Session, *, username: str | None = None, action: str | None = None, since: datetime | None = None, limit: int = 500
) -> list[AccessLog]:
    """Journal rows, newest first, optionally filtered."""
    stmt = sa.select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)
    if username:
        stmt = stmt.where(AccessLog.username == username)
    if action:
        stmt = stmt.where(AccessLog.action == action)
    if since:
        stmt = stmt.where(AccessLog.at >= since)
    return list(s.scalars(stmt))
