"""The set-up the facts-inbox and batch-number tests share (tests/data/test_inbox_flush.py,
tests/data/test_batch_numbers.py): a workspace with three queued touches, on a SQLite or a fresh
PostgreSQL loop DB, the two-statement ("generic") engine path, failures injected once, and the state
of the facts read back.

PostgreSQL comes from scripts/test-setup.sh (127.0.0.1:54329; override with LEVIER_TEST_PG_URL):
unreachable, the PostgreSQL cases fail under CI=true and are skipped elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from levier.data.inbox import append_facts, pending_count
from levier.workspace import Workspace, create_workspace, open_workspace

PG_URL = os.environ.get("LEVIER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:54329/postgres")

#: the state after a clean flush of the three queued touches: (touch_id, _row_id, _batch) of the
#: facts, (batch, source, rows, from the inbox) of ``_imports``, the inbox
EXPECTED = ([("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 2)], [(1, "api", 2, True), (2, "sync", 1, True)], {})


class Boom(Exception):
    """The injected crash."""


def touch(i: int, lead: str = "L1") -> dict[str, object]:
    return {"touch_id": f"t{i}", "lead_id": lead, "at": datetime(2026, 3, 2, 10, i), "channel": "email"}


def queued_workspace(path: Path, db_url: str | None = None) -> Workspace:
    """A writable workspace with 3 touches queued (sources api ×2, sync ×1) by a read-only twin."""
    create_workspace(path, db_url=db_url).close()
    w = open_workspace(path)
    with open_workspace(path, read_only=True) as ro:
        append_facts(ro, "touches", [touch(1), touch(2)], source="api")
        append_facts(ro, "touches", [touch(3, lead="L2")], source="sync")
    return w


def generic(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> None:
    """Run the facts writes of ``ws`` on the two-statement path of Spark and warehouses (rows, then record)."""
    monkeypatch.setattr(type(ws.facts), "backend_name", property(lambda _self: "pyspark"))


def fail_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Callable[..., Any]:
    """Make ``module.name`` raise :class:`Boom` on its first call (then behave); returns the real function."""
    real = getattr(module, name)
    calls = {"n": 0}

    def crash(*args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Boom
        return real(*args, **kw)

    monkeypatch.setattr(module, name, crash)
    return real


def state(ws: Workspace, table: str = "touches") -> tuple[list[tuple[str, int, int]], list[tuple[int, str, int, bool]], dict[str, int]]:
    """(touch_id, _row_id, _batch) of the facts, (batch, source, rows, inbox-claimed) of _imports, the inbox."""
    rows = ws.facts.raw(table).order_by("_row_id").execute()
    imports = ws.facts.imports().order_by("batch_id").execute()
    return ([(r["touch_id"], int(r["_row_id"]), int(r["_batch"])) for r in rows.to_dict("records")],
            [(int(b.batch_id), b.file_name, int(b.rows_inserted), str(b.file_hash).startswith("inbox:")) for b in imports.itertuples()],
            pending_count(ws))


@contextmanager
def pg_database() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards (skip or fail when unreachable)."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"levier_inbox_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        admin.dispose()
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL}: run `bash scripts/test-setup.sh`")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: run `bash scripts/test-setup.sh`")
    try:
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def queued_on(loop: str, path: Path) -> Iterator[Workspace]:
    """:func:`queued_workspace` whose loop DB is SQLite (``loop="sqlite"``) or a fresh PostgreSQL database."""
    if loop == "sqlite":
        w = queued_workspace(path)
        try:
            yield w
        finally:
            w.close()
        return
    with pg_database() as url:
        w = queued_workspace(path, db_url=url)
        try:
            yield w
        finally:
            w.close()
