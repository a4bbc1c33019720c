"""Alembic environment: run programmatically by :func:`levier.loop.db.migrate`.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
``alembic.ini``. Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from levier.loop.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
