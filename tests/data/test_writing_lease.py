"""Every facts writer of a server engine writes under the flush's lease (decision 0211).

The server-engine path (two statements, no multi-table transaction) runs on DuckDB with
``backend_name`` patched; the loop DB is SQLite or PostgreSQL. Set-up: tests/data/inbox_setup.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from inbox_setup import generic, queued_on, touch

from levier.data import inbox_flush
from levier.data.inbox import append_facts, flush_inbox
from levier.data.inbox_flush import Lease, writing
from levier.errors import ConflictError


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")
    monkeypatch.delenv("LEVIER_WEB_WORKERS", raising=False)
    monkeypatch.delenv("LEVIER_INBOX_FLUSH_SECONDS", raising=False)


@contextmanager
def _lease_held(path: Path, monkeypatch: pytest.MonkeyPatch, wait: float) -> Iterator[tuple[object, tuple]]:
    """A server-engine workspace whose flush lease another holder keeps; writers wait ``wait`` s for it.
    Yields the workspace and what it held before (row ids, import records), to compare after."""
    with queued_on("sqlite", path) as ws:
        generic(monkeypatch, ws)
        flush_inbox(ws)
        before = (_row_ids(ws), _imports(ws))
        held = Lease(ws)
        assert held.acquire()
        monkeypatch.setattr(inbox_flush, "WRITE_WAIT_SECONDS", wait)
        try:
            yield ws, before
        finally:
            held.release()


def _imports(ws) -> int:  # noqa: ANN001
    return int(ws.facts.imports().count().execute())


def _row_ids(ws) -> list[tuple[str, int]]:  # noqa: ANN001
    df = ws.facts.raw("touches").order_by("_row_id").execute()
    return [(r["touch_id"], int(r["_row_id"])) for r in df.to_dict("records")]


@pytest.mark.parametrize("loop", ["sqlite", "postgresql"])
def test_a_direct_append_waits_for_the_flush_lease(loop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with queued_on(loop, tmp_path / "ws") as ws:
        generic(monkeypatch, ws)
        assert [b["batch_id"] for b in flush_inbox(ws).batches] == [1, 2]
        flush = Lease(ws)
        assert flush.acquire()  # a flush (another process) is writing
        done = threading.Event()
        t = threading.Thread(target=lambda: (append_facts(ws, "touches", [touch(7)], source="api"), done.set()))
        t.start()
        assert not done.wait(1.0)  # the append waits…
        assert [tid for tid, _ in _row_ids(ws)] == ["t1", "t2", "t3"]  # …and has written nothing
        flush.release()
        assert done.wait(30)
        t.join(30)
        assert _row_ids(ws) == [("t1", 1), ("t2", 2), ("t3", 3), ("t7", 4)]  # numbered after the flush's rows
        assert Lease(ws).acquire()  # the writer released the lease


def test_a_writer_gives_up_with_a_clear_error_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _lease_held(tmp_path / "ws", monkeypatch, 0.5) as (ws, before):
        with pytest.raises(ConflictError) as err:
            append_facts(ws, "touches", [touch(8)], source="api")
        assert "being written by another process (a flush or an import) for more than 0.5 s; nothing was written" in err.value.message
        assert "frees itself after 600 s" in (err.value.hint or "")
        assert (_row_ids(ws), _imports(ws)) == before


def test_a_long_writer_renews_the_lease_so_no_flush_takes_it_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease older than LEASE_SECONDS is taken for a dead flush's: the writer's heartbeat keeps it young."""
    monkeypatch.setattr(inbox_flush, "LEASE_SECONDS", 2)  # stale after 2 s, renewed every 0.5 s
    with queued_on("sqlite", tmp_path / "ws") as ws:
        generic(monkeypatch, ws)
        with writing(ws):
            time.sleep(3.5)  # longer than LEASE_SECONDS: without renewal the lease would look dead
            assert not Lease(ws).acquire()
            assert flush_inbox(ws).busy
            with writing(ws):  # re-entrant in the writing thread
                pass
        assert Lease(ws).acquire()


def test_duckdb_writers_take_no_lease(tmp_path: Path) -> None:
    """One process writes a DuckDB file and its transactions order the writers: no loop-DB lease."""
    with queued_on("sqlite", tmp_path / "ws") as ws:
        held = Lease(ws)
        assert held.acquire()
        with writing(ws, wait=0):
            pass
        assert append_facts(ws, "touches", [touch(9)], source="api") == 1
        held.release()


def test_writers_of_one_process_write_one_at_a_time(tmp_path: Path) -> None:
    """A writer's batch number commits before the next writer's (the KPI watermark on the last
    batch skips none): a second thread's append waits while the first writes."""
    with queued_on("sqlite", tmp_path / "ws") as ws:
        flush_inbox(ws)
        done = threading.Event()
        with writing(ws):
            t = threading.Thread(target=lambda: (append_facts(ws, "touches", [touch(9)], source="api"), done.set()))
            t.start()
            assert not done.wait(0.5)
        assert done.wait(30)
        t.join(30)
        assert _row_ids(ws)[-1] == ("t9", 4)


def test_an_import_from_the_cli_while_a_flush_writes_fails_in_french_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a person sees when `levier import` cannot get the lease on a server engine: the French
    message and hint, no traceback, exit 1, no batch and no row written."""
    from typer.testing import CliRunner

    from levier.cli import app

    with _lease_held(tmp_path / "ws", monkeypatch, 0.3) as (ws, before):
        csv = tmp_path / "crm.csv"
        csv.write_text("touch_id,lead_id,at,channel\nc1,L1,2026-03-01 09:00:00,email\n", encoding="utf-8")
        res = CliRunner().invoke(app, ["import", str(csv), "--table", "touches", "-w", str(ws.path), "--no-validate"], env={"LEVIER_LANG": "fr"})
        assert res.exit_code == 1, res.output
        assert "en cours d'écriture par un autre processus" in res.output and "rien n'a été écrit" in res.output
        assert "levier facts pending" in res.output and "Traceback" not in res.output
        assert (_row_ids(ws), _imports(ws)) == before
