"""Loop store fixtures: a migrated database on SQLite and on a real PostgreSQL server.

PostgreSQL comes from scripts/test-setup.sh (cluster on 127.0.0.1:54329, trust auth);
override with LEVIER_TEST_PG_URL. When it is unreachable the PostgreSQL cases FAIL under
CI=true and are skipped (with the reason) elsewhere.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.loop.db import make_engine, make_sessionmaker, migrate

PG_URL = os.environ.get("LEVIER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:54329/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin() -> sa.Engine | None:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return engine
    except Exception:
        engine.dispose()
        return None


def _pg_unavailable() -> None:
    reason = f"PostgreSQL not reachable at {PG_URL}: run `bash scripts/test-setup.sh` (as root it installs and starts it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def _with_db(url: str, name: str) -> str:
    return str(sa.make_url(url).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL template database (None when the server is unreachable)."""
    admin = _pg_admin()
    if admin is None:
        yield None
        return
    name = f"levier_tpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    migrate(_with_db(PG_URL, name))
    yield name
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "loop.sqlite"
    migrate(f"sqlite:///{path}")
    return path


def pg_database(pg_template: str | None) -> Iterator[str]:
    if pg_template is None:
        _pg_unavailable()
    admin = _pg_admin()
    assert admin is not None
    name = f"levier_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield _with_db(PG_URL, name)
    finally:
        with admin.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None) -> Iterator[str]:
    """A migrated, empty loop database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "loop.sqlite"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        yield from pg_database(pg_template)


@pytest.fixture
def s(db_url: str) -> Iterator[Session]:
    """A session on a migrated database, for each backend (committed state is per test)."""
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def insert_facts(ws, name: str, rows: list[dict]) -> None:  # noqa: ANN001
    """Insert canonical rows into raw table ``name`` with ``_row_id`` and ``_batch``."""
    schema = ws.facts.raw_schema(name)
    frame = pd.DataFrame(rows)
    for col in schema.names:
        if col not in frame:
            frame[col] = None
    frame["_row_id"] = range(1, len(frame) + 1)
    frame["_batch"] = 1
    frame = frame[list(schema.names)]
    for col, dtype in schema.items():
        if dtype.is_timestamp():
            frame[col] = pd.to_datetime(frame[col])
        elif dtype.is_int64():
            frame[col] = frame[col].astype("int64")
    ws.facts.con.insert(name, frame)
