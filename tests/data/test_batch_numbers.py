"""One batch-number sequence for every facts writer (decision 0210): threads racing in the DuckDB
writer process and, for server engines (the two-statement path, run on DuckDB with ``backend_name``
patched), on SQLite and PostgreSQL loop DBs; every writer interleaved with an interrupted flush; an
import paused between its number and its write while a flush runs; the first number after rows
written without one.

Set-up shared with test_inbox_flush.py: tests/data/inbox_setup.py.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import ibis
import pytest
import sqlalchemy as sa
from inbox_setup import Boom, fail_once, generic, queued_on

from levier.analysis.experiments.engine_write import insert_batch
from levier.data import inbox_flush, ingest
from levier.data.clean import clean_workspace
from levier.data.inbox import LEASE_ID, append_facts, flush_inbox, pending_count
from levier.data.inbox_flush import Lease, take_batch, take_run
from levier.data.journal import undo_rule
from levier.loop.models import FactsInbox
from levier.workspace import Workspace, open_workspace

CSV = "touch_id,lead_id,at,channel\nc1,L1,2026-03-01 09:00:00,email\nc2,L2,2026-03-01 10:00:00,call\n"


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")
    monkeypatch.delenv("LEVIER_WEB_WORKERS", raising=False)
    monkeypatch.delenv("LEVIER_INBOX_FLUSH_SECONDS", raising=False)


def _counters(ws: Workspace) -> tuple[str | None, str | None]:
    """The lease row's sequences and lease token."""
    with ws.session() as s:
        row = s.execute(sa.select(FactsInbox.match_key, FactsInbox.claim).where(FactsInbox.id == LEASE_ID)).first()
    return (row[0], row[1]) if row else (None, None)


def _batches(ws: Workspace) -> list[tuple[int, str, str, int, int]]:
    """Per ``_imports`` record: (batch, table, file name, rows it says, rows of the table carrying it)."""
    out = []
    for b in ws.facts.imports().order_by("batch_id").execute().itertuples():
        raw = ws.facts.raw(b.table_name)
        carried = int(raw.filter(raw._batch == int(b.batch_id)).count().execute())
        out.append((int(b.batch_id), b.table_name, Path(b.file_name).name, int(b.rows_inserted), carried))
    return out


ENGINES = [("duckdb", "sqlite"), ("generic", "sqlite"), ("generic", "postgresql")]


