"""A cheap, coherent API-token check for the hot policy endpoint (``POST /api/v1/policy/check``).

The standard dependency (:func:`levier.web.deps.current_user`) opens a SQLAlchemy session and
runs two ORM queries in the thread pool on every request: ~2–5 ms of CPU, far more than the
check itself (~0.05 ms). Here a worker process remembers ``sha256(token) → (user id, role)``
for at most :attr:`TokenCache.TTL` seconds, and forgets everything as soon as the loop
database changes: on a SQLite loop DB, ``PRAGMA data_version`` on a dedicated connection moves
whenever any other connection — another worker, this worker's pool, the CLI — commits, so a
revoked token, a deactivated user or a changed role is refused by every worker on its next
request (docs/decisions/0141-policy-check-fast-path.md). On another loop database (PostgreSQL)
there is no such marker and the cache is off: every request takes the standard path.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from levier.errors import AuthError, PermissionDeniedError
from levier.i18n import gettext as _
from levier.loop.db import transaction
from levier.loop.services import users

__all__ = ["TokenCache", "authorise"]


class TokenCache:
    """Per-process token → (user id, role, username) map, emptied when the loop DB changes."""

    #: Seconds an entry is trusted even when nothing changed (bounds ``last_used_at`` staleness).
    TTL = 30.0
    MAX = 10_000

    def __init__(self, engine: Any) -> None:
        db = engine.url.database if engine.dialect.name == "sqlite" else None
        self.enabled = bool(db) and db != ":memory:" and not str(db).startswith("file:")
        self._con = sqlite3.connect(str(db), check_same_thread=False, isolation_level=None) if self.enabled else None
        self._lock = threading.Lock()
        self._version: int | None = None
        self._users: dict[str, tuple[float, int, str, str]] = {}

    def version(self) -> int | None:
        """The loop DB's change marker (None when the cache is off)."""
        if self._con is None:
            return None
        with self._lock:
            return int(self._con.execute("PRAGMA data_version").fetchone()[0])

    def get(self, key: str) -> tuple[int, str, str] | None:
        """(user id, role, username) of a token hash, or None when unknown, expired or the DB changed."""
        version = self.version()
        if version is None:
            return None
        if version != self._version:
            self._users, self._version = {}, version
            return None
        found = self._users.get(key)
        if found is None or time.monotonic() - found[0] > self.TTL:
            return None
        return found[1], found[2], found[3]

    def put(self, key: str, user_id: int, role: str, username: str, seen_version: int | None) -> None:
        """Remember a token only if the DB did not change since ``seen_version`` (read before the look-up)."""
        if seen_version is None or self.version() != seen_version or seen_version != self._version:
            return
        if len(self._users) >= self.MAX:
            self._users = {}
        self._users[key] = (time.monotonic(), user_id, role, username)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


_CACHES_LOCK = threading.Lock()


def _cache(request: Request) -> TokenCache:
    state = request.app.state
    cache = getattr(state, "policy_tokens", None)
    if cache is None:
        with _CACHES_LOCK:
            cache = getattr(state, "policy_tokens", None)
            if cache is None:
                cache = state.policy_tokens = TokenCache(state.workspace.engine)
    return cache


def _lookup(request: Request, secret: str) -> tuple[int, str, str]:
    """The standard token look-up (updates ``last_used_at`` at most once a minute), in a worker thread."""
    with transaction(request.app.state.sessionmaker) as s:
        user = users.user_for_token(s, secret)
        return user.id, user.role, user.username


async def authorise(request: Request, role: str = "viewer") -> tuple[int, str, str]:
    """(user id, role, username) of the request's API token, at least ``role``; cookie sessions take the standard path."""
    auth = request.headers.get("authorization", "")
    if not auth:
        from levier.web.deps import current_user

        with transaction(request.app.state.sessionmaker) as s:
            user = await current_user(request, s)
            found = (user.id, user.role, user.username)
    else:
        scheme, _sep, secret = auth.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise AuthError(_("Use 'Authorization: Bearer <token>'."))
        cache = _cache(request)
        key = hashlib.sha256(secret.encode()).hexdigest()
        hit = cache.get(key)
        if hit is None:
            seen = cache.version()
            hit = await run_in_threadpool(_lookup, request, secret)
            cache.put(key, *hit, seen_version=seen)
        found = hit
    if not users.role_allows(found[1], role):
        raise PermissionDeniedError(_("Your role ({role}) cannot do this; it needs {needed}.", role=found[1], needed=role))
    return found
