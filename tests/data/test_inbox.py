"""The facts inbox: direct writes, queued rows on read-only facts, one batch per flush, no half-writes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from levier.data import inbox
from levier.data.inbox import (
    append_facts,
    discard_pending,
    flush_inbox,
    pending_count,
    pending_facts,
)
from levier.errors import FactsReadOnlyError, SchemaError
from levier.loop.models import FactsInbox
from levier.workspace import Workspace, create_workspace, open_workspace


def _touch(i: int, lead: str = "L1", **extra: object) -> dict[str, object]:
    return {"touch_id": f"t{i}", "lead_id": lead, "at": datetime(2026, 3, 2, 10, i), "channel": "email", **extra}


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    create_workspace(tmp_path / "ws").close()
    return tmp_path / "ws"


@pytest.fixture
def ro(ws_dir: Path) -> Workspace:
    ws = open_workspace(ws_dir, read_only=True)
    yield ws
    ws.close()


def _facts(ws_dir: Path, table: str = "touches") -> list[dict[str, object]]:
    with open_workspace(ws_dir, read_only=True) as ws:
        return ws.facts.raw(table).order_by("_row_id").execute().to_dict("records")


def _imports(ws_dir: Path) -> list[dict[str, object]]:
    with open_workspace(ws_dir, read_only=True) as ws:
        return ws.facts.imports().order_by("batch_id").execute().to_dict("records")


def test_a_writable_workspace_writes_at_once_as_one_batch(ws_dir: Path) -> None:
    with open_workspace(ws_dir) as ws:
        assert ws.facts_writable
        assert append_facts(ws, "touches", [_touch(1), _touch(2, at="2026-03-02T12:00:00+01:00")], source="crm sync") == 2
        assert append_facts(ws, "touches", [_touch(3)], source="crm sync") == 1
        assert pending_count(ws) == {}
    rows = _facts(ws_dir)
    assert [(r["touch_id"], r["_row_id"], r["_batch"]) for r in rows] == [("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 2)]
    assert rows[1]["at"] == datetime(2026, 3, 2, 11, 0)  # +01:00 stored as UTC
    assert [(b["batch_id"], b["file_name"], b["rows_inserted"], b["preset"]) for b in _imports(ws_dir)] == [
        (1, "crm sync", 2, "levier-inbox"), (2, "crm sync", 1, "levier-inbox")]


def test_reuse_batch_keeps_one_batch_per_source(ws_dir: Path) -> None:
    with open_workspace(ws_dir) as ws:
        for i in range(1, 4):
            append_facts(ws, "touches", [_touch(i)], source="(api)", reuse_batch=True)
    assert {r["_batch"] for r in _facts(ws_dir)} == {1}
    assert len(_imports(ws_dir)) == 1


def test_read_only_facts_refuse_writes_and_queue_rows(ws_dir: Path, ro: Workspace) -> None:
    assert not ro.facts_writable
    with pytest.raises(FactsReadOnlyError, match="read-only in this process: 'insert'"):
        ro.facts.con.insert("touches", ro.facts.raw("touches"))
    with pytest.raises(FactsReadOnlyError):
        ro.facts.con.create_table("x", schema={"a": "int64"})
    assert ro.table("touches").count().execute() == 0  # reads still work
    with pytest.raises(FactsReadOnlyError, match="'drop_table'"):
        ro.facts.con.drop_table("touches")
    t = ro.table("touches")
    with t.group_by("channel").agg(n=t.count()).cache() as cached:  # analyses materialise intermediates as temp tables
        assert cached.count().execute() == 0
    with pytest.raises(FactsReadOnlyError):
        ro.facts.con.create_view("v", t)  # a persistent view would write the file
    assert append_facts(ro, "touches", [_touch(1), _touch(2, lead="L2")], source="api") == 2
    assert append_facts(ro, "assignments", [{"experiment_key": "cta", "unit_id": "v1", "variant": "b",
                                             "assigned_at": "2026-03-02"}], source="live") == 1
    assert ro.facts.count("touches") == 0
    assert pending_count(ro) == {"assignments": 1, "touches": 2}
    assert [r["touch_id"] for r in pending_facts(ro, "touches", lead_id="L2")] == ["t2"]
    assert [r["touch_id"] for r in pending_facts(ro, "touches", channel="email")] == ["t1", "t2"]
    assert pending_facts(ro, "assignments", experiment_key="cta") == [
        {"experiment_key": "cta", "unit_id": "v1", "variant": "b", "assigned_at": datetime(2026, 3, 2)}]
    with pytest.raises(FactsReadOnlyError, match="cannot be flushed here"):
        flush_inbox(ro)


def test_flush_applies_one_batch_per_table_and_source_once(ws_dir: Path, ro: Workspace) -> None:
    append_facts(ro, "touches", [_touch(1), _touch(2)], source="api")
    append_facts(ro, "touches", [_touch(3, outcome="replied")], source="api")
    append_facts(ro, "touches", [_touch(4)], source="import bot")
    ro.close()
    with open_workspace(ws_dir) as ws:
        done = flush_inbox(ws)
        assert done.rows == {"touches": 4}
        assert [(b["source"], b["batch_id"], b["rows"]) for b in done.batches] == [("api", 1, 3), ("import bot", 2, 1)]
        assert pending_count(ws) == {}
        assert flush_inbox(ws).batches == ()
    rows = _facts(ws_dir)
    assert [(r["touch_id"], r["_row_id"], r["_batch"], r["outcome"] if isinstance(r["outcome"], str) else None) for r in rows] == [
        ("t1", 1, 1, None), ("t2", 2, 1, None), ("t3", 3, 1, "replied"), ("t4", 4, 2, None)]
    assert all(str(b["file_hash"]).startswith("inbox:") for b in _imports(ws_dir))


@pytest.mark.parametrize(("row", "message"), [
    ({**_touch(9), "colour": "red"}, "touches, row 2: unknown column(s) colour"),
    ({**_touch(9), "channel": "fax"}, "touches, row 2, column channel: 'fax' is not one of email"),
    ({**_touch(9), "at": "not a date"}, "touches, row 2, column at: 'not a date' is not timestamp"),
    ({"touch_id": "t9", "lead_id": "L1", "channel": "call"}, "touches, row 2: the required column at is empty"),
])
def test_a_bad_row_is_named_and_nothing_is_written_or_queued(ws_dir: Path, row: dict[str, object], message: str) -> None:
    with open_workspace(ws_dir) as ws, pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        append_facts(ws, "touches", [_touch(1), row], source="api")
    with open_workspace(ws_dir, read_only=True) as ws, pytest.raises(SchemaError):
        append_facts(ws, "touches", [_touch(1), row], source="api")
    with open_workspace(ws_dir, read_only=True) as ws:
        assert ws.facts.count("touches") == 0 and pending_count(ws) == {}


def test_a_bad_queued_row_blocks_the_flush_until_discarded(ws_dir: Path, ro: Workspace) -> None:
    append_facts(ro, "touches", [_touch(1)], source="api")
    with ro.session() as s:  # e.g. queued by an older version with another schema
        s.add(FactsInbox(table_name="touches", source="api", preset="x", payload={**_touch(2), "at": "2026-03-02", "channel": "pigeon"}))
        s.commit()
        bad = s.scalar(sa.select(sa.func.max(FactsInbox.id)))
    ro.close()
    with open_workspace(ws_dir) as ws:
        with pytest.raises(SchemaError, match=f"row {bad}, column channel: 'pigeon'"):
            flush_inbox(ws)
        assert ws.facts.count("touches") == 0 and pending_count(ws) == {"touches": 2}
        assert discard_pending(ws, [bad]) == 1
        assert flush_inbox(ws).rows == {"touches": 1}


def test_an_interrupted_flush_is_settled_without_duplicates(ws_dir: Path, ro: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    append_facts(ro, "touches", [_touch(1)], source="api")
    append_facts(ro, "touches", [_touch(2)], source="other")
    ro.close()
    with open_workspace(ws_dir) as ws:
        real_delete = sa.delete
        calls = {"n": 0}

        def crash_after_write(*args: object, **kw: object) -> object:  # the facts are written, then the process dies
            calls["n"] += 1
            raise KeyboardInterrupt

        monkeypatch.setattr(inbox.sa, "delete", crash_after_write)
        with pytest.raises(KeyboardInterrupt):
            flush_inbox(ws)
        monkeypatch.setattr(inbox.sa, "delete", real_delete)
        assert ws.facts.count("touches") == 1 and pending_count(ws) == {"touches": 2}
        done = flush_inbox(ws)
        assert done.recovered == 1 and done.rows == {"touches": 1}
        assert sorted(ws.facts.raw("touches").touch_id.execute()) == ["t1", "t2"]
        assert pending_count(ws) == {}


def test_a_stale_claim_of_a_write_that_failed_is_released(ws_dir: Path, ro: Workspace) -> None:
    append_facts(ro, "touches", [_touch(1)], source="api")
    with ro.session() as s:
        s.execute(sa.update(FactsInbox).values(claim="1000000000-deadbeef"))  # claimed long ago, never written
        s.commit()
    ro.close()
    with open_workspace(ws_dir) as ws:
        assert flush_inbox(ws).rows == {"touches": 1}
        assert ws.facts.count("touches") == 1


def test_several_processes_read_one_duckdb_file(ws_dir: Path, ro: Workspace) -> None:
    code = (
        "import sys\n"
        "from levier.errors import EngineError\n"
        "from levier.workspace import open_workspace\n"
        "ws = open_workspace(sys.argv[1], read_only=True)\n"
        "print(ws.facts.count('touches'), ws.facts_writable)\n"
        "ws.close()\n"
        "try:\n"
        "    open_workspace(sys.argv[1])\n"
        "except EngineError as exc:\n"
        "    print('lock' in str(exc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ws_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # a second reader process opens the file; a writer cannot while this process reads it (DuckDB: one writer)
    assert out.stdout.split() == ["0", "False", "True"]


def test_unknown_tables_and_filters_are_named(ro: Workspace) -> None:
    with pytest.raises(SchemaError, match="Unknown facts table 'contacts'"):
        append_facts(ro, "contacts", [{}], source="x")
    with pytest.raises(SchemaError, match="touches has no column colour"):
        pending_facts(ro, "touches", colour="red")
    assert append_facts(ro, "touches", [], source="x") == 0


def test_read_only_in_a_process_that_already_writes_the_file(ws_dir: Path) -> None:
    with open_workspace(ws_dir) as writer, open_workspace(ws_dir, read_only=True) as reader:
        assert writer.facts_writable and not reader.facts_writable
        append_facts(writer, "touches", [_touch(1)], source="api")
        assert reader.facts.count("touches") == 1  # one DuckDB instance per file and process
        with pytest.raises(FactsReadOnlyError):
            reader.facts.con.insert("touches", reader.facts.raw("touches"))
        assert append_facts(reader, "touches", [_touch(2)], source="api") == 1 and pending_count(reader) == {"touches": 1}


def test_the_generic_engine_path_numbers_rows_and_records_the_batch(ws_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spark and warehouses take the two-append path; run it on DuckDB to check its bookkeeping."""
    with open_workspace(ws_dir) as ws:
        monkeypatch.setattr(type(ws.facts), "backend_name", property(lambda _self: "pyspark"))
        append_facts(ws, "touches", [_touch(1), _touch(2)], source="(api)", reuse_batch=True)
        append_facts(ws, "touches", [_touch(3)], source="(api)", reuse_batch=True)
        append_facts(ws, "touches", [_touch(4)], source="sync")
    assert [(r["touch_id"], r["_row_id"], r["_batch"]) for r in _facts(ws_dir)] == [("t1", 1, 1), ("t2", 2, 1), ("t3", 3, 1), ("t4", 4, 2)]
    assert [(b["batch_id"], b["file_name"], b["rows_inserted"]) for b in _imports(ws_dir)] == [(1, "(api)", 0), (2, "sync", 1)]
