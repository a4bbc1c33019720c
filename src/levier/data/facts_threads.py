"""One DuckDB session per thread behind one Ibis backend (decision 0243).

A DuckDB connection runs one statement at a time and keeps one open result: a second
``execute`` — from any thread — closes the first one's result. A web worker shares its facts
backend between the request threads, the figures warm-up and the policy: a query from one
closed another's Arrow stream half-way (a truncated export, a status 500 in the deploy smoke).

:func:`per_thread` makes that impossible to forget. The backend keeps its one Ibis object
(expressions bound to it run anywhere), but its DuckDB connection (``backend.con``) becomes a
:class:`ThreadConnection`: every thread that touches it gets its own cursor (``con.cursor()``: a
session of the same database instance), opened on first use. What DuckDB keeps per session
follows the thread: temporary tables, registered Arrow data, transactions, session settings
(``TimeZone``, ``python_enable_replacements``; copied to each new cursor). ``memory_limit`` and
``temp_directory`` are settings of the database instance: one cap for all the threads.

A stream (``to_pyarrow_batches``) runs on its thread's cursor, so it sees the thread's temporary
tables; while it is open the cursor is the stream's: if the same thread queries before the stream
is done, the thread moves to a fresh cursor (its earlier temporary tables stay with the stream),
and the stream's cursor closes when the stream ends. Ibis's per-connection bookkeeping (the
in-memory tables registered, the tables ``Table.cache()`` made) is kept per session too; a cached
table released from another thread (garbage collection) is dropped by its own session.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

__all__ = ["ThreadConnection", "per_thread", "thread_connection"]


class _Session:
    """One thread's DuckDB cursor and what Ibis remembers about it."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.thread = threading.current_thread()
        self.memtables: weakref.WeakSet[Any] = weakref.WeakSet()
        self.cache_ops: dict[Any, Any] = {}
        self.cache_names: dict[str, Any] = {}
        self.streams = 0
        self.detached = False
        self.closed = False
        self.release: list[str] = []  # cached tables released from another thread: dropped here, in order
        self.lock = threading.Lock()

    def end_stream(self) -> None:
        with self.lock:
            self.streams -= 1
            done = self.detached and self.streams == 0
        if done:
            self.close()

    def detach(self) -> None:
        """The thread leaves this cursor to its open streams (closed when the last one ends)."""
        with self.lock:
            self.detached = True
            done = self.streams == 0
        if done:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.cursor.close()
            except Exception:  # noqa: BLE001 - closing an already closed database
                pass


class ThreadConnection:
    """Stands for a DuckDB connection: each thread runs on its own cursor of ``root``.

    Attribute access (``execute``, ``sql``, ``register``, ``fetchone`` …) goes to the calling
    thread's cursor; :meth:`cursor` opens a new independent one; :meth:`close` closes them all.
    """

    def __init__(self, root: Any) -> None:
        self._root = root
        self._local = threading.local()  # a weak reference: a dying thread never frees a DuckDB object
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []  # the only strong references (besides open streams)
        self._settings = _session_settings(root)

    # -- sessions -----------------------------------------------------------------------
    def session(self) -> _Session:
        """The calling thread's session (a new cursor on first use, or when a stream holds its own)."""
        s = self.current()
        if s is None or s.closed or s.streams:
            if s is not None:
                s.detach()
            s = _Session(self.cursor())
            self._local.session = weakref.ref(s)
            with self._lock:
                dead = [x for x in self._sessions if x.detached or x.closed or not x.thread.is_alive()]
                self._sessions = [x for x in self._sessions if x not in dead] + [s]
            for x in dead:  # the cursors of ended threads are closed here, by a live thread
                x.detach()
        if s.release:
            self._release(s)
        return s

    def current(self) -> _Session | None:
        """The calling thread's session if it has one (never opens a cursor)."""
        ref = getattr(self._local, "session", None)
        return None if ref is None else ref()

    def cursor(self) -> Any:
        """A new cursor of the same database, with the connection's session settings."""
        with self._lock:
            cur = self._root.cursor()
        for name, value in self._settings:
            cur.execute(f"SET {name} = '{value}'")
        return cur

    def sessions(self) -> int:
        """How many thread sessions are open (tests, diagnostics)."""
        with self._lock:
            return sum(1 for s in self._sessions if not s.closed)

    def close(self) -> None:
        """Close every thread's cursor and the connection itself."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
        del sessions  # freed here, in the closing thread (DuckDB objects freed by a thread as it ends can abort at exit)
        self._root.close()

    def _release(self, s: _Session) -> None:
        names, s.release = s.release, []
        for name in names:
            entry = s.cache_names.pop(name, None)
            if entry is not None:
                s.cache_ops.pop(entry.orig_op, None)
                entry.finalizer.detach()
                s.cursor.execute(f'DROP TABLE IF EXISTS "{name}"')

    # -- everything else: the thread's cursor -------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self.session().cursor, name)

    def __enter__(self) -> ThreadConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SessionSet:
    """Ibis's set of registered in-memory tables, kept per session (each cursor registers its own)."""

    def __init__(self, con: ThreadConnection) -> None:
        self._con = con

    def __contains__(self, item: object) -> bool:
        return item in self._con.session().memtables

    def add(self, item: Any) -> None:
        self._con.session().memtables.add(item)

    def discard(self, item: Any) -> None:
        self._con.session().memtables.discard(item)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._con.session().memtables))

    def __len__(self) -> int:
        return len(self._con.session().memtables)


