"""Applying the facts inbox exactly once: a flush lease, batch-numbered claims, recovery.

:func:`flush_inbox` runs under a *lease*: the ``facts_inbox`` row with id :data:`~levier.data.inbox.LEASE_ID`
holds the token of the one flush allowed to write (taken by an atomic insert or compare-and-set
update in the loop DB; a lease older than :data:`LEASE_SECONDS` is taken over). A second flush
that finds the lease held returns ``FlushResult(busy=True)`` and writes nothing.

For each (table, source, preset) group, the holder:

1. picks the next batch number and *claims* the group's rows with a token ending in that number
   (one ``UPDATE`` in the loop DB);
2. writes the rows to the facts tagged ``_batch = <number>``, then the ``_imports`` record whose
   ``file_hash`` is ``inbox:<token>`` (DuckDB: both in one transaction; Spark, PostgreSQL and
   warehouses: two statements, rows first);
3. notes the claim in the lease row (readers on Spark then refresh their cached table files,
   :func:`~levier.data.inbox.refresh_after_flush`) and deletes the claimed rows from the inbox.

An interruption anywhere leaves claims behind; the next flush settles each one before anything
else: ``_imports`` has the token → applied, delete the rows; else the facts hold exactly the
claimed number of rows with that ``_batch`` → write the missing record, delete; else none →
release the claim (applied later); else a part only → :class:`~levier.errors.FactsPartialWriteError`
(nothing more is written until a person looks; docs/decisions/0195-inbox-exactly-once.md).

Every writer of the facts — this flush, imports, direct :func:`~levier.data.inbox.append_facts`,
the experiments insert — numbers its import batch with :func:`take_batch`, and every cleaning write
numbers its journal run with :func:`take_run`, so two writers never get the same number. On every
engine but DuckDB (several processes may write) the sequences live in the lease row of the loop DB
(``match_key = "batch:<last> run:<last>"``, advanced by compare-and-set); a DuckDB file has one
writing process, which keeps them itself (docs/decisions/0210-one-batch-sequence-for-every-writer.md).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from levier.data import inbox
from levier.data.facts import IMPORTS_SCHEMA
from levier.data.inbox import CLAIM_PREFIX, LEASE_ID, LEASE_TABLE, FlushResult, normalise_row
from levier.data.schema import TABLES
from levier.errors import (
    ConflictError,
    FactsPartialWriteError,
    FactsReadOnlyError,
    LevierError,
    SchemaError,
)
from levier.i18n import gettext as _

__all__ = ["flush_inbox", "Lease", "LEASE_SECONDS", "writing", "WRITE_WAIT_SECONDS", "PeriodicFlush", "flush_for_tick", "take_batch", "take_run", "take_number"]

#: A lease (or a claim of the old format) older than this belongs to a flush that died.
LEASE_SECONDS = 600
Group = tuple[str, str, str]


def _stamp() -> str:
    return f"{int(time.time()):010d}"


# -- the lease -----------------------------------------------------------------------------------
class Lease:
    """The right to write queued rows to the facts, held by one flush at a time (a row of the loop DB)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.token = ""

    def _new_token(self) -> str:
        return f"{_stamp()}-{uuid.uuid4().hex[:16]}"

    def acquire(self) -> bool:
        """Take the lease if it is free or stale; False when another flush holds it."""
        from levier.loop.models import FactsInbox

        token = self._new_token()
        try:
            with inbox._session(self.ws, None) as s:
                if s.scalar(sa.select(sa.func.count()).where(FactsInbox.id == LEASE_ID)) == 0:
                    s.add(FactsInbox(id=LEASE_ID, table_name=LEASE_TABLE, source="flush", preset="", payload={}, claim=token))
                    s.flush()
                    self.token = token
                    return True
        except sa.exc.IntegrityError:  # another flush inserted it first
            pass
        stale = f"{int(time.time()) - LEASE_SECONDS:010d}"
        with inbox._session(self.ws, None) as s:
            taken = s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID, sa.or_(FactsInbox.claim.is_(None), FactsInbox.claim < stale))
                              .values(claim=token)).rowcount
        self.token = token if taken == 1 else ""
        return bool(self.token)

    def renew(self) -> None:
        """Push the lease's time forward; :class:`FactsPartialWriteError` if another flush took it over."""
        from levier.loop.models import FactsInbox

        token = self._new_token()
        with inbox._session(self.ws, None) as s:
            kept = s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID, FactsInbox.claim == self.token).values(claim=token)).rowcount
        if kept != 1:
            raise FactsPartialWriteError(_("This flush lost its lease (it ran longer than {n} s); another flush took over.", n=LEASE_SECONDS),
                                         hint=_("Run `levier facts pending` to see what is left, then `levier facts flush`."))
        self.token = token

    def note_applied(self, claim: str) -> None:
        """Record in the lease row that ``claim`` reached the facts (readers on Spark refresh when it changes)."""
        from levier.loop.models import FactsInbox

        with inbox._session(self.ws, None) as s:
            s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID, FactsInbox.claim == self.token).values(payload={"applied": claim}))

    def release(self) -> None:
        from levier.loop.models import FactsInbox

        if self.token:
            with inbox._session(self.ws, None) as s:
                s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID, FactsInbox.claim == self.token).values(claim=None))
            self.token = ""


