"""The facts inbox on PySpark (local mode): queued by read-only workers, flushed exactly once through crashes.

Spark has no transaction over the rows and their ``_imports`` record: the flush writes the rows
tagged with their batch, then the record, and a retry detects a batch whose rows are there.
Never close a Spark workspace here (it would stop the shared session of tests/parity/conftest.py).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pytest

from levier.data import inbox_flush
from levier.data.facts import Facts
from levier.data.inbox import (
    append_facts,
    flush_inbox,
    pending_count,
    pending_facts,
    queues_writes,
    refresh_after_flush,
)
from levier.data.inbox_flush import Lease
from levier.workspace import Workspace, create_workspace, open_workspace

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]
_n = itertools.count(1)


class Boom(Exception):
    """The injected crash."""


def _touch(i: int) -> dict[str, object]:
    return {"touch_id": f"t{i}", "lead_id": f"L{i % 2}", "at": datetime(2026, 3, 2, 10, i), "channel": "call"}


def _state(ws: Workspace) -> tuple[list[tuple[str, int, int]], list[tuple[int, str, int]], dict[str, int]]:
    rows = ws.facts.raw("touches").order_by("_row_id").execute().to_dict("records")
    imports = ws.facts.imports().order_by("batch_id").execute().to_dict("records")
    return ([(r["touch_id"], int(r["_row_id"]), int(r["_batch"])) for r in rows],
            [(int(b["batch_id"]), b["file_name"], int(b["rows_inserted"])) for b in imports], pending_count(ws))


def _crash_once(monkeypatch: pytest.MonkeyPatch, name: str, nth: int = 1) -> None:
    real = getattr(inbox_flush, name)
    calls = {"n": 0}

    def crash(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            raise Boom
        return real(*args, **kw)

    monkeypatch.setattr(inbox_flush, name, crash)


def test_spark_inbox_flushes_exactly_once_through_crashes(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")
    database = f"levier_inbox_{next(_n)}"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    spark.catalog.setCurrentDatabase(database)
    ws = create_workspace(tmp_path / "spark", facts_url="pyspark://local[1]")  # the flusher (never closed)
    assert ws.facts.backend_name == "pyspark"

    # several workers on Spark: each queues (read-only facts, or LEVIER_WEB_WORKERS > 1); this
    # worker has its own Spark session, as a worker process would
    worker = open_workspace(tmp_path / "spark", read_only=True)
    other = spark.newSession()
    other.catalog.setCurrentDatabase(database)
    worker.facts = Facts(ibis.pyspark.connect(other), worker.facts.url)
    assert queues_writes(worker)
    append_facts(worker, "touches", [_touch(1), _touch(2)], source="api")
    monkeypatch.setenv("LEVIER_WEB_WORKERS", "2")
    assert queues_writes(ws)
    append_facts(ws, "touches", [_touch(3)], source="sync")
    monkeypatch.delenv("LEVIER_WEB_WORKERS")
    assert ws.facts.count("touches") == 0 and pending_count(worker) == {"touches": 3}
    assert [r["touch_id"] for r in pending_facts(worker, "touches", lead_id="L1")] == ["t1", "t3"]
    assert worker.facts.count("touches") == 0  # read after its first refresh: the session caches the file list

    # the process dies after the rows are written, before their _imports record
    real = inbox_flush._write_record
    _crash_once(monkeypatch, "_write_record")
    with pytest.raises(Boom):
        flush_inbox(ws)
    monkeypatch.setattr(inbox_flush, "_write_record", real)
    assert _state(ws) == ([("t1", 1, 1), ("t2", 2, 1)], [], {"touches": 3})
    other = Lease(ws)  # a second flusher holds the lease: this one writes nothing
    assert other.acquire()
    assert flush_inbox(ws).busy and ws.facts.count("touches") == 2
    other.release()
    done = flush_inbox(ws)  # the retry finds batch 1's rows, records them, applies the rest
    assert done.recovered == 2 and [(b["source"], b["batch_id"], b["rows"]) for b in done.batches] == [("sync", 2, 1)]
    assert _state(ws) == ([("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 2)], [(1, "api", 2), (2, "sync", 1)], {})
    # the worker's session still lists the old files (Spark caches them per session) until a
    # reader finds the flush noted in the lease row
    assert worker.facts.count("touches") == 0
    assert pending_facts(worker, "touches") == [] and worker.facts.count("touches") == 3
    assert not refresh_after_flush(worker)  # nothing new since


def test_spark_retry_detects_the_written_batch(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")
    database = f"levier_inbox_{next(_n)}"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    spark.catalog.setCurrentDatabase(database)
    ws = create_workspace(tmp_path / "spark", facts_url="pyspark://local[1]")
    worker = open_workspace(tmp_path / "spark", read_only=True)
    append_facts(worker, "touches", [_touch(1), _touch(2)], source="api")
    append_facts(worker, "touches", [_touch(3)], source="sync")

    real_record, real_settle = inbox_flush._write_record, inbox_flush._settle
    _crash_once(monkeypatch, "_write_record")  # rows of batch 1 written, no record
    with pytest.raises(Boom):
        flush_inbox(ws)
    monkeypatch.setattr(inbox_flush, "_write_record", real_record)
    _crash_once(monkeypatch, "_settle", nth=2)  # the retry settles batch 1, writes batch 2 fully, dies before its clean-up
    with pytest.raises(Boom):
        flush_inbox(ws)
    assert _state(ws) == ([("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 2)], [(1, "api", 2), (2, "sync", 1)], {"touches": 1})
    monkeypatch.setattr(inbox_flush, "_settle", real_settle)
    done = flush_inbox(ws)
    assert done.recovered == 1 and done.batches == ()
    assert flush_inbox(ws).batches == ()
    assert _state(ws) == ([("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 2)], [(1, "api", 2), (2, "sync", 1)], {})