class _SessionDict:
    """One of Ibis's ``Table.cache()`` maps, kept per session (a temporary table is its session's)."""

    def __init__(self, con: ThreadConnection, attr: str) -> None:
        self._con, self._attr = con, attr

    def _d(self) -> dict[Any, Any]:
        return getattr(self._con.session(), self._attr)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._d().get(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        return self._d().pop(key, *default)

    def __getitem__(self, key: Any) -> Any:
        return self._d()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._d()[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._d()

    def __len__(self) -> int:
        return len(self._d())


def _session_settings(root: Any) -> tuple[tuple[str, str], ...]:
    """The session-scoped settings ``root`` holds that a new cursor would not (Ibis sets ``TimeZone``…)."""
    sql = "SELECT name, value FROM duckdb_settings() WHERE scope = 'LOCAL'"
    mine = dict(root.execute(sql).fetchall())
    probe = root.cursor()
    try:
        fresh = dict(probe.execute(sql).fetchall())
    finally:
        probe.close()
    return tuple((k, str(v).replace("'", "''")) for k, v in sorted(mine.items()) if v is not None and fresh.get(k) != v)


def _stream_of(con: ThreadConnection, session: _Session, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """``reader`` holding ``session``'s cursor until it is exhausted, closed or collected."""
    state = {"open": True}
    lock = threading.Lock()

    def end() -> None:
        with lock:
            if not state["open"]:
                return
            state["open"] = False
        session.end_stream()

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        finally:
            end()

    with session.lock:
        session.streams += 1
    out = pa.RecordBatchReader.from_batches(reader.schema, batches())
    weakref.finalize(out, end)
    return out


def per_thread(backend: Any) -> Any:
    """Give the Ibis DuckDB ``backend`` one cursor per thread (in place; returns it). Idempotent."""
    if isinstance(backend.con, ThreadConnection):
        return backend
    con = ThreadConnection(backend.con)
    backend.con = con
    backend._memtables = _SessionSet(con)
    backend._cache_op_to_entry = _SessionDict(con, "cache_ops")
    backend._cache_name_to_entry = _SessionDict(con, "cache_names")
    owners: weakref.WeakValueDictionary[str, _Session] = weakref.WeakValueDictionary()
    create, finalize, batches = backend._create_cached_table, backend._finalize_cached_table, backend.to_pyarrow_batches

    def create_cached(name: str, expr: Any) -> Any:
        out = create(name, expr)
        owners[name] = con.session()
        return out

    def finalize_cached(name: str) -> None:
        owner = owners.get(name)
        if owner is None or owner is con.current() or owner.closed:
            if owner is not None and owner.closed:
                return  # its cursor and temporary tables are gone already
            finalize(name)
            return
        owner.release.append(name)  # another thread's table: dropped by its own session, at its next query

    def to_pyarrow_batches(expr: Any, /, **kwargs: Any) -> pa.RecordBatchReader:
        session = con.session()
        return _stream_of(con, session, batches(expr, **kwargs))

    backend._create_cached_table = create_cached
    backend._finalize_cached_table = finalize_cached
    backend.to_pyarrow_batches = to_pyarrow_batches
    return backend


def thread_connection(backend: Any) -> ThreadConnection | None:
    """The :class:`ThreadConnection` of ``backend`` (``None`` when it has none: not DuckDB)."""
    con = getattr(backend, "con", None)
    return con if isinstance(con, ThreadConnection) else None
