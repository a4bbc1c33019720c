"""Dashboard figures computed once per facts version, kept beside the facts, warmed in the background.

The figures the dashboard computes on the facts (KPIs of the period, the funnel, channel value,
reps and their Q3 accounts) are stored in ``figures.sqlite`` in the workspace directory, keyed
on the facts version (:func:`levier.web.pages_cache.facts_version`) and the figure's own
arguments (decision 0230). Every worker process reads the same file and it outlives a restart:
a figure is computed once per facts version, by one process.

Each app has a :class:`Warmer`: a background thread that computes the dashboard's figures at
start and whenever the facts version changes, one process at a time (an exclusive ``flock`` on
``figures.lock``, released by the kernel if the process dies). A page request never computes
them: it *peeks* (:func:`peeking`); what is not stored yet is taken from the latest version
that has it (with its date) while the warmer computes it, and the page says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levier.web.pages_cache import NOT_CACHED, cached, facts_version, peek

__all__ = ["figure", "peeking", "Peek", "FigureStore", "Warmer", "store_of", "version_token", "STORE_NAME", "LOCK_NAME",
           "WAIT_SECONDS", "POLL_SECONDS", "KEEP_VERSIONS"]

log = logging.getLogger("levier.web")
STORE_NAME = "figures.sqlite"
LOCK_NAME = "figures.lock"
#: how long a page request waits for the warmer before it shows the last figures as "being computed"
WAIT_SECONDS = 2.0
#: how often a serving warmer re-reads the facts version (a ``stat`` on DuckDB)
POLL_SECONDS = 10.0
#: figure rows kept per figure (the newest versions): the current one and the last ones to show meanwhile
KEEP_VERSIONS = 3

_MISSING = object()


# -- the store ---------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """JSON for NumPy / pandas scalars and dates (what the engine hands back)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    for attr in ("item", "tolist"):  # numpy scalars and arrays
        if hasattr(value, attr):
            return getattr(value, attr)()
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain, allow_nan=True, sort_keys=True)


def version_token(version: tuple[Any, ...]) -> str:
    return repr(version)


def key_token(key: tuple[Any, ...]) -> str:
    return _dumps([_plain(k) if isinstance(k, dt.datetime | dt.date) else k for k in key])


