"""Write the rows of an engine expression into a facts table as one import batch.

``INSERT INTO <table> SELECT …`` in the engine, with the provenance of an import batch: one
``_imports`` row (file name = ``source``) whose ``batch_id`` every new row carries in ``_batch``,
and ``_row_id`` numbered after the table's largest (ordered by ``unit_id`` for a deterministic
numbering). On DuckDB the whole write is one transaction (nothing is written if any step fails);
on other engines the two inserts follow each other, like
:func:`levier.data.inbox.append_facts`. When this process opens the facts read-only (several web
workers on a DuckDB file) the rows are streamed in Arrow batches into the facts inbox instead
(:func:`levier.data.inbox.append_facts`), to be applied by ``levier facts flush``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import sqlglot as sg

from levier.data.facts import IMPORTS_SCHEMA
from levier.data.inbox_flush import take_batch, writing

__all__ = ["insert_batch"]


def _scalar(expr: Any) -> int:
    value = expr.execute()
    return int(value) if value is not None and value == value else 0


def _imports_row(batch: int, table: str, source: str, preset: str, n: int) -> pd.DataFrame:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return pd.DataFrame([{"batch_id": batch, "table_name": table, "file_name": source, "file_hash": "", "imported_at": now,
                          "rows_read": n, "rows_inserted": n, "rows_replaced": 0, "preset": preset, "mapping": "",
                          "timezone": "UTC"}])


def _with_meta(ws: Any, table: str, rows: ir.Table, base: int, batch: int) -> ir.Table:
    schema = ws.facts.raw_schema(table)
    order = rows.unit_id if "unit_id" in rows.columns else rows[rows.columns[0]]
    numbered = rows.mutate(_row_id=(ibis.row_number().over(order_by=order) + (base + 1)).cast("int64"),
                           _batch=ibis.literal(batch, "int64"))
    cols = {n: (numbered[n].cast(t) if n in numbered.columns else ibis.null(t)) for n, t in schema.items()}
    return numbered.select(**cols)


def _insert_select(con: Any, table: str, rows: ir.Table) -> None:
    """``INSERT INTO table (cols) <compiled select>``, sent as text.

    Ibis's own ``insert`` re-parses the compiled SELECT with sqlglot, whose recursive parser can
    hit Python's recursion limit on the hashing expression; the engine parses it instead.
    """
    dialect = con.compiler.dialect
    quoted = lambda name: sg.to_identifier(name, quoted=True).sql(dialect)  # noqa: E731
    sql = con.compile(rows)
    con._run_pre_execute_hooks(rows)  # registers in-memory tables (e.g. a --units list)
    con.raw_sql(f"INSERT INTO {quoted(table)} ({', '.join(quoted(c) for c in rows.columns)}) {sql}")


def _queue(ws: Any, table: str, rows: ir.Table, source: str, preset: str) -> int:
    from levier.analysis.experiments.engine import stream
    from levier.data.inbox import append_facts

    n = 0
    for batch in stream(ws, rows):
        n += append_facts(ws, table, batch.to_pylist(), source=source, preset=preset)
    return n


def insert_batch(ws: Any, table: str, rows: ir.Table, *, source: str, preset: str) -> int:
    """Append the rows of ``rows`` (canonical columns of ``table``) as one import batch; returns how many.

    No rows → nothing written (no empty batch).
    """
    if not ws.facts_writable:
        return _queue(ws, table, rows, source, preset)
    with writing(ws):  # server engines: under the flush's lease (decision 0211)
        return _insert(ws, table, rows, source, preset)


def _insert(ws: Any, table: str, rows: ir.Table, source: str, preset: str) -> int:
    con = ws.facts.con
    duck = ws.facts.backend_name == "duckdb"
    if duck:
        con.raw_sql("BEGIN TRANSACTION")
    try:
        batch = take_batch(ws)  # the facts writers' one sequence (decision 0210)
        base = _scalar(ws.facts.raw(table)._row_id.max())
        _insert_select(con, table, _with_meta(ws, table, rows, base, batch))
        raw = ws.facts.raw(table)
        n = _scalar(raw.filter(raw._batch == batch).count())
        if n:
            con.insert("_imports", ibis.memtable(_imports_row(batch, table, source, preset, n), schema=IMPORTS_SCHEMA))
        if duck:
            con.raw_sql("COMMIT" if n else "ROLLBACK")
    except BaseException:
        if duck:
            con.raw_sql("ROLLBACK")
        raise
    return n
