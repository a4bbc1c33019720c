"""Facts written by requests: at once when this process may write the facts, else queued.

A DuckDB file can be opened by many processes only read-only, and a server engine such as Spark
or a warehouse has no multi-statement transaction: several web workers appending to it at once
could collide and leave rows without their ``_imports`` record. Every facts write a request
makes (posted touches, live-experiment assignments and events) goes through :func:`append_facts`:

- this process is the only writer (``levier serve --workers 1``, a script, the CLI): the rows
  are appended at once as one import batch (an ``_imports`` record);
- the facts are open read-only (several workers: a DuckDB file, or any engine but DuckDB, see
  :func:`queues_writes`): the rows are validated and queued durably in the loop DB table
  ``facts_inbox`` (shared by every worker, one atomic insert); :func:`pending_facts` lets
  readers see them and :func:`flush_inbox` (:mod:`levier.data.inbox_flush`) applies them.

Rows are checked against the canonical model (:mod:`levier.data.schema`) before anything is
written or queued; a bad row raises :class:`~levier.errors.SchemaError` naming the table, the
row and the column, and nothing is written. A flush applies each queued row exactly once, even
interrupted and retried or run twice at once (docs/decisions/0195-inbox-exactly-once.md).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from levier.data.facts import IMPORTS_SCHEMA
from levier.data.schema import TABLES, Column
from levier.errors import FactsReadOnlyError, SchemaError
from levier.i18n import gettext as _

__all__ = ["append_facts", "flushed_while_serving", "pending_facts", "pending_count", "flush_inbox", "discard_pending", "FlushResult", "KEY_COLUMNS",
           "INBOX_PRESET", "queues_writes", "web_workers", "flush_interval", "inbox_status", "InboxStatus", "WORKERS_ENV",
           "FLUSH_ENV", "LEASE_ID", "status_at", "refresh_after_flush"]

#: The column stored (indexed) next to each queued row so :func:`pending_facts` can filter fast.
KEY_COLUMNS = {"leads": "lead_id", "stage_events": "lead_id", "touches": "lead_id", "deals": "lead_id",
               "spend": "campaign_id", "web_events": "anonymous_id", "assignments": "experiment_key", "orders": "account_id"}
INBOX_PRESET = "levier-inbox"
WORKERS_ENV = "LEVIER_WEB_WORKERS"  # worker processes serving the port (set by `levier serve`)
FLUSH_ENV = "LEVIER_INBOX_FLUSH_SECONDS"  # period of the automatic flush (0 = off)
DEFAULT_FLUSH_SECONDS = 60
#: The id of the ``facts_inbox`` row that is the flush lease (never a queued row).
LEASE_ID = 0
LEASE_TABLE = "_lease"
CLAIM_PREFIX = "inbox:"
_WRITE_LOCK = threading.RLock()  # one facts writer per process (the DuckDB connection is shared)
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


# -- rows -------------------------------------------------------------------------------------
def _table(name: str) -> Any:
    if name not in TABLES:
        raise SchemaError(_("Unknown facts table '{table}'.", table=name), hint=_("Use one of: {names}.", names=", ".join(TABLES)))
    return TABLES[name]


def _bad(table: str, row: int, column: str, value: Any, expected: str) -> SchemaError:
    return SchemaError(
        _("{table}, row {row}, column {column}: {value!r} is not {expected}.", table=table, row=row, column=column, value=value, expected=expected),
        hint=_("Fix the value; nothing was written."),
    )


def _timestamp(value: Any) -> datetime:
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError
    if ts.tzinfo is not None:
        ts = ts.tz_convert(UTC).tz_localize(None)
    return ts.to_pydatetime()


def _convert(col: Column, value: Any) -> Any:
    if col.dtype == "string":
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError
        return str(value)
    if col.dtype == "int64":
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    if col.dtype == "float64":
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    if col.dtype == "boolean":
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ValueError
    if col.dtype == "timestamp":
        return _timestamp(value)
    if col.dtype == "date":
        return value if isinstance(value, date) and not isinstance(value, datetime) else _timestamp(value).date()
    raise ValueError


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (a list or another non-scalar is not missing: it fails its type check)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def normalise_row(table: str, row: Mapping[str, Any], index: int = 1) -> dict[str, Any]:
    """``row`` as canonical Python values (every column of ``table``); :class:`SchemaError` if invalid."""
    spec = _table(table)
    unknown = sorted(set(row) - set(spec.column_names))
    if unknown:
        raise SchemaError(_("{table}, row {row}: unknown column(s) {columns}.", table=table, row=index, columns=", ".join(unknown)),
                          hint=_("Columns of {table}: {names}.", table=table, names=", ".join(spec.column_names)))
    out: dict[str, Any] = {}
    for col in spec.columns:
        value = row.get(col.name)
        if _missing(value):
            if col.required:
                raise SchemaError(_("{table}, row {row}: the required column {column} is empty.", table=table, row=index, column=col.name),
                                  hint=_("Give a value; nothing was written."))
            out[col.name] = None
            continue
        if hasattr(value, "item") and not isinstance(value, (pd.Timestamp, datetime, date)):
            value = value.item()  # numpy scalars
        try:
            value = _convert(col, value)
        except (ValueError, TypeError, OverflowError):
            raise _bad(table, index, col.name, value, col.dtype) from None
        if col.allowed and value not in col.allowed:
            raise _bad(table, index, col.name, value, _("one of {allowed}", allowed=", ".join(col.allowed)))
        out[col.name] = value
    return out


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.items() if v is not None}


def _arrow(ws: Any, table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    schema = ws.facts.raw_schema(table).to_pyarrow()
    names = [n for n in schema.names if not n.startswith("_")]
    return pa.table({n: pa.array([r[n] for r in rows], type=schema.field(n).type) for n in names})


# -- direct writes ---------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _imports_row(batch: int, table: str, source: str, preset: str, n: int, claim: str = "") -> dict[str, Any]:
    return {"batch_id": batch, "table_name": table, "file_name": source, "file_hash": claim, "imported_at": _now(),
            "rows_read": n, "rows_inserted": n, "rows_replaced": 0, "preset": preset, "mapping": "", "timezone": "UTC"}


def _write_duckdb(ws: Any, table: str, data: pa.Table, source: str, preset: str, claim: str, reuse: bool,
                  batch: int | None = None) -> int:
    """The rows and their ``_imports`` record in one DuckDB transaction (``batch``: the flush's own number)."""
    duck = ws.facts.con.con.cursor()  # its own transaction: other threads' queries stay outside it
    view = f"_levier_inbox_{uuid.uuid4().hex[:8]}"
    data = data.append_column("_ord", pa.array(range(1, data.num_rows + 1), pa.int64()))
    duck.register(view, data)
    duck.execute("BEGIN TRANSACTION")
    try:
        new = batch is not None or not reuse
        if batch is None and reuse:
            found = duck.execute("SELECT max(batch_id) FROM _imports WHERE file_name = ? AND table_name = ?", [source, table]).fetchone()
            batch = found[0] if found else None
            new = batch is None
        if new:
            batch = batch if batch is not None else _take_batch(ws)
            row = _imports_row(batch, table, source, preset, 0 if reuse else data.num_rows, claim)
            names = list(IMPORTS_SCHEMA.names)
            duck.execute(f"INSERT INTO _imports ({', '.join(names)}) VALUES ({', '.join('?' for _n in names)})", [row[n] for n in names])
        base = duck.execute(f'SELECT coalesce(max(_row_id), 0) FROM "{table}"').fetchone()[0]
        duck.execute(f'INSERT INTO "{table}" BY NAME SELECT * EXCLUDE (_ord), {int(base)} + _ord AS _row_id, '
                     f'CAST({int(batch)} AS BIGINT) AS _batch FROM {view}')
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    finally:
        duck.unregister(view)
        duck.close()
    return data.num_rows


def _scalar(expr: Any) -> int:
    value = expr.execute()
    return int(value) if value is not None and value == value else 0


def _write_generic(ws: Any, table: str, data: pa.Table, source: str, preset: str, claim: str, reuse: bool) -> int:
    """Any Ibis backend (Spark, warehouses): two appends, not atomic (no multi-table transaction)."""
    con, imports = ws.facts.con, ws.facts.imports()
    batch = _scalar(imports.filter((imports.file_name == source) & (imports.table_name == table)).batch_id.max()) if reuse else 0
    if not batch:
        batch = _take_batch(ws)
        con.insert("_imports", ibis.memtable(pd.DataFrame([_imports_row(batch, table, source, preset, 0 if reuse else data.num_rows, claim)]),
                                             schema=IMPORTS_SCHEMA))
    start = _scalar(ws.facts.raw(table)._row_id.max()) + 1
    data = data.append_column("_row_id", pa.array(range(start, start + data.num_rows), pa.int64()))
    data = data.append_column("_batch", pa.array([batch] * data.num_rows, pa.int64()))
    con.insert(table, ibis.memtable(data.select(ws.facts.raw_schema(table).names)))
    return data.num_rows


def _take_batch(ws: Any) -> int:
    from levier.data.inbox_flush import take_batch

    return take_batch(ws)


def _check_writable(ws: Any) -> None:
    if not ws.facts_writable:
        raise FactsReadOnlyError(_("The facts are open read-only in this process; rows can only be queued."),
                                 hint=_("Run `levier facts flush` where the facts can be written (stop `levier serve` first on a DuckDB file)."))


def _write(ws: Any, table: str, rows: Sequence[Mapping[str, Any]], source: str, preset: str, claim: str = "", reuse: bool = False) -> int:
    _check_writable(ws)
    data = _arrow(ws, table, rows)
    writer = _write_duckdb if ws.facts.backend_name == "duckdb" else _write_generic
    from levier.data.inbox_flush import writing

    with writing(ws):  # one writer per process; server engines: under the flush's lease (decision 0211)
        return writer(ws, table, data, source, preset, claim, reuse)


# -- who queues --------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() else default


def web_workers() -> int:
    """How many worker processes serve the port (``LEVIER_WEB_WORKERS``; 1 when unset or invalid)."""
    return max(1, _env_int(WORKERS_ENV, 1))


def flush_interval() -> int:
    """Seconds between automatic flushes (``LEVIER_INBOX_FLUSH_SECONDS``, default 60; 0 = off)."""
    return _env_int(FLUSH_ENV, DEFAULT_FLUSH_SECONDS)


def flushed_while_serving(ws: Any) -> bool:
    """Whether queued rows may reach the facts while workers serve (periodic flush, `loop tick`).

    True on every engine but DuckDB: a DuckDB file is held read-only by the workers, so it is
    flushed only when the server starts or stops and the inbox holds every row written since.
    Readers that look in the inbox must then also look in the facts.
    """
    return ws.facts.backend_name != "duckdb"


def queues_writes(ws: Any) -> bool:
    """Whether :func:`append_facts` queues rows in this process instead of writing them.

    True when the facts are open read-only (``levier serve --workers N`` makes its workers so on
    a DuckDB file and on every engine but DuckDB), and also, as a guard for other launchers,
    when several workers serve (``LEVIER_WEB_WORKERS`` > 1) on an engine other than DuckDB:
    Spark, PostgreSQL facts and warehouses get the rows and the ``_imports`` record in separate
    statements, and several writers would race for batch and row numbers.
    Readers that must see the queued rows check this and read :func:`pending_facts`.
    """
    return not ws.facts_writable or (web_workers() > 1 and flushed_while_serving(ws))


# -- the inbox -------------------------------------------------------------------------------
@contextmanager
def _session(ws: Any, session: Any | None) -> Iterator[Any]:
    if session is not None:
        yield session
        return
    from levier.loop.db import transaction

    with transaction(ws.session) as s:
        yield s


def _match_key(table: str, row: Mapping[str, Any]) -> str | None:
    value = row.get(KEY_COLUMNS.get(table, ""))
    return None if value is None else str(value)[:200]


def append_facts(ws: Any, table: str, rows: Iterable[Mapping[str, Any]], *, source: str, preset: str = INBOX_PRESET,
                 reuse_batch: bool = False, session: Any | None = None) -> int:
    """Append ``rows`` (canonical columns of ``table``) to the facts, or queue them; returns their number.

    Written at once as one import batch (file name ``source``) when this process is the facts'
    writer; else (:func:`queues_writes`) queued in the loop DB's ``facts_inbox`` (inside ``session`` when given, so the
    rows commit with the caller's own loop writes). ``reuse_batch=True`` adds direct writes to
    the newest batch of the same ``source`` (one batch for a stream of single rows, e.g. posted
    touches). Every row is validated first: a bad row raises :class:`SchemaError`, nothing written.
    """
    _table(table)
    clean = [normalise_row(table, row, i) for i, row in enumerate(rows, start=1)]
    if not clean:
        return 0
    if not queues_writes(ws):
        return _write(ws, table, clean, source, preset, reuse=reuse_batch)
    from levier.loop.models import FactsInbox

    with _session(ws, session) as s:
        s.add_all([FactsInbox(table_name=table, match_key=_match_key(table, r), source=source[:200], preset=preset[:60],
                              payload=_jsonable(r)) for r in clean])
        s.flush()
    return len(clean)


def _pending_rows(s: Any, table: str | None = None, key: str | None = None) -> list[Any]:
    from levier.loop.models import FactsInbox

    q = sa.select(FactsInbox).where(FactsInbox.id != LEASE_ID).order_by(FactsInbox.id)
    if table is not None:
        q = q.where(FactsInbox.table_name == table)
    if key is not None:
        q = q.where(FactsInbox.match_key == key)
    return list(s.scalars(q))


def pending_facts(ws: Any, table: str, *, session: Any | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Rows of ``table`` queued in the inbox and not applied yet, oldest first, equal to ``filters``.

    ``pending_facts(ws, "assignments", experiment_key="cta")``: filtering on the table's key
    column (:data:`KEY_COLUMNS`) uses an index; other filters are applied in Python.
    """
    spec = _table(table)
    unknown = sorted(set(filters) - set(spec.column_names))
    if unknown:
        raise SchemaError(_("{table} has no column {columns}.", table=table, columns=", ".join(unknown)),
                          hint=_("Columns of {table}: {names}.", table=table, names=", ".join(spec.column_names)))
    wanted = {k: _convert(spec.column(k), v) if v is not None else None for k, v in filters.items()}
    key_col = KEY_COLUMNS.get(table)
    key = str(wanted[key_col])[:200] if key_col in wanted and wanted[key_col] is not None else None
    with _session(ws, session) as s:
        rows = [normalise_row(table, r.payload, r.id) for r in _pending_rows(s, table, key)]
        refresh_after_flush(ws, s)  # after the inbox read: a row gone from it is then visible in the facts
    return [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]


_UNSEEN = object()


def refresh_after_flush(ws: Any, session: Any | None = None) -> bool:
    """On Spark, make this process see the rows a flush in another process appended; True when it refreshed.

    A Spark session caches the file list of a table: rows another session (the `levier serve`
    parent, `levier loop tick`) appends stay invisible until ``REFRESH TABLE``. Each flush notes
    the claim it applied in the lease row *before* deleting the rows from the inbox; a reader
    that no longer finds a row in the inbox finds the note changed and refreshes the facts tables.
    :func:`pending_facts` calls it after reading the inbox; other engines need nothing.
    """
    if ws.facts.backend_name != "pyspark":
        return False
    from levier.loop.models import FactsInbox

    with _session(ws, session) as s:
        note = s.scalar(sa.select(FactsInbox.payload).where(FactsInbox.id == LEASE_ID))
    con = ws.facts.con
    if getattr(con, "_levier_flush_seen", _UNSEEN) == note:
        return False
    for name in set(con.list_tables()) & {*TABLES, "_imports", "_exclusions", "_journal"}:
        con._session.catalog.refreshTable(name)
    con._levier_flush_seen = note  # the last flush this connection has caught up with
    return True


def pending_count(ws: Any) -> dict[str, int]:
    """Queued rows per table (empty when the inbox is empty)."""
    from levier.loop.models import FactsInbox

    with _session(ws, None) as s:
        found = s.execute(sa.select(FactsInbox.table_name, sa.func.count()).where(FactsInbox.id != LEASE_ID)
                          .group_by(FactsInbox.table_name)).all()
    return {str(t): int(n) for t, n in sorted(found)}


def discard_pending(ws: Any, ids: Sequence[int]) -> int:
    """Delete queued rows by inbox id (a row that can no longer be applied); returns how many."""
    from levier.loop.models import FactsInbox

    with _session(ws, None) as s:
        return int(s.execute(sa.delete(FactsInbox).where(FactsInbox.id.in_([i for i in ids if i != LEASE_ID]))).rowcount or 0)


# -- status --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxStatus:
    """What waits in the inbox: per table the queued rows, those claimed by a flush, the oldest."""

    tables: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    checked_at: datetime = field(default_factory=_now)
    flush_lease: str | None = None  # token of the running flush (its first 10 digits: when it took the lease)

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        running = self.flush_lease is not None
        since = datetime.fromtimestamp(int(self.flush_lease.split("-")[0]), UTC).replace(tzinfo=None) if running else None
        return {"tables": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in t.items()} for t in self.tables],
                "rows": self.rows, "checked_at": self.checked_at.isoformat(), "flush_running": running,
                "flush_since": since.isoformat() if since else None}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.tables), columns=["table", "rows", "claimed", "oldest_at", "oldest_age_s"])


def inbox_status(session: Any) -> InboxStatus:
    """Per table: queued rows, rows claimed by a flush, the oldest queued time and its age (seconds)."""
    from levier.loop.models import FactsInbox

    now = _now()
    claimed = sa.func.sum(sa.case((FactsInbox.claim.is_not(None), 1), else_=0))
    found = session.execute(sa.select(FactsInbox.table_name, sa.func.count(), claimed, sa.func.min(FactsInbox.created_at))
                            .where(FactsInbox.id != LEASE_ID).group_by(FactsInbox.table_name).order_by(FactsInbox.table_name)).all()
    tables = tuple({"table": str(t), "rows": int(n), "claimed": int(c or 0), "oldest_at": oldest,
                    "oldest_age_s": max(0, int((now - oldest).total_seconds())) if oldest else None} for t, n, c, oldest in found)
    lease = session.scalar(sa.select(FactsInbox.claim).where(FactsInbox.id == LEASE_ID))
    return InboxStatus(tables=tables, checked_at=now, flush_lease=lease)


def status_at(path: Any = None) -> InboxStatus:
    """:func:`inbox_status` of the workspace at ``path`` reading only its loop DB (no facts engine is started)."""
    from levier.config import CONFIG_FILE, load_config
    from levier.loop.db import make_engine, session_scope
    from levier.workspace import _init_loop_db, _resolve_db_url, find_workspace

    base = find_workspace(path)
    url = _resolve_db_url(load_config(base / CONFIG_FILE).db_url, base)
    _init_loop_db(url)  # like open_workspace: a loop DB of an older version gets its facts_inbox table
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return inbox_status(s)
    finally:
        engine.dispose()


# -- flush (levier.data.inbox_flush) ---------------------------------------------------------------
@dataclass(frozen=True)
class FlushResult:
    """What :func:`flush_inbox` applied: one import batch per (table, source)."""

    batches: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    recovered: int = 0  # rows of an interrupted flush found already applied and removed
    busy: bool = False  # another flush holds the lease: nothing was done

    @property
    def rows(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.batches:
            out[b["table"]] = out.get(b["table"], 0) + int(b["rows"])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"batches": [dict(b) for b in self.batches], "rows": self.rows, "recovered": self.recovered, "busy": self.busy}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.batches), columns=["table", "source", "batch_id", "rows"])


def flush_inbox(ws: Any) -> FlushResult:
    """Apply every queued row to the facts exactly once (see :func:`levier.data.inbox_flush.flush_inbox`)."""
    from levier.data.inbox_flush import flush_inbox as flush

    return flush(ws)


