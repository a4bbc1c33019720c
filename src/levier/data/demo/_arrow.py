"""Arrow column builders and chunked Parquet / CSV writers for the demo generator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from levier.data.schema import TABLES

__all__ = ["arrow_schema", "ids", "labels", "timestamps", "TableWriter", "FORMATS"]

FORMATS = ("parquet", "csv")
_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
_CSV_TIME = "%Y-%m-%d %H:%M:%S"


def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of canonical table ``name`` (exact column order and types)."""
    return pa.schema([pa.field(c.name, _TYPES[c.dtype]) for c in TABLES[name].columns])


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` (vectorised)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def labels(values: Sequence[str | None], index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``values[index]`` as a string array; null where ``mask`` is true or the value is None."""
    dictionary = pa.array(list(values), type=pa.string())
    idx = pa.array(np.asarray(index, dtype=np.int32), mask=mask)
    return dictionary.take(idx)


def timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Naive UTC ``timestamp('us')`` from integer seconds since the epoch."""
    micros = np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pa.array(micros, type=pa.int64(), mask=mask).cast(pa.timestamp("us"))


def _for_csv(table: pa.Table) -> pa.Table:
    cols = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format=_CSV_TIME)
        cols.append(col)
    return pa.table(cols, names=table.column_names)


class TableWriter:
    """Writes canonical tables chunk by chunk into ``out_dir`` (one file per table)."""

    def __init__(self, out_dir: Path, fmt: str) -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self.rows: dict[str, int] = {}
        self.files: dict[str, Path] = {}
        self._writers: dict[str, object] = {}

    def write(self, name: str, columns: dict[str, pa.Array]) -> None:
        schema = arrow_schema(name)
        table = pa.table([columns[f.name].cast(f.type) for f in schema], schema=schema)
        writer = self._writers.get(name) or self._open(name, schema)
        if self.fmt == "csv":
            table = _for_csv(table)
            writer.write_table(table)  # type: ignore[attr-defined]
        else:
            writer.write_table(table, row_group_size=max(table.num_rows, 1))  # type: ignore[attr-defined]
        self.rows[name] = self.rows.get(name, 0) + table.num_rows

    def _open(self, name: str, schema: pa.Schema) -> object:
        path = self.out_dir / f"{name}.{self.fmt}"
        for other in FORMATS:  # a stale file of the other format would be imported too
            stale = self.out_dir / f"{name}.{other}"
            if other != self.fmt and stale.exists():
                stale.unlink()
        if self.fmt == "csv":
            csv_schema = pa.schema([pa.field(f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in schema])
            writer: object = pacsv.CSVWriter(str(path), csv_schema)
        else:
            writer = pq.ParquetWriter(str(path), schema, compression="zstd")
        self._writers[name] = writer
        self.files[name] = path
        return writer

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()  # type: ignore[attr-defined]
        self._writers.clear()
