"""One DuckDB facts connection shared by threads (decision 0243): each thread runs on its own cursor.

Every test runs on a real DuckDB file. The first ones fail on a plain shared connection: a query
from one thread closes the stream (or pending result) another thread is reading.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest

from levier.analysis.experiments.engine import stream
from levier.data.facts_threads import ThreadConnection, thread_connection
from levier.workspace import Workspace, create_workspace, open_workspace

UNITS = 60_000
CHUNK = 2_000
SUM = UNITS * (UNITS - 1) // 2
FILL = ("INSERT INTO assignments SELECT 'exp', 'u' || lpad(range::VARCHAR, 6, '0'), CASE WHEN range % 3 = 0 THEN 'b' "
        f"ELSE 'a' END, TIMESTAMP '2027-01-04' + range * INTERVAL 1 SECOND, range, 1 FROM range({UNITS})")


@pytest.fixture(scope="module")
def facts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed workspace whose facts hold :data:`UNITS` assignments (``_row_id`` 0 … UNITS-1)."""
    path = tmp_path_factory.mktemp("threads") / "ws"
    with create_workspace(path) as ws:
        ws.facts.con.raw_sql(FILL)
    return path


@pytest.fixture(params=["read-write", "read-only"])
def ws(request: pytest.FixtureRequest, facts_dir: Path) -> Iterator[Workspace]:
    """The facts as the CLI (read-write) and as a web worker (read-only) open them."""
    w = open_workspace(facts_dir, read_only=request.param == "read-only")
    yield w
    w.close()


def _in_thread(fn: Callable[[], Any]) -> threading.Thread:
    """``fn`` in a thread that records its exception on ``thread.error``."""
    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            t.error = exc  # type: ignore[attr-defined]

    t = threading.Thread(target=run, daemon=True)
    t.error = None  # type: ignore[attr-defined]
    t.start()
    return t


def _count_b(ws: Workspace) -> int:
    a = ws.table("assignments")
    return int(a.filter(a.variant == "b").count().execute())


