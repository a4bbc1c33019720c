"""Exactly-once flushes of the facts inbox: failures injected between the steps, two flushers, queueing rules.

The "generic" path (Spark, PostgreSQL facts, warehouses: rows then ``_imports`` record, two
statements) runs here on DuckDB with ``backend_name`` patched; tests/parity/test_inbox_spark.py
runs the same failures on PySpark. The shared set-up is in tests/data/inbox_setup.py.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from inbox_setup import EXPECTED, Boom, fail_once, generic, pg_database, queued_workspace
from inbox_setup import state as _state
from inbox_setup import touch as _touch

from levier.data import inbox, inbox_flush
from levier.data.inbox import (
    LEASE_ID,
    append_facts,
    flush_inbox,
    inbox_status,
    pending_count,
    pending_facts,
    queues_writes,
    status_at,
)
from levier.data.inbox_flush import Lease, PeriodicFlush, flush_for_tick
from levier.errors import FactsPartialWriteError
from levier.loop.models import FactsInbox
from levier.workspace import Workspace, open_workspace


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")
    monkeypatch.delenv("LEVIER_WEB_WORKERS", raising=False)
    monkeypatch.delenv("LEVIER_INBOX_FLUSH_SECONDS", raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = queued_workspace(tmp_path / "ws")
    yield w
    w.close()


@pytest.fixture(params=["duckdb", "generic"])
def engine(request: pytest.FixtureRequest, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "generic":
        generic(monkeypatch, ws)
    return request.param


def test_a_clean_flush_applies_each_group_as_one_batch(ws: Workspace, engine: str) -> None:
    done = flush_inbox(ws)
    assert [(b["source"], b["batch_id"], b["rows"]) for b in done.batches] == [("api", 1, 2), ("sync", 2, 1)]
    assert _state(ws) == EXPECTED
    assert flush_inbox(ws).batches == ()  # a second flush finds nothing
    assert _state(ws) == EXPECTED


@pytest.mark.parametrize("step", ["claim", "rows", "record"])
def test_a_crash_after_any_step_then_a_retry_applies_every_row_once(ws: Workspace, engine: str, step: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies in the first group (api) right after ``step``; the retry ends where a clean flush does.

    claim: rows claimed in the loop DB, nothing written; rows: the rows are in the facts, not their
    ``_imports`` record (DuckDB writes both in one transaction: nothing is written); record: the
    facts are complete, the inbox rows are not deleted yet. A batch number taken by a write that
    wrote nothing is not given again (decision 0210): that retry's batches are 2 and 3.
    """
    two_statements = engine == "generic"
    target = {"claim": "_claimed", "rows": "_write_record" if two_statements else "_write_batch", "record": "_settle"}[step]
    real = fail_once(monkeypatch, inbox_flush, target)
    with pytest.raises(Boom):
        flush_inbox(ws)
    facts, imports, queued = _state(ws)
    written = {"claim": 0, "rows": 2 if two_statements else 0, "record": 2}[step]
    assert len(facts) == written and queued == {"touches": 3}
    assert len(imports) == (1 if step == "record" else 0)
    monkeypatch.setattr(inbox_flush, target, real)
    done = flush_inbox(ws)
    assert done.recovered == written
    renumbered = ([("t1", 1, 2), ("t2", 2, 2), ("t3", 3, 3)], [(2, "api", 2, True), (3, "sync", 1, True)], {})
    assert _state(ws) == (EXPECTED if written else renumbered)
    assert Lease(ws).acquire()  # the crashed flush released its lease


