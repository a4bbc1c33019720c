"""Page caches that stay right with several worker processes (decision 0120).

Every entry is keyed on the *version of the data it was computed from*, read afresh by each
request from the stores all workers share: the facts' version (:func:`facts_version`: the
DuckDB file's and log's ``stat``, or the latest import batch and cleaning run on a server
engine) and, for loop data, the rows themselves (the action board is keyed on a digest of the
rows it shows, the dashboard on its audit result, cycle and action targets). A write through any
worker changes the key that every worker computes on its next page: nothing is invalidated, and
no process can serve what another one has changed. Each process keeps its own entries (least
recently used out past :data:`CACHE_SIZE`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

__all__ = ["cached", "peek", "NOT_CACHED", "clear_cache", "facts_lock", "facts_version", "facts_key", "request_memo", "request_scope", "end_request_scope", "CACHE_SIZE",
           "SERVER_VERSION_SECONDS"]

_CACHE: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_FACTS_LOCK = threading.RLock()
CACHE_SIZE = 1024
_REQUEST: ContextVar[dict[Any, Any] | None] = ContextVar("levier_page_request_memo", default=None)
#: on engines where a query is a job (Spark, remote servers) the facts version is re-read at most this often
SERVER_VERSION_SECONDS = 2.0
_VERSIONS: dict[str, tuple[float, tuple[Any, ...]]] = {}
_FILES: dict[int, tuple[Any, str | None]] = {}


def facts_lock() -> threading.RLock:
    """One facts *computation* at a time per process: page figures, the policy's load and refresh.

    Not what keeps the connection safe: on DuckDB every thread runs on its own cursor of the
    worker's connection (:mod:`levier.data.facts_threads`, decision 0243), so a query or a stream
    without this lock (an export, ``POST /touches``, a policy route) cannot close another's. The
    lock only schedules the heavy work: two figures never compete for the worker's memory cap and
    cores, and a figure two requests ask for at once is computed once (:func:`cached`).
    """
    return _FACTS_LOCK


def cached(key: tuple[Any, ...], compute: Callable[[], Any], ttl: float | None = None, *, facts: bool = True) -> Any:
    """``compute()`` memoised under ``key`` in this process (least recently used out past :data:`CACHE_SIZE`).

    ``key`` must name the version of every input (see :func:`facts_version`); ``ttl`` (seconds)
    only bounds figures that also depend on the clock. ``facts=True`` computes under
    :func:`facts_lock` (one facts query at a time); HTML built from loop rows passes ``False`` so
    it never waits behind a slow facts figure (the figures it needs take the lock themselves).
    """
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and (ttl is None or now - hit[0] < ttl):
            _CACHE.move_to_end(key)
            return hit[1]
    if facts:
        with _FACTS_LOCK:
            with _CACHE_LOCK:
                hit = _CACHE.get(key)
                if hit is not None and (ttl is None or time.monotonic() - hit[0] < ttl):
                    return hit[1]
            value = compute()
    else:
        value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = (time.monotonic(), value)
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


NOT_CACHED = object()


def peek(key: tuple[Any, ...]) -> Any:
    """The value cached under ``key`` in this process, or :data:`NOT_CACHED` (never computes)."""
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            return NOT_CACHED
        _CACHE.move_to_end(key)
        return hit[1]


def clear_cache() -> None:
    """Forget every cached figure and fragment of this process (tests, benchmarks)."""
    with _CACHE_LOCK:
        _CACHE.clear()
    _VERSIONS.clear()


def request_memo() -> dict[Any, Any] | None:
    """A dict living as long as the current page request (``None`` outside one)."""
    return _REQUEST.get()


_VERSION_SQL = "SELECT (SELECT coalesce(max(batch_id), 0) FROM _imports), (SELECT coalesce(max(run_id), 0) FROM _journal)"


def _duckdb_version(raw: Any) -> tuple[int, int]:
    row = raw.execute(_VERSION_SQL).fetchone()  # this thread's own cursor (decision 0243): no lock
    return int(row[0]), int(row[1])


def _engine_version(ws: Any) -> tuple[int, int]:
    with _FACTS_LOCK:
        batch = ws.facts.imports().batch_id.max().execute()
        run = ws.facts.journal().run_id.max().execute()
    return int(batch or 0), int(run or 0)


def _file_of(raw: Any) -> str | None:
    """The DuckDB file behind connection ``raw`` (``None`` in memory), looked up once per connection."""
    hit = _FILES.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    try:  # this thread's own cursor (decision 0243): no lock
        row = raw.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        path = str(row[0]) if row and row[0] and os.path.isfile(str(row[0])) else None
    except Exception:
        path = None
    _FILES[id(raw)] = (raw, path)
    return path


def _signature(path: str) -> tuple[Any, ...]:
    """Size, time and inode of the DuckDB file and its write-ahead log: any commit changes one of them."""
    out: list[Any] = [path]
    for name in (path, path + ".wal"):
        try:
            st = os.stat(name)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(out)


def _read_version(ws: Any) -> tuple[Any, ...]:
    raw = getattr(getattr(ws.facts, "con", None), "con", None)
    if ws.facts.backend_name == "duckdb" and raw is not None:
        path = _file_of(raw)
        if path is not None:  # every commit to a DuckDB file writes its log or the file itself
            return ("file", *_signature(path)[1:])
        try:  # in memory: one process, its own writes only
            return ("batch", *_duckdb_version(raw))
        except Exception:  # a workspace without facts tables yet
            return ("batch", 0, 0)
    seen = _VERSIONS.get(str(ws.path))  # a server engine: a query is a job, re-read at most every few seconds
    if seen is not None and time.monotonic() - seen[0] < SERVER_VERSION_SECONDS:
        return seen[1]
    try:
        version: tuple[Any, ...] = ("batch", *_engine_version(ws))
    except Exception:
        version = ("batch", 0, 0)
    _VERSIONS[str(ws.path)] = (time.monotonic(), version)
    return version


def facts_version(ws: Any) -> tuple[Any, ...]:
    """A token that changes whenever the facts change: what the cached figures were computed from.

    On a DuckDB file it is the size, times and inode of the file and of its write-ahead log (a
    ``stat`` each, ~10 µs): every commit changes one of them, whoever made it — an import, a
    cleaning run, a live-experiment or policy row appended to an existing batch, an inbox flush,
    an erasure. Several workers open such a file read-only, so it cannot change under them.
    On a server engine (Spark, PostgreSQL) it is ``(latest import batch, latest cleaning run)``,
    re-read at most every :data:`SERVER_VERSION_SECONDS` (single rows appended to an existing
    batch show with the next batch there). Read once per page request.
    """
    memo = _REQUEST.get()
    key = ("facts-version", id(ws))
    if memo is not None and key in memo:
        return memo[key]
    version = _read_version(ws)
    if memo is not None:
        memo[key] = version
    return version


def facts_key(ws: Any) -> tuple[str, tuple[Any, ...]]:
    """The workspace and its facts version, to start the key of a figure computed from the facts."""
    return str(ws.path), facts_version(ws)


def request_scope() -> Any:
    """Start a page request's memo (returns the token for :func:`end_request_scope`)."""
    return _REQUEST.set({})


def end_request_scope(token: Any) -> None:
    _REQUEST.reset(token)
