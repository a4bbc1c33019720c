"""Migrations: upgrade from the first revision with data in place; models and migrations agree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import levier
from levier.loop.db import current_revision, head_revision, make_engine, make_sessionmaker, migrate
from levier.loop.models import Base
from levier.loop.services import search

from .conftest import pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'loop.sqlite'}"
        return
    # an empty database: a template that is not migrated
    from .conftest import _pg_admin, _pg_unavailable

    admin = _pg_admin()
    if admin is None:
        _pg_unavailable()
    yield from pg_database("template1")


def _insert_first_revision_rows(con: sa.Connection) -> None:
    con.execute(sa.text("INSERT INTO users (id, username, name, role, active, created_at) VALUES (1, 'ana', 'Ana', 'editor', true, '2026-01-05 09:00:00')"))
    con.execute(sa.text(
        "INSERT INTO retros (id, template, title, objective, participants, status, held_at, created_at) "
        "VALUES (1, 'weekly_micro_retro', 'W1', 'landing → form', '[]', 'open', '2026-01-05 10:00:00', '2026-01-05 10:00:00')"
    ))
    con.execute(sa.text(
        "INSERT INTO actions (id, retro_id, title, owner_id, due_date, kpi_key, target, window_start, window_end, status, created_at) "
        "VALUES (1, 1, 'Shorter form', 1, '2026-02-01', 'conversion_rate', 0.2, '2026-01-02', '2026-02-01', 'open', '2026-01-05 10:00:00')"
    ))
    con.execute(sa.text(
        "INSERT INTO learnings (id, retro_id, title, body, outcome, cause, lesson, evidence, created_at) "
        "VALUES (1, 1, 'Shorter forms convert', 'Three fields beat seven on mobile', 'success', '', 'keep forms short', '[]', '2026-01-20 10:00:00')"
    ))


def test_upgrade_from_first_revision_keeps_data(empty_url: str) -> None:
    assert migrate(empty_url, "0001") == "0001"
    engine = make_engine(empty_url)
    with engine.begin() as con:
        _insert_first_revision_rows(con)
    assert migrate(empty_url) == head_revision()
    with engine.connect() as con:
        assert con.execute(sa.text("SELECT username FROM users")).scalars().all() == ["ana"]
        row = con.execute(sa.text("SELECT title, overdue_notified_at, due_soon_notified_at FROM actions")).one()
        assert tuple(row) == ("Shorter form", None, None)
        assert con.execute(sa.text("SELECT count(*) FROM webhooks")).scalar() == 0
    with make_sessionmaker(engine)() as s:  # the learning written at revision 1 is searchable
        hits = search.search(s, "mobile fields")
        assert [(h["kind"], h["id"]) for h in hits] == [("learning", 1)]
    engine.dispose()


def test_migrate_is_idempotent_and_models_match_migrations(db_url: str) -> None:
    assert migrate(db_url) == head_revision()
    engine = make_engine(db_url)
    with engine.connect() as con:
        ctx = MigrationContext.configure(con, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if "loop_search" not in repr(d) and "_fts" not in repr(d)]
    assert diff == []
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_workspace_create_and_open_upgrade_the_loop_db(tmp_path: Path) -> None:
    ws_dir = tmp_path / "w"
    levier.create_workspace(ws_dir).close()
    db = ws_dir / "loop.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    assert current_revision(engine) == head_revision()
    # simulate a workspace made by an older Levier: downgrade to revision 1 with a row in place
    from alembic import command

    from levier.loop.db import _alembic_config

    cfg = _alembic_config()
    with engine.begin() as con:
        cfg.attributes["connection"] = con
        command.downgrade(cfg, "0001")
        con.execute(sa.text("INSERT INTO users (username, name, role, active, created_at) VALUES ('bo', 'Bo', 'viewer', true, '2026-01-01')"))
    assert current_revision(engine) == "0001"
    with levier.open_workspace(ws_dir) as ws, ws.session() as s:
        assert current_revision(ws.engine) == head_revision()
        assert s.execute(sa.text("SELECT username FROM users")).scalars().all() == ["bo"]
    engine.dispose()