def test_two_flushers_at_once_apply_each_row_once(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second flush finds the lease held (a flush paused between its steps) and writes nothing."""
    generic(monkeypatch, ws)
    paused, resume, second = threading.Event(), threading.Event(), {}
    real = inbox_flush._write_record

    def slow_record(*args: object, **kw: object) -> None:
        paused.set()
        assert resume.wait(30)
        real(*args, **kw)

    monkeypatch.setattr(inbox_flush, "_write_record", slow_record)
    first = {}
    t = threading.Thread(target=lambda: first.setdefault("done", flush_inbox(ws)))
    t.start()
    assert paused.wait(30)
    second["done"] = flush_inbox(ws)  # the first holds the lease, between rows and record
    resume.set()
    t.join(60)
    assert second["done"].busy and second["done"].batches == ()
    assert first["done"].rows == {"touches": 3}
    assert _state(ws) == EXPECTED


def test_a_stale_lease_is_taken_over_and_the_old_holder_stops(ws: Workspace) -> None:
    dead = Lease(ws)
    assert dead.acquire() and not Lease(ws).acquire()
    with ws.session() as s:  # the holder died 11 minutes ago
        s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID).values(claim=f"{int(time.time()) - 660:010d}-dead"))
        s.commit()
    assert flush_inbox(ws).rows == {"touches": 3}
    with pytest.raises(FactsPartialWriteError, match="lost its lease"):
        dead.renew()
    assert pending_count(ws) == {} and pending_facts(ws, "touches") == []


def test_a_half_written_batch_stops_the_flush_and_names_it(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    generic(monkeypatch, ws)
    real = inbox_flush._write_rows

    def one_row_only(w: Workspace, table: str, data: object, batch: int) -> None:
        real(w, table, data.slice(0, 1), batch)  # type: ignore[attr-defined]
        raise Boom

    monkeypatch.setattr(inbox_flush, "_write_rows", one_row_only)
    with pytest.raises(Boom):
        flush_inbox(ws)
    monkeypatch.setattr(inbox_flush, "_write_rows", real)
    with pytest.raises(FactsPartialWriteError, match=r"touches: batch 1 holds 1 of the 2 queued rows"):
        flush_inbox(ws)
    assert ws.facts.count("touches") == 1 and pending_count(ws) == {"touches": 3}  # nothing more written


def test_several_workers_on_a_server_engine_queue_their_writes(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not queues_writes(ws)
    monkeypatch.setenv("LEVIER_WEB_WORKERS", "3")
    assert not queues_writes(ws)  # DuckDB writable: one process (serve makes several workers read-only)
    generic(monkeypatch, ws)
    refreshed: list[object] = []
    monkeypatch.setattr(inbox, "refresh_after_flush", lambda w, s=None: refreshed.append(w))  # Spark only (parity test)
    assert queues_writes(ws)
    append_facts(ws, "touches", [_touch(4)], source="api")
    assert ws.facts.count("touches") == 0 and pending_count(ws) == {"touches": 4}
    assert [r["touch_id"] for r in pending_facts(ws, "touches", lead_id="L1")] == ["t1", "t2", "t4"]
    assert refreshed == [ws]  # a reader of the queue catches up with the flushes first
    monkeypatch.setenv("LEVIER_WEB_WORKERS", "1")
    append_facts(ws, "touches", [_touch(5)], source="direct")
    assert ws.facts.count("touches") == 1


def test_the_status_counts_claims_and_ages_and_hides_the_lease(ws: Workspace) -> None:
    with ws.session() as s:
        s.execute(sa.update(FactsInbox).where(FactsInbox.source == "api").values(claim="x", created_at=datetime(2026, 1, 1)))
        s.commit()
        assert Lease(ws).acquire()
        status = inbox_status(s)
    assert [(t["table"], t["rows"], t["claimed"], t["oldest_at"]) for t in status.tables] == [("touches", 3, 2, datetime(2026, 1, 1))]
    assert status.tables[0]["oldest_age_s"] == int((status.checked_at - datetime(2026, 1, 1)).total_seconds())
    data = status.to_dict()
    assert data["rows"] == 3 and data["flush_running"] and data["flush_since"][:4] == str(datetime.now().year)
    json.dumps(data)
    assert status_at(ws.path).rows == 3 and pending_count(ws) == {"touches": 3}


def test_the_periodic_flush_applies_rows_queued_while_serving(ws: Workspace) -> None:
    flush_inbox(ws)
    lines: list[str] = []
    flusher = PeriodicFlush(lambda: ws, 0.05, report=lines.append, pending=lambda: status_at(ws.path).rows > 0).start()
    try:
        with open_workspace(ws.path, read_only=True) as ro:
            append_facts(ro, "touches", [_touch(7)], source="api")
        deadline = time.monotonic() + 30
        while pending_count(ws) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        flusher.stop()
    assert pending_count(ws) == {} and ws.facts.count("touches") == 4
    assert flusher.flushes == 1 and lines == ["Queued facts applied: touches 1."]


def test_the_tick_flushes_only_on_a_server_engine_and_when_on(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []

    def opener() -> Workspace:
        opened.append(1)
        return open_workspace(ws.path)

    assert flush_for_tick(ws, opener) is None and not opened  # DuckDB: `levier facts flush` / serve stop
    generic(monkeypatch, ws)
    monkeypatch.setenv("LEVIER_INBOX_FLUSH_SECONDS", "0")
    assert flush_for_tick(ws, opener) is None and not opened
    monkeypatch.delenv("LEVIER_INBOX_FLUSH_SECONDS")
    done = flush_for_tick(ws, opener)
    assert done is not None and done["rows"] == {"touches": 3} and opened == [1]


def test_facts_pending_cli(ws: Workspace, runner) -> None:  # noqa: ANN001
    from levier.cli import app as cli

    r = runner.invoke(cli, ["facts", "pending", "-w", str(ws.path), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [(t["table"], t["rows"], t["claimed"]) for t in data["tables"]] == [("touches", 3, 0)]
    assert data["rows"] == 3 and data["flush_running"] is False and data["tables"][0]["oldest_age_s"] >= 0
    r = runner.invoke(cli, ["facts", "pending", "-w", str(ws.path)])
    assert r.exit_code == 0 and "touches: 3 queued row(s), 0 claimed by a flush, the oldest queued" in r.stdout
    assert Lease(ws).acquire()
    r = runner.invoke(cli, ["facts", "flush", "-w", str(ws.path)])
    assert r.exit_code == 0 and "Another flush holds the lease" in r.stdout
    assert inbox.pending_count(ws) == {"touches": 3}


def test_serve_makes_workers_queue_and_flushes_periodically_on_a_server_engine(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from levier.cli import serve

    ws.close()
    assert serve.prepare_workspace(ws.path, 2) == (ws.path, True)  # DuckDB file: read-only workers, as before
    assert serve.start_periodic_flush(ws.path, True, every=60) is None  # ... and no flush while they hold the file
    generic(monkeypatch, ws)
    monkeypatch.setattr(serve, "_server_engine", lambda _path: True)
    assert serve.prepare_workspace(ws.path, 1) == (ws.path, False)  # one process writes at once
    assert serve.prepare_workspace(ws.path, 2) == (ws.path, True)  # a server engine: read-only workers queue too
    assert serve.start_periodic_flush(ws.path, False, every=60) is None  # nothing is queued with one worker
    assert serve.start_periodic_flush(ws.path, True, every=0) is None  # LEVIER_INBOX_FLUSH_SECONDS=0: off
    monkeypatch.setenv("LEVIER_INBOX_FLUSH_SECONDS", "0")
    assert serve.start_periodic_flush(ws.path, True) is None
    monkeypatch.setenv("LEVIER_INBOX_FLUSH_SECONDS", "1")
    flusher = serve.start_periodic_flush(ws.path, True)
    try:
        assert flusher is not None and flusher.every == 1
        with open_workspace(ws.path, read_only=True) as ro:
            append_facts(ro, "touches", [_touch(8)], source="api")
        deadline = time.monotonic() + 30
        while status_at(ws.path).rows and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        flusher.stop()
    serve._flush_on_stop(ws.path, flusher.ws)
    with open_workspace(ws.path, read_only=True) as ro:
        assert ro.facts.count("touches") == 4 and pending_count(ro) == {}


# -- the loop DB on PostgreSQL (a team server): the lease and the claims on a real server ------------
@pytest.fixture
def pg_ws(tmp_path: Path) -> Workspace:
    """A workspace whose loop DB is a fresh PostgreSQL database (skipped when the server is not there)."""
    with pg_database() as url:
        w = queued_workspace(tmp_path / "ws", db_url=url)
        yield w
        w.close()


def test_on_a_postgresql_loop_db_one_lease_many_contenders_and_a_crash_then_retry(pg_ws: Workspace,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert pg_ws.db_url.startswith("postgresql")
    generic(monkeypatch, pg_ws)
    barrier, won = threading.Barrier(6), []

    def contend() -> None:
        lease = Lease(pg_ws)
        barrier.wait(10)
        if lease.acquire():
            won.append(lease)

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1  # six flushers race for a free lease (insert on the primary key): one wins
    assert flush_inbox(pg_ws).busy
    won[0].release()

    real = fail_once(monkeypatch, inbox_flush, "_write_record")
    with pytest.raises(Boom):
        flush_inbox(pg_ws)
    monkeypatch.setattr(inbox_flush, "_write_record", real)
    facts, imports, queued = _state(pg_ws)
    assert len(facts) == 2 and imports == [] and queued == {"touches": 3}
    assert flush_inbox(pg_ws).recovered == 2
    assert _state(pg_ws) == EXPECTED