def test_a_query_in_another_thread_does_not_cut_an_open_stream(ws: Workspace) -> None:
    """The export's stream (engine.stream) half read, another thread queries; the stream still gives every row."""
    opened, queried = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def export() -> None:
        batches = iter(stream(ws, ws.table("assignments").select("_row_id"), CHUNK))
        first = next(batches)
        opened.set()
        assert queried.wait(30)
        rows, total = first.num_rows, sum(first.column(0).to_pylist())
        for b in batches:
            rows, total = rows + b.num_rows, total + sum(b.column(0).to_pylist())
        seen.update(rows=rows, total=total)

    t = _in_thread(export)
    assert opened.wait(30)
    answers = [_count_b(ws) for _ in range(3)]
    queried.set()
    t.join(60)
    assert t.error is None, t.error  # type: ignore[attr-defined]
    assert seen == {"rows": UNITS, "total": SUM}
    assert answers == [UNITS // 3] * 3


def test_a_pending_result_survives_a_query_in_another_thread(ws: Workspace) -> None:
    """``raw_sql`` returns the cursor with its result still to fetch: another thread's query must not close it."""
    ran = threading.Event()
    result = ws.facts.con.raw_sql("SELECT count(*), sum(_row_id) FROM assignments")
    t = _in_thread(lambda: (_count_b(ws), ran.set()))
    assert ran.wait(30)
    t.join(30)
    assert t.error is None, t.error  # type: ignore[attr-defined]
    assert result.fetchone() == (UNITS, SUM)


def test_queries_of_several_threads_at_once_give_their_own_answers(ws: Workspace) -> None:
    a = ws.table("assignments")
    want = {v: int(a.filter(a.variant == v).count().execute()) for v in ("a", "b")}
    got: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(v: str) -> None:
        for _ in range(8):
            n = int(a.filter(a.variant == v).count().execute())
            with lock:
                got.append((v, n))

    threads = [_in_thread(lambda v=v: work(v)) for v in ("a", "b", "a", "b")]
    for t in threads:
        t.join(60)
        assert t.error is None, t.error  # type: ignore[attr-defined]
    assert want == {"a": UNITS - UNITS // 3, "b": UNITS // 3}
    assert sorted(got) == sorted([("a", want["a"])] * 16 + [("b", want["b"])] * 16)


def test_the_same_thread_may_query_while_its_stream_is_open(ws: Workspace) -> None:
    """Its stream keeps the thread's cursor; the thread moves on to a new one and the stream ends whole."""
    con = thread_connection(ws.facts.con)
    assert isinstance(con, ThreadConnection)
    batches = iter(ws.facts.con.to_pyarrow_batches(ws.table("assignments").select("_row_id"), chunk_size=CHUNK))
    first = next(batches)
    before = con.current()
    assert _count_b(ws) == UNITS // 3
    assert con.current() is not before  # the stream holds the first cursor
    rest = [b.num_rows for b in batches]
    assert first.num_rows + sum(rest) == UNITS
    assert before is not None and before.closed  # closed with its stream
    assert _count_b(ws) == UNITS // 3


def test_a_thread_streams_its_own_temporary_table(ws: Workspace) -> None:
    """Temporary tables are per cursor: a thread's stream sees them, another thread does not."""
    con = ws.facts.con
    con.raw_sql("CREATE TEMP TABLE picked AS SELECT unit_id FROM assignments WHERE _row_id < 1000")
    rows = sum(b.num_rows for b in con.to_pyarrow_batches(con.table("picked"), chunk_size=300))
    assert rows == 1000
    seen: list[str] = []
    t = _in_thread(lambda: seen.append(str(con.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'picked'")
                                           .fetchone()[0])))
    t.join(30)
    assert t.error is None and seen == ["0"]  # type: ignore[attr-defined]
    con.raw_sql("DROP TABLE picked")


def test_an_in_memory_table_is_registered_in_every_thread_that_uses_it(ws: Workspace) -> None:
    units = ibis.memtable({"unit_id": [f"u{i:06d}" for i in (0, 3, 4, 7)]})
    a = ws.table("assignments")
    picked = a.semi_join(units, a.unit_id == units.unit_id)
    assert int(picked.count().execute()) == 4
    out: list[int] = []
    t = _in_thread(lambda: out.append(int(picked.filter(picked.variant == "b").count().execute())))
    t.join(30)
    assert t.error is None, t.error  # type: ignore[attr-defined]
    assert out == [2]  # u000000 and u000003


def test_cached_tables_belong_to_their_thread(ws: Workspace) -> None:
    """Two threads caching equal expressions get a table each; one released elsewhere is dropped by its own thread."""
    a = ws.table("assignments")
    expr = a.filter(a.variant == "b").select("unit_id")
    mine = expr.cache()
    theirs: list[int] = []
    t = _in_thread(lambda: theirs.append(int(expr.cache().count().execute())))
    t.join(30)
    assert t.error is None, t.error  # type: ignore[attr-defined]
    assert theirs == [UNITS // 3] and int(mine.count().execute()) == UNITS // 3
    name = mine.op().name
    temp = f"SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '{name}'"
    assert ws.facts.con.raw_sql(temp).fetchone() == (1,)
    released = _in_thread(lambda: ws.facts.con._finalize_cached_table(name))
    released.join(30)
    assert released.error is None  # type: ignore[attr-defined]
    assert ws.facts.con.raw_sql(temp).fetchone() == (0,)  # dropped here, at this thread's next query
    del mine
    gc.collect()


def test_every_thread_runs_with_the_connections_settings(ws: Workspace) -> None:
    """memory_limit and temp_directory are the database's; TimeZone and the replacement scans follow each cursor."""
    names = ("memory_limit", "temp_directory", "TimeZone", "python_enable_replacements")
    sql = "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)
    main = ws.facts.con.raw_sql(sql).fetchone()
    other: list[tuple[Any, ...]] = []
    t = _in_thread(lambda: other.append(ws.facts.con.raw_sql(sql).fetchone()))
    t.join(30)
    assert t.error is None, t.error  # type: ignore[attr-defined]
    assert other == [main] and main[2] == "UTC" and main[3] is False
    if ws.read_only:
        assert "/facts.duckdb.tmp/ro-" in main[1]  # the worker's private spill directory (decision of facts.py)
    assert str(ws.facts.con.settings["memory_limit"]) == main[0]


def test_a_transaction_stays_in_its_thread(facts_dir: Path) -> None:
    """Rows written in an open transaction are not seen (nor committed) by another thread's queries."""
    with open_workspace(facts_dir) as ws:
        con = ws.facts.con
        con.raw_sql("BEGIN TRANSACTION")
        con.raw_sql("INSERT INTO assignments SELECT 'exp', 'extra', 'b', TIMESTAMP '2027-02-01', -1, 1")
        seen: list[int] = []
        t = _in_thread(lambda: seen.append(_count_b(ws)))
        t.join(30)
        assert t.error is None and seen == [UNITS // 3]  # type: ignore[attr-defined]
        assert _count_b(ws) == UNITS // 3 + 1
        con.raw_sql("ROLLBACK")
        assert _count_b(ws) == UNITS // 3


def test_closing_the_workspace_closes_every_threads_cursor(facts_dir: Path) -> None:
    ws = open_workspace(facts_dir, read_only=True)
    con = thread_connection(ws.facts.con)
    assert con is not None
    hold, done = threading.Event(), threading.Event()

    def worker() -> None:
        _count_b(ws)
        done.set()
        hold.wait(30)

    t = _in_thread(worker)
    assert done.wait(30)
    _count_b(ws)
    assert con.sessions() == 2
    ws.close()
    assert con.sessions() == 0
    hold.set()
    t.join(30)


def test_a_thread_that_ends_leaves_its_cursor_to_be_closed_by_a_live_one(facts_dir: Path) -> None:
    """A DuckDB object freed by a thread as it ends can abort the process at exit ("terminate called"):
    an ended thread's cursor is closed and freed later, by the next thread that opens one."""
    import weakref

    with open_workspace(facts_dir, read_only=True) as ws:
        con = thread_connection(ws.facts.con)
        assert con is not None
        refs: list[Any] = []
        t = _in_thread(lambda: (_count_b(ws), refs.append(weakref.ref(con.current()))))
        t.join(30)
        assert t.error is None, t.error  # type: ignore[attr-defined]
        gc.collect()
        ended = refs[0]()
        assert ended is not None and not ended.closed  # not freed by its thread as it ended
        later = _in_thread(lambda: _count_b(ws))
        later.join(30)
        assert later.error is None and ended.closed  # type: ignore[attr-defined]
        del ended
        gc.collect()
        assert refs[0]() is None
