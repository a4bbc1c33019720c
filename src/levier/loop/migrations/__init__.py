"""Alembic environment of the loop store, shipped in the package (see :func:`levier.loop.migrate`)."""
