"""The loop store: cycles, retros, actions, learnings, playbook (SQLAlchemy + Alembic).

``levier.loop.migrate(url)`` upgrades a loop database to the newest schema; the services in
:mod:`levier.loop.services` take a SQLAlchemy ``Session`` (see ``Workspace.session()``).
"""

from __future__ import annotations

from levier.loop.db import current_revision, head_revision, make_engine, migrate, session_scope

__all__ = ["migrate", "make_engine", "current_revision", "head_revision", "session_scope"]
