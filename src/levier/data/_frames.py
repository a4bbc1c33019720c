"""Load in-memory canonical frames straight into a facts store (tests, parity, demo checks).

This bypasses the importer: no mapping, no upsert, no ``_imports`` row. Each frame gets the
raw layout (canonical columns in order, ``_row_id`` numbered from 1, ``_batch`` = 0) and NaN
becomes NULL (Spark would keep a float NaN as a value).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from levier.data.facts import Facts
from levier.data.schema import table as canonical

__all__ = ["raw_frame", "insert_frames"]


def raw_frame(name: str, data: pd.DataFrame | pa.Table | list[dict[str, Any]], first_row_id: int = 1) -> pa.Table:
    """``data`` shaped as the raw table ``name`` (missing optional columns become NULL)."""
    spec = canonical(name)
    if isinstance(data, pa.Table):
        df = data.to_pandas()
    else:
        df = pd.DataFrame(data)
    arrays = []
    n = len(df)
    for col in spec.columns:
        values = df[col.name] if col.name in df.columns else pd.Series([None] * n, dtype="object")
        arrays.append(_array(values, col.dtype))
    if "_row_id" in df.columns:
        row_ids = pa.array(df["_row_id"].astype("int64"), pa.int64())
    else:
        row_ids = pa.array(range(first_row_id, first_row_id + n), pa.int64())
    arrays += [row_ids, pa.array([0] * n, pa.int64())]
    names = [*spec.column_names, "_row_id", "_batch"]
    return pa.Table.from_arrays(arrays, names=names)


def _array(values: pd.Series, dtype: str) -> pa.Array:
    clean = [None if _missing(v) else v for v in values.tolist()]
    if dtype == "timestamp":
        return pa.array([None if v is None else pd.Timestamp(v).to_pydatetime().replace(tzinfo=None) for v in clean], pa.timestamp("us"))
    if dtype == "date":
        return pa.array([None if v is None else pd.Timestamp(v).date() for v in clean], pa.date32())
    if dtype == "float64":
        return pa.array([None if v is None else float(v) for v in clean], pa.float64())
    if dtype == "int64":
        return pa.array([None if v is None else int(v) for v in clean], pa.int64())
    if dtype == "boolean":
        return pa.array([None if v is None else bool(v) for v in clean], pa.bool_())
    return pa.array([None if v is None else str(v) for v in clean], pa.string())


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def insert_frames(facts: Facts, frames: dict[str, Any]) -> dict[str, int]:
    """Append each frame to its raw table; returns rows inserted per table."""
    out = {}
    for name, data in frames.items():
        table = raw_frame(name, data)
        if table.num_rows:
            _insert(facts, name, table)
        out[name] = table.num_rows
    return out


def _insert(facts: Facts, name: str, table: pa.Table) -> None:
    if facts.backend_name == "pyspark":
        # Ibis goes through pandas, where a missing string becomes NaN and Spark stores 'NaN':
        # hand Arrow to Spark directly (PySpark >= 4.0) and append by position.
        session = facts.con._session
        session.createDataFrame(table).write.insertInto(name)
        return
    facts.con.insert(name, table)