# -- every writer of a server engine under the lease -----------------------------------------------
#: how long a writer waits for the lease a flush or another writer holds before giving up
WRITE_WAIT_SECONDS = 300.0
_HELD = threading.local()


@contextmanager
def writing(ws: Any, wait: float | None = None) -> Iterator[None]:
    """Hold the flush's lease while writing the facts of a server engine (decision 0211).

    On Spark and warehouses nothing orders two writers: an import rewrites its table (anti-join
    + union) and would drop rows a flush appended meanwhile, and two appends would number their
    rows from the same ``max(_row_id)``. So every writer — imports, direct appends, the
    experiments insert — writes under the same lease as :func:`flush_inbox`, waiting up to
    ``wait`` seconds (:data:`WRITE_WAIT_SECONDS`) for it, and renews it every
    ``LEASE_SECONDS / 4`` while it writes (a long import is not taken for a dead flush).
    DuckDB: one process writes the file: no lease. On every engine the writers of one process
    write one at a time (``inbox._WRITE_LOCK``), so batch numbers commit in the order they were
    taken (a watermark on the last batch skips none). Re-entrant within a thread.
    """
    if ws.facts.backend_name == "duckdb" or getattr(_HELD, "depth", 0):
        _HELD.depth = getattr(_HELD, "depth", 0) + 1
        try:
            with inbox._WRITE_LOCK:
                yield
        finally:
            _HELD.depth -= 1
        return
    lease = Lease(ws)
    limit = WRITE_WAIT_SECONDS if wait is None else wait
    deadline = time.monotonic() + limit
    while not lease.acquire():
        if time.monotonic() >= deadline:
            raise ConflictError(_("The facts are being written by another process (a flush or an import) for more than {n} s; nothing was written.", n=f"{limit:g}"),
                                hint=_("Retry in a moment; `levier facts pending` shows a flush in progress. A lease left by a process that died frees itself after {m} s.", m=LEASE_SECONDS))
        time.sleep(0.2)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(LEASE_SECONDS / 4):
            try:
                lease.renew()
            except Exception:  # noqa: BLE001 — the writer finds out at release; nothing to do here
                return

    beater = threading.Thread(target=beat, name="levier-lease", daemon=True)
    beater.start()
    _HELD.depth = 1
    try:
        with inbox._WRITE_LOCK:
            yield
    finally:
        _HELD.depth = 0
        stop.set()
        beater.join(timeout=5)
        lease.release()


# -- the numbers every writer takes (import batches, cleaning runs) -----------------------------------
_TRIES = 200


def _counters(text: str | None) -> dict[str, int]:
    """``"batch:12 run:3"`` → ``{"batch": 12, "run": 3}`` (the lease row's ``match_key``)."""
    out: dict[str, int] = {}
    for item in (text or "").split():
        name, _sep, value = item.partition(":")
        if value.isdigit():
            out[name] = int(value)
    return out


def _counters_text(counters: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counters.items()))


def _advance(ws: Any, found: tuple[str | None] | None, text: str) -> bool:
    """Compare-and-set of the lease row's counters (inserting the row when no flush ever ran)."""
    from levier.loop.models import FactsInbox

    try:
        with inbox._session(ws, None) as s:
            if found is None:
                s.add(FactsInbox(id=LEASE_ID, table_name=LEASE_TABLE, source="flush", preset="", payload={}, claim=None, match_key=text))
                s.flush()
                return True
            old = found[0]
            same = FactsInbox.match_key.is_(None) if old is None else FactsInbox.match_key == old
            return s.execute(sa.update(FactsInbox).where(FactsInbox.id == LEASE_ID, same).values(match_key=text)).rowcount == 1
    except sa.exc.IntegrityError:  # another writer inserted the lease row first
        return False


