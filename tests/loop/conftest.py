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


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in English (the msgids) so tests can match them."""
    monkeypatch.setenv("LEVIER_LANG", "en")


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


def insert_january(ws) -> None:  # noqa: ANN001
    """Six leads created in January 2026 (4 inbound, 2 outbound) and one in February.

    With the catalogue's definitions (docs/kpis.md; conversion = reached ``opportunity`` within
    30 days): conversion 3/6 = 0.5 (L1, L3, L5), inbound 2/4 = 0.5; TTF hours 1, 3, 2, 10 →
    median 2.5 (inbound 2.0); complaints 1 of 4 outbound touches = 0.25.
    """
    leads = [
        ("L1", "2026-01-05 09:00", "inbound"), ("L2", "2026-01-06 09:00", "inbound"), ("L3", "2026-01-07 09:00", "inbound"),
        ("L4", "2026-01-08 09:00", "inbound"), ("L5", "2026-01-09 09:00", "outbound"), ("L6", "2026-01-10 09:00", "outbound"),
        ("L7", "2026-02-15 09:00", "inbound"),
    ]
    insert_facts(ws, "leads", [{"lead_id": i, "created_at": t, "channel": c} for i, t, c in leads])
    stages = [("L1", "opportunity"), ("L2", "won"), ("L3", "opportunity"), ("L5", "opportunity"), ("L7", "opportunity"), ("L4", "mql")]
    insert_facts(ws, "stage_events", [{"lead_id": i, "stage": st, "at": "2026-01-20 10:00"} for i, st in stages])
    touches = [
        ("T1", "L1", "2026-01-05 10:00", "out", "delivered"), ("T2", "L2", "2026-01-06 12:00", "out", "delivered"),
        ("T3", "L3", "2026-01-07 11:00", "out", "complaint"), ("T4", "L5", "2026-01-09 19:00", "out", "replied"),
        ("T5", "L1", "2026-01-12 10:00", "in", "replied"),
    ]
    insert_facts(ws, "touches", [
        {"touch_id": t, "lead_id": lead, "at": at, "direction": d, "outcome": o, "channel": "email"} for t, lead, at, d, o in touches
    ])
