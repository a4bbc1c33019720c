"""Engines, sessions and migrations of the loop store (SQLite file by default, PostgreSQL too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from levier.errors import ConfigError
from levier.i18n import gettext as _

__all__ = ["make_engine", "migrate", "current_revision", "head_revision", "session_scope", "make_sessionmaker"]


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # WAL: readers do not block the writer (several API workers) and commits need fewer fsyncs.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for ``url``; SQLite gets foreign keys and a busy timeout."""
    try:
        engine = sa.create_engine(url, future=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(_("Invalid loop database URL '{url}': {problem}", url=url, problem=exc)) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("levier.loop") / "migrations"))
    return cfg


@cache
def head_revision() -> str:
    """The newest migration shipped with this version of Levier."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()


def migrate(url_or_engine: str | sa.Engine, revision: str = "head") -> str | None:
    """Upgrade the loop database to ``revision`` (default: the newest); returns the revision.

    Idempotent and cheap when the database is already current. Existing rows are kept.
    """
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        if revision == "head" and current_revision(engine) == head_revision():
            return head_revision()
        cfg = _alembic_config()
        with engine.begin() as con:
            cfg.attributes["connection"] = con
            command.upgrade(cfg, revision)
        return current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise ConfigError(
            _("Cannot open the loop database '{url}': {problem}", url=engine.url.render_as_string(hide_password=True), problem=getattr(exc, "orig", exc))
        ) from None
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)


@contextmanager
def transaction(factory: Any) -> Iterator[Session]:
    """A session from ``factory`` committed on success, rolled back on error, always closed.

    The one unit-of-work rule of the loop: CLI commands, API routes and pages all use it.
    """
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    with transaction(make_sessionmaker(engine)) as session:
        yield session
