"""Write converted rows to the facts store (the "write" phase): keyed upsert + ``_imports`` row.

DuckDB: one transaction on the facts connection — delete the rows whose key is imported
again, insert the new rows, record the batch — so a failure leaves the workspace unchanged.
Other Ibis backends (PySpark …): the converted rows are shipped once as Arrow, merged with the
existing table (anti-join on the key + union) into a staging table that then replaces it.
The caller numbers the batch with :func:`levier.data.inbox_flush.take_batch` (one sequence for
every facts writer, decision 0210).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from levier.data.facts import IMPORTS_SCHEMA, Facts
from levier.data.ingest.convert import CONV
from levier.data.ingest.plan import Plan
from levier.data.ingest.readers import qi
from levier.errors import EngineError
from levier.i18n import gettext as _

__all__ = ["BatchInfo", "file_hash", "find_previous", "write_duckdb", "write_ibis"]


@dataclass(frozen=True)
class BatchInfo:
    """Provenance of one import, as stored in ``_imports`` (batch_id set at write time)."""

    table: str
    file_name: str
    file_hash: str
    rows_read: int
    preset: str | None
    mapping: str
    timezone: str

    def row(self, batch_id: int, inserted: int, replaced: int) -> dict[str, Any]:
        return {
            "batch_id": batch_id, "table_name": self.table, "file_name": self.file_name,
            "file_hash": self.file_hash, "imported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            "rows_read": self.rows_read, "rows_inserted": inserted, "rows_replaced": replaced,
            "preset": self.preset, "mapping": self.mapping, "timezone": self.timezone,
        }


def file_hash(path: Path) -> str:
    """``sha256:<hex>`` of the file content, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def find_previous(facts: Facts, table: str, digest: str, mapping: str) -> dict[str, Any] | None:
    """The earlier ``_imports`` row of the same file, table and mapping, if any."""
    imp = facts.imports()
    hit = imp.filter((imp.table_name == table) & (imp.file_hash == digest) & (imp.mapping == mapping))
    rows = hit.order_by(hit.batch_id).limit(1).to_pyarrow().to_pylist()
    return rows[0] if rows else None


def _select_new(plan: Plan, base: int, batch: int) -> str:
    k = max(len(plan.stages), 1)
    cols = ", ".join(qi(c.name) for c in plan.columns)
    return f"SELECT {cols}, CAST({base} + _src_row * {k} + _sub AS BIGINT) AS _row_id, CAST({batch} AS BIGINT) AS _batch FROM {CONV}"


def _key_match(plan: Plan, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{qi(k)} = {right}.{qi(k)}" for k in plan.key)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)  # type: ignore[index]


def write_duckdb(con: duckdb.DuckDBPyConnection, plan: Plan, info: BatchInfo, batch: int) -> tuple[int, int, int]:
    """Upsert :data:`CONV` into ``plan.table`` in one transaction as batch ``batch``; returns (batch, inserted, replaced)."""
    table = qi(plan.table)
    con.execute("BEGIN TRANSACTION")
    try:
        base = _scalar(con, f"SELECT coalesce(max(_row_id), 0) FROM {table}")
        replaced = _scalar(con, f"DELETE FROM {table} AS t USING {CONV} AS c WHERE {_key_match(plan, 't', 'c')}")
        inserted = _scalar(con, f"INSERT INTO {table} BY NAME {_select_new(plan, base, batch)}")
        row = info.row(batch, inserted, replaced)
        names = ", ".join(qi(n) for n in IMPORTS_SCHEMA.names)
        con.execute(f"INSERT INTO _imports ({names}) VALUES ({', '.join('?' for _n in IMPORTS_SCHEMA.names)})", [row[n] for n in IMPORTS_SCHEMA.names])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return batch, inserted, replaced


def _spark(facts: Facts) -> Any:
    """The SparkSession of a PySpark backend, else None (Ibis via pandas turns NULL text into 'NaN')."""
    return getattr(facts.con, "_session", None) if facts.backend_name == "pyspark" else None


def _register(facts: Facts, name: str, arrow: pa.Table) -> None:
    session = _spark(facts)
    if session is not None:
        session.createDataFrame(arrow).createOrReplaceTempView(name)
    else:
        facts.con.create_table(name, arrow, overwrite=True)


def _append(facts: Facts, name: str, arrow: pa.Table) -> None:
    session = _spark(facts)
    if session is not None:
        session.createDataFrame(arrow).write.insertInto(name)
    else:
        facts.con.insert(name, arrow)


def _drop(facts: Facts, name: str) -> None:
    try:
        session = _spark(facts)
        if session is not None and session.catalog.dropTempView(name):
            return
        facts.con.drop_table(name, force=True)
    except Exception:  # noqa: BLE001 - best-effort cleanup of a staging table
        pass


def write_ibis(facts: Facts, duck: duckdb.DuckDBPyConnection, plan: Plan, info: BatchInfo, batch: int) -> tuple[int, int, int]:
    """Upsert on a non-DuckDB backend as batch ``batch`` (anti-join existing keys + union, then overwrite)."""
    con = facts.con
    existing = facts.raw(plan.table)
    base_value = existing._row_id.max().execute()
    base = int(base_value) if base_value is not None and base_value == base_value else 0
    schema = existing.schema()
    arrow = duck.execute(_select_new(plan, base, batch)).fetch_arrow_table().select(list(schema.names)).cast(schema.to_pyarrow())
    new_name, merged_name = f"_lv_new_{batch}", f"_lv_merged_{batch}"
    try:
        _register(facts, new_name, arrow)
        new = con.table(new_name)
        replaced = int(existing.semi_join(new, list(plan.key)).count().execute())
        kept = existing.anti_join(new, list(plan.key))
        con.create_table(merged_name, kept.union(new.select(*schema.names)), overwrite=True)
        con.create_table(plan.table, con.table(merged_name), overwrite=True)
        row = info.row(batch, arrow.num_rows, replaced)
        _append(facts, "_imports", pa.Table.from_pylist([row], schema=IMPORTS_SCHEMA.to_pyarrow()))
    except Exception as exc:
        raise EngineError(_("Writing to the facts engine failed: {error}", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from exc
    finally:
        for name in (new_name, merged_name):
            _drop(facts, name)
    return batch, arrow.num_rows, replaced
