"""Facts written by requests: at once when this process can write the facts, else queued.

A DuckDB file can be opened by many processes only read-only, so the web workers of
``levier serve --workers N`` (N > 1) cannot write it. Every facts write a request makes (posted
touches, live-experiment assignments and events) goes through :func:`append_facts`:

- the process can write the facts (one process, or a server engine such as Spark or a
  warehouse): the rows are appended at once as one import batch (an ``_imports`` record);
- the facts are open read-only: the rows are validated and queued durably in the loop DB table
  ``facts_inbox`` (shared by every worker); :func:`pending_facts` lets readers see them and
  :func:`flush_inbox` (``levier facts flush``, and ``levier serve`` when it starts and stops)
  applies them as one import batch per (table, source).

Rows are checked against the canonical model (:mod:`levier.data.schema`) before anything is
written or queued; a bad row raises :class:`~levier.errors.SchemaError` naming the table, the
row and the column, and nothing is written. A flush is idempotent: each batch is claimed with a
token stored in ``_imports.file_hash``, so a flush interrupted between the facts write and the
inbox clean-up never applies a row twice (docs/decisions/0170-facts-inbox.md).
"""

from __future__ import annotations

import threading
import time
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

__all__ = ["append_facts", "pending_facts", "pending_count", "flush_inbox", "discard_pending", "FlushResult", "KEY_COLUMNS",
           "INBOX_PRESET"]

#: The column stored (indexed) next to each queued row so :func:`pending_facts` can filter fast.
KEY_COLUMNS = {"leads": "lead_id", "stage_events": "lead_id", "touches": "lead_id", "deals": "lead_id",
               "spend": "campaign_id", "web_events": "anonymous_id", "assignments": "experiment_key", "orders": "account_id"}
INBOX_PRESET = "levier-inbox"
_CLAIM_PREFIX = "inbox:"
_STALE_CLAIM_SECONDS = 600
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


def _write_duckdb(ws: Any, table: str, data: pa.Table, source: str, preset: str, claim: str, reuse: bool) -> int:
    duck = ws.facts.con.con.cursor()  # its own transaction: other threads' queries stay outside it
    view = f"_levier_inbox_{uuid.uuid4().hex[:8]}"
    data = data.append_column("_ord", pa.array(range(1, data.num_rows + 1), pa.int64()))
    duck.register(view, data)
    duck.execute("BEGIN TRANSACTION")
    try:
        found = duck.execute("SELECT max(batch_id) FROM _imports WHERE file_name = ? AND table_name = ?", [source, table]).fetchone()
        batch = found[0] if reuse and found and found[0] is not None else None
        if batch is None:
            batch = duck.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM _imports").fetchone()[0]
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
        batch = _scalar(imports.batch_id.max()) + 1
        con.insert("_imports", ibis.memtable(pd.DataFrame([_imports_row(batch, table, source, preset, 0 if reuse else data.num_rows, claim)]),
                                             schema=IMPORTS_SCHEMA))
    start = _scalar(ws.facts.raw(table)._row_id.max()) + 1
    data = data.append_column("_row_id", pa.array(range(start, start + data.num_rows), pa.int64()))
    data = data.append_column("_batch", pa.array([batch] * data.num_rows, pa.int64()))
    con.insert(table, ibis.memtable(data.select(ws.facts.raw_schema(table).names)))
    return data.num_rows