def take_number(ws: Any, name: str, floor: Callable[[bool], int]) -> int:
    """The next number of the sequence ``name`` of the facts of ``ws``, given to no other writer.

    One more than both the last number the sequence gave out and ``floor(first)``, the largest
    number already in the facts (``first``: the sequence has no memory yet, look everywhere). A
    number whose write then fails is not given again. DuckDB: the sequence lives in this process
    (the file has one writing process); other engines: in the lease row of the loop DB, shared by
    every process.
    """
    if ws.facts.backend_name == "duckdb":
        return _take_here(ws, name, floor)
    return _take_in_loop_db(ws, name, floor)


_HERE: dict[tuple[str, str, str], int] = {}
_HERE_LOCK = threading.Lock()


def _take_here(ws: Any, name: str, floor: Callable[[bool], int]) -> int:
    key = (str(Path(ws.path).resolve()), str(ws.facts.url), name)
    with _HERE_LOCK:  # the threads of the one process that writes the DuckDB file
        last = _HERE.get(key)
        number = max(last or 0, floor(last is None)) + 1
        _HERE[key] = number
    return number


def _take_in_loop_db(ws: Any, name: str, floor: Callable[[bool], int]) -> int:
    from levier.loop.models import FactsInbox

    lower: int | None = None
    for _attempt in range(_TRIES):
        with inbox._session(ws, None) as s:
            found = s.execute(sa.select(FactsInbox.match_key).where(FactsInbox.id == LEASE_ID)).first()
        counters = _counters(found[0] if found else None)
        if lower is None:
            lower = floor(name not in counters)
        number = max(counters.get(name, 0), lower) + 1
        if _advance(ws, None if found is None else (found[0],), _counters_text({**counters, name: number})):
            return number
        time.sleep(random.uniform(0, 0.005))  # another writer took one: read again
    raise ConflictError(_("Could not take a new {name} number after {n} tries: too many writers at once.", name=name, n=_TRIES),
                        hint=_("Retry; if it persists, check the loop database (the facts_inbox row with id 0)."))


def _batch_floor(ws: Any, first: bool) -> int:
    """The largest batch number in ``_imports`` (the first time, also in every facts table's ``_batch``)."""
    top = inbox._scalar(ws.facts.imports().batch_id.max())
    if first:  # rows written without their record (an interrupted write of an older version) count too
        present = set(ws.facts.con.list_tables())
        top = max([top, *(inbox._scalar(ws.facts.raw(n)._batch.max()) for n in TABLES if n in present)])
    return top


def take_batch(ws: Any) -> int:
    """The number of a new import batch (``_imports.batch_id`` and the rows' ``_batch``), unique across writers."""
    return take_number(ws, "batch", lambda first: _batch_floor(ws, first))


def take_run(ws: Any) -> int:
    """The number of a new cleaning-journal run (``_journal.run_id``), unique across writers."""
    return take_number(ws, "run", lambda _first: inbox._scalar(ws.facts.journal().run_id.max()))


# -- the facts side ------------------------------------------------------------------------------
def _generic(ws: Any) -> bool:
    return ws.facts.backend_name != "duckdb"


def _rows_of_batch(ws: Any, table: str, batch: int) -> int:
    raw = ws.facts.raw(table)
    return inbox._scalar(raw.filter(raw._batch == batch).count())


def _applied(ws: Any, claim: str) -> bool:
    imports = ws.facts.imports()
    return inbox._scalar(imports.filter(imports.file_hash == CLAIM_PREFIX + claim).count()) > 0


def _write_rows(ws: Any, table: str, data: pa.Table, batch: int) -> None:
    """Step 2a on an engine without transactions: the rows, numbered, tagged with their batch (one insert)."""
    start = inbox._scalar(ws.facts.raw(table)._row_id.max()) + 1
    data = data.append_column("_row_id", pa.array(range(start, start + data.num_rows), pa.int64()))
    data = data.append_column("_batch", pa.array([batch] * data.num_rows, pa.int64()))
    ws.facts.con.insert(table, ibis.memtable(data.select(ws.facts.raw_schema(table).names)))


def _write_record(ws: Any, table: str, batch: int, source: str, preset: str, n: int, claim: str) -> None:
    """Step 2b: the ``_imports`` record that says the batch is complete."""
    row = inbox._imports_row(batch, table, source, preset, n, CLAIM_PREFIX + claim)
    ws.facts.con.insert("_imports", ibis.memtable(pd.DataFrame([row]), schema=IMPORTS_SCHEMA))