class FigureStore:
    """``figures.sqlite``: one row per (figure, facts version); any process may read and write it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ok = True
        try:
            with self._connect() as con:
                con.execute("CREATE TABLE IF NOT EXISTS figures (key TEXT NOT NULL, version TEXT NOT NULL, value TEXT NOT NULL, "
                            "computed_at TEXT NOT NULL, PRIMARY KEY (key, version))")
        except (sqlite3.Error, OSError):
            log.warning("figure store %s unavailable: figures are kept in memory only", path, exc_info=True)
            self.ok = False

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def _run(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if not self.ok:
            return []
        try:
            con = self._connect()
            try:
                return con.execute(sql, args).fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            log.warning("figure store %s: %s failed", self.path, sql.split()[0], exc_info=True)
            return []

    def get(self, version: str, key: str) -> Any:
        rows = self._run("SELECT value FROM figures WHERE key = ? AND version = ?", (key, version))
        return json.loads(rows[0][0]) if rows else _MISSING

    def last(self, key: str) -> tuple[Any, str] | None:
        """The newest stored value of ``key`` (any version) and when it was computed (ISO, UTC)."""
        rows = self._run("SELECT value, computed_at FROM figures WHERE key = ? ORDER BY rowid DESC LIMIT 1", (key,))
        return (json.loads(rows[0][0]), rows[0][1]) if rows else None

    def put(self, version: str, key: str, text: str) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        self._run("INSERT OR REPLACE INTO figures VALUES (?, ?, ?, ?)", (key, version, text, now))
        self._run("DELETE FROM figures WHERE key = ? AND version NOT IN "
                  "(SELECT version FROM figures WHERE key = ? ORDER BY rowid DESC LIMIT ?)", (key, key, KEEP_VERSIONS))


_STORES: dict[str, FigureStore] = {}
_STORES_LOCK = threading.Lock()


def store_of(ws: Any) -> FigureStore:
    """The figure store of workspace ``ws`` (one object per directory and process)."""
    path = Path(ws.path) / STORE_NAME
    with _STORES_LOCK:
        store = _STORES.get(str(path))
        if store is None or not path.exists():
            store = _STORES[str(path)] = FigureStore(path)
        return store


# -- figures ----------------------------------------------------------------------------------
@dataclass
class Peek:
    """What a peeking page found missing, and the date of the oldest earlier figure it showed instead."""

    missing: list[tuple[Any, ...]] = field(default_factory=list)
    since: str | None = None

    @property
    def pending(self) -> bool:
        return bool(self.missing)


_PEEK: ContextVar[Peek | None] = ContextVar("levier_figures_peek", default=None)


@contextlib.contextmanager
def peeking() -> Iterator[Peek]:
    """Inside: :func:`figure` never computes; what is not stored for this facts version is recorded."""
    seen = Peek()
    token = _PEEK.set(seen)
    try:
        yield seen
    finally:
        _PEEK.reset(token)


def figure(ws: Any, key: tuple[Any, ...], compute: Callable[[], Any], default: Any = None) -> Any:
    """The figure ``key`` of the current facts version: from memory, else the store, else computed and stored.

    ``compute()`` must return JSON-able data (NumPy scalars and dates are converted); the value
    returned is always the JSON round trip, so a stored figure and a fresh one render alike.
    When ``compute()`` raises (an empty or partial workspace), ``default`` is kept in this
    process's memory only: a failure is never stored.
    While :func:`peeking`, a figure not stored yet is not computed: the newest earlier value of
    the same figure is returned (``default`` when there is none) and the key is recorded.
    """
    version = facts_version(ws)
    mem_key = ("figure", str(ws.path), version, key)
    hit = peek(mem_key)
    if hit is not NOT_CACHED:
        return hit
    store, vtok, ktok = store_of(ws), version_token(version), key_token(key)
    value = store.get(vtok, ktok)
    if value is not _MISSING:
        return cached(mem_key, lambda: value, facts=False)
    seen = _PEEK.get()
    if seen is not None:
        seen.missing.append(key)
        last = store.last(ktok)
        if last is None:
            return default
        seen.since = min(seen.since or last[1], last[1])
        return last[0]

    def run() -> Any:
        again = store.get(vtok, ktok)  # another process may have stored it meanwhile
        if again is not _MISSING:
            return again
        try:
            text = _dumps(compute())
        except Exception:  # an empty or partial workspace: "not available", kept in this process only
            log.warning("page figure %r failed", key[0], exc_info=True)
            return default
        store.put(vtok, ktok, text)
        return json.loads(text)

    return cached(mem_key, run)


# -- the warmer --------------------------------------------------------------------------------
class _FileLock:
    """An exclusive ``flock`` on ``figures.lock``: one warming process per workspace (freed if it dies)."""

    def __init__(self, path: Path) -> None:
        self.path, self.fd = path, -1

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: one process per host is then the user's choice
            return True
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a workspace directory this process cannot write: warm without the lock
            log.warning("cannot create %s: warming without the cross-process lock", self.path)
            return True
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process holds it
            self.release()
            return False
        except OSError:  # a file system without flock: warm without it
            return True
        return True

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the lock
            self.fd = -1


class Warmer:
    """Computes the figures of jobs (``runner(job)``) in a background thread, one process at a time.

    ``complete(job)`` says whether a job's figures are all stored for the current facts version
    (``runner`` inside :func:`peeking`). ``kick(job)`` queues a job; ``wait(job, seconds)``
    waits until it is complete; ``start(jobs)`` (the app's start) queues the default jobs and,
    while the app serves, re-queues them whenever the facts version changes.
    """

    def __init__(self, ws: Any, runner: Callable[[Hashable], None]) -> None:
        self.ws, self.runner = ws, runner
        self.defaults: tuple[Hashable, ...] = ()
        self.queue: list[Hashable] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.serving = self.stopped = False
        self.lock = _FileLock(Path(ws.path) / LOCK_NAME)
        self.runs = 0  # jobs this process computed (tests, benchmarks)
        self.idle = threading.Event()
        self.idle.set()

    def complete(self, job: Hashable) -> bool:
        with peeking() as seen:
            self.runner(job)
        return not seen.pending

    def start(self, jobs: tuple[Hashable, ...]) -> None:
        """Queue ``jobs`` now and again after every facts change, until :meth:`stop`."""
        with self.cond:
            self.defaults, self.serving, self.stopped = tuple(jobs), True, False
        for job in jobs:
            self.kick(job)

    def stop(self, timeout: float = 2.0) -> None:
        with self.cond:
            self.stopped, self.queue = True, []
            self.cond.notify_all()
        thread = self.thread
        if thread is not None:
            thread.join(timeout)

    def kick(self, job: Hashable) -> None:
        with self.cond:
            if self.stopped:
                return
            if job not in self.queue:
                self.queue.append(job)
            self.idle.clear()
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="levier-figures", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def wait(self, job: Hashable, seconds: float) -> bool:
        """Wait up to ``seconds`` until ``job``'s figures are stored; ``True`` when they are."""
        deadline = time.monotonic() + seconds
        while True:
            with self.cond:
                queued = job in self.queue
                left = deadline - time.monotonic()
                if queued and left > 0:
                    self.cond.wait(min(left, 0.5))
                    continue
            if not queued and self.complete(job):
                return True
            if time.monotonic() >= deadline:
                return False
            if not queued:  # done for a version the facts have left since: again for the new one
                self.kick(job)
            with self.cond:
                self.cond.wait(min(deadline - time.monotonic(), 0.5))

    # the thread ---------------------------------------------------------------------------
    def _next(self, version: Any) -> tuple[Hashable | None, Any]:
        with self.cond:
            while not self.queue and not self.stopped:
                self.idle.set()
                self.cond.notify_all()
                if not self.serving:  # started by a request: the thread ends when the queue is empty
                    self.thread = None
                    return None, version
                self.cond.wait(POLL_SECONDS)
                if self.stopped:
                    break
                now = self._version()
                if now != version and not self.queue:
                    self.queue.extend(self.defaults)
                    version = now
            if self.stopped:
                self.idle.set()
                self.thread = None
                return None, version
            self.idle.clear()
            return self.queue[0], version

    def _version(self) -> Any:
        try:
            return facts_version(self.ws)
        except Exception:
            return None

    def _loop(self) -> None:
        version = self._version()
        while True:
            job, version = self._next(version)
            if job is None:
                return
            try:
                self._run(job)
            except Exception:
                if not self.stopped:
                    log.warning("warming the dashboard figures failed (%r)", job, exc_info=True)
            finally:
                with self.cond:
                    if self.queue and self.queue[0] == job:
                        self.queue.pop(0)
                    self.cond.notify_all()

    def _run(self, job: Hashable) -> None:
        if self.complete(job):
            return
        while not self.lock.acquire():  # another process warms: its figures will be in the store
            with self.cond:
                self.cond.wait(1.0)
                if self.stopped:
                    return
            if self.complete(job):
                return
        try:
            self.runner(job)
            self.runs += 1
        finally:
            self.lock.release()