def _write(ws: Any, table: str, rows: Sequence[Mapping[str, Any]], source: str, preset: str, claim: str = "", reuse: bool = False) -> int:
    if not ws.facts_writable:
        raise FactsReadOnlyError(_("The facts are open read-only in this process; rows can only be queued."),
                                 hint=_("Run `levier facts flush` where the facts can be written (stop `levier serve` first on a DuckDB file)."))
    data = _arrow(ws, table, rows)
    writer = _write_duckdb if ws.facts.backend_name == "duckdb" else _write_generic
    with _WRITE_LOCK:
        return writer(ws, table, data, source, preset, claim, reuse)


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

    Written at once as one import batch (file name ``source``) when this process can write the
    facts; else queued in the loop DB's ``facts_inbox`` (inside ``session`` when given, so the
    rows commit with the caller's own loop writes). ``reuse_batch=True`` adds direct writes to
    the newest batch of the same ``source`` (one batch for a stream of single rows, e.g. posted
    touches). Every row is validated first: a bad row raises :class:`SchemaError`, nothing written.
    """
    _table(table)
    clean = [normalise_row(table, row, i) for i, row in enumerate(rows, start=1)]
    if not clean:
        return 0
    if ws.facts_writable:
        return _write(ws, table, clean, source, preset, reuse=reuse_batch)
    from levier.loop.models import FactsInbox

    with _session(ws, session) as s:
        s.add_all([FactsInbox(table_name=table, match_key=_match_key(table, r), source=source[:200], preset=preset[:60],
                              payload=_jsonable(r)) for r in clean])
        s.flush()
    return len(clean)


def _pending_rows(s: Any, table: str | None = None, key: str | None = None) -> list[Any]:
    from levier.loop.models import FactsInbox

    q = sa.select(FactsInbox).order_by(FactsInbox.id)
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
    return [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]


def pending_count(ws: Any) -> dict[str, int]:
    """Queued rows per table (empty when the inbox is empty)."""
    from levier.loop.models import FactsInbox

    with _session(ws, None) as s:
        found = s.execute(sa.select(FactsInbox.table_name, sa.func.count()).group_by(FactsInbox.table_name)).all()
    return {str(t): int(n) for t, n in sorted(found)}


def discard_pending(ws: Any, ids: Sequence[int]) -> int:
    """Delete queued rows by inbox id (a row that can no longer be applied); returns how many."""
    from levier.loop.models import FactsInbox

    with _session(ws, None) as s:
        return int(s.execute(sa.delete(FactsInbox).where(FactsInbox.id.in_(list(ids)))).rowcount or 0)


@dataclass(frozen=True)
class FlushResult:
    """What :func:`flush_inbox` applied: one import batch per (table, source)."""

    batches: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    recovered: int = 0  # rows of an interrupted flush found already applied and removed

    @property
    def rows(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.batches:
            out[b["table"]] = out.get(b["table"], 0) + int(b["rows"])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"batches": [dict(b) for b in self.batches], "rows": self.rows, "recovered": self.recovered}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.batches), columns=["table", "source", "batch_id", "rows"])


def _recover(ws: Any) -> int:
    """Settle claims of interrupted flushes: applied → delete the rows; not applied (and stale) → release."""
    from levier.loop.models import FactsInbox

    removed = 0
    with _session(ws, None) as s:
        claims = [c for c in s.scalars(sa.select(FactsInbox.claim).where(FactsInbox.claim.is_not(None)).distinct())]
        for claim in claims:
            imports = ws.facts.imports()
            applied = _scalar(imports.filter(imports.file_hash == _CLAIM_PREFIX + claim).count())
            if applied:
                removed += int(s.execute(sa.delete(FactsInbox).where(FactsInbox.claim == claim)).rowcount or 0)
            elif time.time() - int(claim.split("-")[0]) > _STALE_CLAIM_SECONDS:
                s.execute(sa.update(FactsInbox).where(FactsInbox.claim == claim).values(claim=None))
    return removed


def _groups(rows: list[Any]) -> dict[tuple[str, str, str], list[Any]]:
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        groups.setdefault((r.table_name, r.source, r.preset), []).append(r)
    return groups


def _apply(ws: Any, group: tuple[str, str, str], rows: list[dict[str, Any]], ids: list[int]) -> dict[str, Any]:
    from levier.loop.models import FactsInbox

    table, source, preset = group
    claim = f"{int(time.time())}-{uuid.uuid4().hex[:16]}"
    with _session(ws, None) as s:
        taken = s.execute(sa.update(FactsInbox).where(FactsInbox.id.in_(ids), FactsInbox.claim.is_(None)).values(claim=claim)).rowcount
    if taken != len(ids):  # another flush took some of them: leave the group to it
        with _session(ws, None) as s:
            s.execute(sa.update(FactsInbox).where(FactsInbox.claim == claim).values(claim=None))
        return {}
    _write(ws, table, rows, source, preset, claim=_CLAIM_PREFIX + claim)
    with _session(ws, None) as s:
        s.execute(sa.delete(FactsInbox).where(FactsInbox.claim == claim))
    imports = ws.facts.imports()
    batch = _scalar(imports.filter(imports.file_hash == _CLAIM_PREFIX + claim).batch_id.max())
    return {"table": table, "source": source, "batch_id": batch, "rows": len(rows)}


def flush_inbox(ws: Any) -> FlushResult:
    """Apply every queued row to the facts, one import batch per (table, source); returns what was done.

    Every row is validated before anything is written: a bad row raises :class:`SchemaError`
    naming its inbox id (discard it with ``levier facts flush --discard ID``) and nothing is applied.
    """
    if not ws.facts_writable:
        raise FactsReadOnlyError(_("The facts are open read-only in this process; they cannot be flushed here."),
                                 hint=_("Run `levier facts flush` where the facts can be written (stop `levier serve` first on a DuckDB file)."))
    recovered = _recover(ws)
    with _session(ws, None) as s:
        pending = [r for r in _pending_rows(s) if r.claim is None]
    checked: list[tuple[tuple[str, str, str], list[dict[str, Any]], list[int]]] = []
    for group, rows in _groups(pending).items():
        try:
            clean = [normalise_row(group[0], r.payload, r.id) for r in rows]
        except SchemaError as exc:
            raise SchemaError(_("Queued facts row (inbox id shown as the row): {problem}", problem=exc.message),
                              hint=_("Discard it with `levier facts flush --discard ID`, then flush again.")) from None
        checked.append((group, clean, [r.id for r in rows]))
    batches = [b for b in (_apply(ws, g, rows, ids) for g, rows, ids in checked) if b]
    return FlushResult(batches=tuple(batches), recovered=recovered)