def _write_batch(ws: Any, table: str, rows: list[dict[str, Any]], source: str, preset: str, claim: str, batch: int) -> None:
    data = inbox._arrow(ws, table, rows)
    if _generic(ws):
        _write_rows(ws, table, data, batch)
        _write_record(ws, table, batch, source, preset, len(rows), claim)
    else:
        inbox._write_duckdb(ws, table, data, source, preset, CLAIM_PREFIX + claim, False, batch=batch)


# -- the inbox side ------------------------------------------------------------------------------
def _claimed(s: Any, claim: str) -> list[Any]:
    from levier.loop.models import FactsInbox

    return list(s.scalars(sa.select(FactsInbox).where(FactsInbox.claim == claim, FactsInbox.id != LEASE_ID).order_by(FactsInbox.id)))


def _settle(ws: Any, claim: str) -> int:
    """Step 3: the claimed rows are in the facts; remove them from the inbox."""
    from levier.loop.models import FactsInbox

    with inbox._session(ws, None) as s:
        return int(s.execute(sa.delete(FactsInbox).where(FactsInbox.claim == claim, FactsInbox.id != LEASE_ID)).rowcount or 0)


def _release(ws: Any, claim: str) -> None:
    from levier.loop.models import FactsInbox

    with inbox._session(ws, None) as s:
        s.execute(sa.update(FactsInbox).where(FactsInbox.claim == claim, FactsInbox.id != LEASE_ID).values(claim=None))


def _batch_of(claim: str) -> int | None:
    parts = claim.split("-")
    return int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None


def _recover_one(ws: Any, lease: Lease, claim: str) -> int:
    """Settle the claim of a flush that was interrupted; returns the rows found applied."""
    with inbox._session(ws, None) as s:
        rows = _claimed(s, claim)
        meta = (rows[0].table_name, rows[0].source, rows[0].preset, len(rows)) if rows else None
    if meta is None:
        return 0
    table, source, preset, n = meta
    if _applied(ws, claim):
        lease.note_applied(claim)
        return _settle(ws, claim)
    batch = _batch_of(claim)
    found = _rows_of_batch(ws, table, batch) if batch is not None else 0
    if batch is not None and found == n:  # the rows were written, their record was not
        _write_record(ws, table, batch, source, preset, n, claim)
        lease.note_applied(claim)
        return _settle(ws, claim)
    if found == 0:  # nothing written: the rows wait for this flush
        _release(ws, claim)
        return 0
    raise FactsPartialWriteError(
        _("{table}: batch {batch} holds {found} of the {n} queued rows it was given (an interrupted engine write); nothing more was applied.",
          table=table, batch=batch, found=found, n=n),
        hint=_("Check the rows with _batch = {batch} in {table}: delete them and run `UPDATE facts_inbox SET claim = NULL WHERE claim = '{claim}'` in the loop DB to apply the batch again, or keep them and delete those inbox rows; then `levier facts flush`.",
               batch=batch, table=table, claim=claim))


def _recover(ws: Any, lease: Lease) -> int:
    from levier.loop.models import FactsInbox

    with inbox._session(ws, None) as s:
        claims = list(s.scalars(sa.select(FactsInbox.claim).where(FactsInbox.claim.is_not(None), FactsInbox.id != LEASE_ID).distinct()))
    return sum(_recover_one(ws, lease, c) for c in sorted(claims))


def _check_all(ws: Any) -> dict[Group, int]:
    """Validate every queued row before anything is written; returns the newest inbox id of each group."""
    with inbox._session(ws, None) as s:
        pending = [r for r in inbox._pending_rows(s) if r.claim is None]
        groups: dict[Group, int] = {}
        for r in pending:
            try:
                normalise_row(r.table_name, r.payload, r.id)
            except SchemaError as exc:
                raise SchemaError(_("Queued facts row (inbox id shown as the row): {problem}", problem=exc.message),
                                  hint=_("Discard it with `levier facts flush --discard ID`, then flush again.")) from None
            groups[(r.table_name, r.source, r.preset)] = r.id
    return groups