@pytest.mark.parametrize(("engine", "loop"), ENGINES)
def test_writers_in_many_threads_never_share_a_number(engine: str, loop: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Six batch takers (8 each), two run takers (4 each) and a flusher cycling the lease, each with
    its own workspace (its own loop DB connections, like processes) on a server engine's sequences
    in the lease row, or in the one process writing a DuckDB file."""
    with queued_on(loop, tmp_path / "ws") as ws:
        if engine == "generic":
            generic(monkeypatch, ws)
        workers = [open_workspace(ws.path, read_only=True) for _ in range(9)]  # one loop connection pool each, like processes
        barrier, batches, runs, held = threading.Barrier(9), [], [], []

        def numbers(w: Workspace, take: object, n: int, out: list[int]) -> None:
            barrier.wait(30)
            out.extend(take(w) for _ in range(n))  # type: ignore[operator]

        def cycle(w: Workspace) -> None:
            barrier.wait(30)
            for _ in range(10):
                lease = Lease(w)
                if lease.acquire():
                    held.append(1)
                    lease.release()

        threads = [threading.Thread(target=numbers, args=(w, take_batch, 8, batches)) for w in workers[:6]]
        threads += [threading.Thread(target=numbers, args=(w, take_run, 4, runs)) for w in workers[6:8]]
        threads.append(threading.Thread(target=cycle, args=(workers[8],)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for w in workers:
            w.close()
        assert sorted(batches) == list(range(1, 49)) and sorted(runs) == list(range(1, 9))
        assert held == [1] * 10  # nobody else held the lease: each acquire succeeded, the counters survived it
        assert _counters(ws) == ("batch:48 run:8" if engine == "generic" else None, None)
        assert Lease(ws).acquire() and take_batch(ws) == 49  # a held lease does not stop numbering


@pytest.mark.parametrize(("engine", "loop"), ENGINES)
def test_every_writer_numbers_from_the_one_sequence(engine: str, loop: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A flush dies after writing batch 1's rows (generic: not its record) or after claiming (DuckDB:
    nothing written); an import, a direct append, an experiments insert, the retry and two cleaning
    writes follow. Each gets its own number; the retry settles batch 1 exactly once.

    Before 0210 the import numbered itself "max(_imports) + 1" = 1 on the generic path: the retry
    then counted the import's rows as batch 1's and wrote the inbox record over them.
    """
    with queued_on(loop, tmp_path / "ws") as ws:
        if engine == "generic":
            generic(monkeypatch, ws)
        target = "_write_record" if engine == "generic" else "_write_batch"
        real = fail_once(monkeypatch, inbox_flush, target)
        with pytest.raises(Boom):
            flush_inbox(ws)
        monkeypatch.setattr(inbox_flush, target, real)
        (tmp_path / "crm.csv").write_text(CSV, encoding="utf-8")
        assert ingest.import_file(ws, tmp_path / "crm.csv", "touches", timezone="UTC").batch_id == 2
        assert append_facts(ws, "spend", [{"date": "2026-03-01", "source": "ads", "cost": 10.0}], source="direct") == 1
        rows = ibis.memtable({"experiment_key": ["cta", "cta"], "unit_id": ["L1", "L2"], "variant": ["a", "b"],
                              "assigned_at": [datetime(2026, 3, 1)] * 2})
        assert insert_batch(ws, "assignments", rows, source="experiment:cta", preset="levier-experiment") == 2
        done = flush_inbox(ws)
        written = 2 if engine == "generic" else 0
        assert done.recovered == written and pending_count(ws) == {}
        flushed = [(b["source"], b["batch_id"], b["rows"]) for b in done.batches]
        assert flushed == ([("sync", 5, 1)] if written else [("api", 5, 2), ("sync", 6, 1)])
        api = 1 if written else 5
        assert sorted(_batches(ws)) == sorted([(api, "touches", "api", 2, 2), (2, "touches", "crm.csv", 2, 2), (3, "spend", "direct", 1, 1),
                                               (4, "assignments", "experiment:cta", 2, 2), (5 if written else 6, "touches", "sync", 1, 1)])
        assert ws.facts.count("touches") == 5  # every queued row once, the import's two
        assert clean_workspace(ws, as_of=datetime(2026, 4, 1)).run_id == 1 and undo_rule(ws, "orphans").run_id == 2
        assert clean_workspace(ws, as_of=datetime(2026, 4, 1), dry_run=True).run_id == 3  # shown, not taken
        assert _counters(ws)[0] == ("batch:5 run:2" if written else None)  # DuckDB: the numbers are this process's


@pytest.mark.parametrize("loop", ["sqlite", "postgresql"])
def test_a_flush_while_an_import_waits_between_its_number_and_its_write(loop: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a server engine an import writes under the flush's lease (decision 0211): a flush started
    while the import writes finds the lease held and does nothing (the import rewrites the table:
    rows appended meanwhile would be lost); the next flush numbers after the import's batch."""
    with queued_on(loop, tmp_path / "ws") as ws:
        generic(monkeypatch, ws)
        numbered, resume, result = threading.Event(), threading.Event(), {}
        real = ingest.write_ibis

        def paused(*args: object) -> object:
            numbered.set()
            assert resume.wait(60)
            return real(*args)

        monkeypatch.setattr(ingest, "write_ibis", paused)
        (tmp_path / "crm.csv").write_text(CSV, encoding="utf-8")
        t = threading.Thread(target=lambda: result.setdefault("import", ingest.import_file(ws, tmp_path / "crm.csv", "touches", timezone="UTC")))
        t.start()
        assert numbered.wait(60)
        busy = flush_inbox(ws)  # the import holds the lease and batch 1, and has written nothing yet
        assert busy.busy and not busy.batches and pending_count(ws)
        resume.set()
        t.join(60)
        flushed = flush_inbox(ws)
        assert [(b["source"], b["batch_id"]) for b in flushed.batches] == [("api", 2), ("sync", 3)]
        assert result["import"].batch_id == 1
        assert _batches(ws) == [(1, "touches", "crm.csv", 2, 2), (2, "touches", "api", 2, 2), (3, "touches", "sync", 1, 1)]


@pytest.mark.parametrize("engine", ["duckdb", "generic"])
def test_the_first_number_clears_rows_written_without_a_record(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sequence with no memory yet (a new process on a DuckDB file, a loop DB that never numbered)
    starts above every ``_batch`` of every table, record or not; afterwards only the small
    ``_imports`` is read."""
    with queued_on("sqlite", tmp_path / "ws") as ws:
        if engine == "generic":
            generic(monkeypatch, ws)
        con = ws.facts.con.con
        con.execute("INSERT INTO spend (date, source, cost, _row_id, _batch) VALUES (DATE '2026-03-01', 'ads', 1.0, 1, 7)")
        con.execute("INSERT INTO _imports (batch_id, table_name, file_name) VALUES (5, 'touches', 'old.csv')")
        assert take_batch(ws) == 8
        con.execute("INSERT INTO spend (date, source, cost, _row_id, _batch) VALUES (DATE '2026-03-02', 'ads', 1.0, 2, 20)")
        assert take_batch(ws) == 9  # the sequence now leads; a row without record can only come from a number it gave
        con.execute("INSERT INTO _imports (batch_id, table_name, file_name) VALUES (30, 'touches', 'by-another-loop-db.csv')")
        assert take_batch(ws) == 31  # ... but a record numbered elsewhere still counts
        assert _counters(ws)[0] == ("batch:31" if engine == "generic" else None)