def _apply(ws: Any, lease: Lease, group: Group, last_id: int) -> dict[str, Any]:
    from levier.loop.models import FactsInbox

    table, source, preset = group
    lease.renew()
    batch = take_batch(ws)
    claim = f"{_stamp()}-{uuid.uuid4().hex[:12]}-{batch}"
    with inbox._session(ws, None) as s:  # step 1: one atomic claim of the group's rows, numbered
        s.execute(sa.update(FactsInbox).where(FactsInbox.table_name == table, FactsInbox.source == source, FactsInbox.preset == preset,
                                              FactsInbox.claim.is_(None), FactsInbox.id <= last_id, FactsInbox.id != LEASE_ID)
                  .values(claim=claim))
    with inbox._session(ws, None) as s:
        queued = [(r.id, r.payload) for r in _claimed(s, claim)]
    if not queued:
        return {}
    try:
        rows = [normalise_row(table, payload, i) for i, payload in queued]
    except SchemaError:
        _release(ws, claim)
        raise
    _write_batch(ws, table, rows, source, preset, claim, batch)  # step 2
    lease.note_applied(claim)  # readers on Spark refresh before the rows leave the inbox
    _settle(ws, claim)  # step 3
    return {"table": table, "source": source, "batch_id": batch, "rows": len(rows)}


def flush_inbox(ws: Any) -> FlushResult:
    """Apply every queued row to the facts exactly once, one import batch per (table, source).

    Every row is validated before anything is written: a bad row raises :class:`SchemaError`
    naming its inbox id (discard it with ``levier facts flush --discard ID``) and nothing is
    applied. Returns ``FlushResult(busy=True)`` when another flush holds the lease.
    """
    if not ws.facts_writable:
        raise FactsReadOnlyError(_("The facts are open read-only in this process; they cannot be flushed here."),
                                 hint=_("Run `levier facts flush` where the facts can be written (stop `levier serve` first on a DuckDB file)."))
    lease = Lease(ws)
    if not lease.acquire():
        return FlushResult(busy=True)
    _HELD.depth = getattr(_HELD, "depth", 0) + 1  # writers called from here hold it already
    try:
        with inbox._WRITE_LOCK:
            recovered = _recover(ws, lease)
            groups = _check_all(ws)
            batches = [b for b in (_apply(ws, lease, g, last) for g, last in groups.items()) if b]
    finally:
        _HELD.depth -= 1
        lease.release()
    return FlushResult(batches=tuple(batches), recovered=recovered)


# -- automatic flushes ---------------------------------------------------------------------------
def _has_pending(ws: Any) -> bool:
    return bool(inbox.pending_count(ws))


class PeriodicFlush:
    """Flush the inbox every ``every`` seconds in a background thread (the `levier serve` parent).

    ``opener()`` returns the writable workspace to flush (opened on the first tick that finds
    queued rows, then kept); ``pending()`` says cheaply whether rows wait (e.g. from the loop DB
    alone, so that no facts engine starts while nothing is queued); ``report(message)`` receives
    one line per problem or applied flush.
    """

    def __init__(self, opener: Callable[[], Any], every: float, report: Callable[[str], None] = print,
                 pending: Callable[[], bool] | None = None) -> None:
        self.opener, self.every, self.report, self.pending = opener, every, report, pending
        self.ws: Any | None = None
        self.flushes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="levier-inbox-flush", daemon=True)

    def start(self) -> PeriodicFlush:
        self._thread.start()
        return self

    def stop(self, timeout: float = 120.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def tick(self) -> FlushResult | None:
        """One flush when rows are queued (the loop DB answers; the facts are opened only then)."""
        if self.pending is not None and not self.pending():
            return None
        if self.ws is None:
            self.ws = self.opener()
        if not _has_pending(self.ws):
            return None
        done = flush_inbox(self.ws)
        self.flushes += 1
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                done = self.tick()
            except LevierError as exc:
                self.report(_("The periodic flush of queued facts failed: {problem}", problem=exc))
                continue
            except Exception as exc:  # an engine hiccup must not stop the next flushes
                self.report(_("The periodic flush of queued facts failed: {problem}", problem=exc))
                continue
            if done is not None and done.batches:
                self.report(_("Queued facts applied: {rows}.", rows=", ".join(f"{t} {n}" for t, n in done.rows.items())))


def flush_for_tick(ws: Any, opener: Callable[[], Any]) -> dict[str, Any] | None:
    """The flush `levier loop tick` runs: on an engine other than DuckDB, when rows wait and flushes are on.

    ``ws`` is the tick's own (read-only) workspace, used to look at the inbox; ``opener()`` opens
    a writable one only when there is something to apply. ``None`` when skipped.
    """
    if inbox.flush_interval() == 0 or not inbox.flushed_while_serving(ws) or not _has_pending(ws):
        return None
    with opener() as writable:
        return flush_inbox(writable).to_dict()
