"""Read a source file into a DuckDB staging table of text columns (the "read" phase).

CSV goes through DuckDB's own ``read_csv`` (parallel, out of core) with every column read as
text; non-UTF-8 files are first transcoded to a temporary UTF-8 file in chunks. XLSX is
streamed with openpyxl's read-only mode into a temporary CSV, then read the same way.
Parquet is read with ``read_parquet`` and cast to text, so one conversion path serves all.

The staging table holds the header's columns plus ``_src_row``: the row number a person
sees in the file (header = row 1; for Parquet the first record is row 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

from levier.data.ingest.dialect import Dialect, clean_header, detect_format, sniff_csv, transcode, with_encoding
from levier.errors import FileFormatError
from levier.i18n import gettext as _

__all__ = ["Staged", "stage_file", "qi", "ql", "STAGE"]

STAGE = "_lv_stage"
XLSX_ROW = "__levier_row__"
Progress = Callable[[float], None]


def qi(name: str) -> str:
    """Quote a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Staged:
    """The staging table of one file."""

    dialect: Dialect
    rows: int
    row_expr: str  # SQL expression of the file row number over the staging table


def _count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def _csv_error(exc: duckdb.Error, path: Path, shown: Path, dialect: Dialect) -> FileFormatError:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    row = int(line.group(1)) if line else None
    if row and counts:
        expected, found = int(counts.group(1)), int(counts.group(2))
        last = found < expected and row >= _count_lines(path)
        msg = _("{file}, row {row}: {found} fields where the header has {expected}.", file=shown.name, row=row, found=found, expected=expected)
        if last:
            msg += " " + _("The last line is truncated (the export or the copy was cut short).")
            return FileFormatError(msg, hint=_("Export the file again, or delete the incomplete last line."))
        return FileFormatError(msg, hint=_("Check the quoting of that row, or pass --delimiter if the delimiter ({delimiter}) is wrong.", delimiter=dialect.describe_delimiter()))
    if row and "unterminated quote" in text:
        return FileFormatError(_("{file}, row {row}: a quoted value is never closed (unterminated quote).", file=shown.name, row=row), hint=_("Fix the quotes of that row or export the file again."))
    first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
    return FileFormatError(_("{file}: cannot be read as CSV ({error}).", file=shown.name, error=first))


def _read_csv_sql(path: Path, header: tuple[str, ...], delimiter: str) -> str:
    cols = ", ".join(f"{ql(c)}: 'VARCHAR'" for c in header)
    return (
        f"read_csv({ql(str(path))}, auto_detect=false, header=true, delim={ql(delimiter)}, quote='\"', "
        f"escape='\"', columns={{{cols}}}, strict_mode=true, parallel=true)"
    )


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, shown: Path, dialect: Dialect) -> int:
    src = _read_csv_sql(path, dialect.header, dialect.delimiter or ",")
    # Insertion order is preserved, so the table's rowid is the record number (header excluded).
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT * FROM {src}")
    return int(con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0])  # type: ignore[index]


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None) -> Staged:
    dialect = sniff_csv(path, delimiter=opts.get("delimiter"), encoding=opts.get("encoding"), decimal=opts.get("decimal"))
    read_path = path
    if dialect.encoding not in ("utf-8", "utf-8-sig"):
        read_path = _transcoded(path, tmp, dialect.encoding or "cp1252", progress)
        if read_path is None:
            dialect = with_encoding(dialect, "latin-1", "cp1252 failed; read as latin-1")
            read_path = _transcoded(path, tmp, "latin-1", progress)
    try:
        rows = _load_csv(con, read_path or path, path, dialect)
    except duckdb.InvalidInputException as exc:
        if "unicode" not in str(exc).lower() or read_path != path or "encoding" not in dialect.detected:
            raise _csv_error(exc, read_path or path, path, dialect) from None
        # The sample looked like UTF-8 but the file is not: transcode and read again.
        read_path = _transcoded(path, tmp, "cp1252", progress)
        dialect = replace(dialect, encoding="cp1252" if read_path else "latin-1")
        read_path = read_path or _transcoded(path, tmp, "latin-1", progress)
        try:
            rows = _load_csv(con, read_path, path, dialect)  # type: ignore[arg-type]
        except duckdb.InvalidInputException as exc2:
            raise _csv_error(exc2, read_path, path, dialect) from None  # type: ignore[arg-type]
    return Staged(dialect, rows, "rowid + 2")


def _transcoded(path: Path, tmp: Path, encoding: str, progress: Progress | None) -> Path | None:
    dest = tmp / f"{path.stem}.{encoding}.utf8.csv"
    try:
        transcode(path, dest, encoding, progress)
    except UnicodeDecodeError:
        return None
    return dest


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None) -> Staged:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip / xml errors of a damaged or non-Excel zip
        raise FileFormatError(_("{file}: cannot be read as XLSX ({error}).", file=path.name, error=str(exc))) from None
    try:
        sheet_name = opts.get("sheet")
        ws = wb[sheet_name] if sheet_name else wb.worksheets[0]
        total = max(ws.max_row or 1, 1)
        out = tmp / f"{path.stem}.xlsx.csv"
        header: tuple[str, ...] | None = None
        notes: list[str] = []
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell(v) for v in values]
                if header is None:
                    if not any(cells):
                        continue
                    while cells and not cells[-1]:
                        cells.pop()
                    header, notes = clean_header(cells)
                    writer.writerow([XLSX_ROW, *header])
                    continue
                cells = (cells + [""] * len(header))[: len(header)]
                if any(cells):
                    writer.writerow([str(i), *cells])
                if progress and i % 10000 == 0:
                    progress(min(i / total, 1.0))
    finally:
        wb.close()
    if header is None:
        raise FileFormatError(_("{file} is empty.", file=path.name), hint=_("The first sheet holds no data."))
    dialect = Dialect("xlsx", None, None, ".", header, (), tuple(notes))
    src = _read_csv_sql(out, (XLSX_ROW, *header), ",")
    cols = ", ".join(qi(c) for c in header)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT CAST({qi(XLSX_ROW)} AS BIGINT) AS _src_row, {cols} FROM {src}")
    rows = int(con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0])  # type: ignore[index]
    return Staged(dialect, rows, "_src_row")


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({ql(str(path))})").fetchall()]
        header, notes = clean_header(names)
        cols = ", ".join(f"CAST({qi(src)} AS VARCHAR) AS {qi(dst)}" for src, dst in zip(names, header, strict=True))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT {cols} "
            f"FROM read_parquet({ql(str(path))})"
        )
    except duckdb.Error as exc:
        raise FileFormatError(_("{file}: cannot be read as Parquet ({error}).", file=path.name, error=str(exc).splitlines()[0])) from None
    rows = int(con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0])  # type: ignore[index]
    return Staged(Dialect("parquet", None, None, ".", header, (), tuple(notes)), rows, "rowid + 1")


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None = None) -> Staged:
    """Read ``path`` into the temp table :data:`STAGE`; raises :class:`FileFormatError`."""
    fmt = detect_format(path)
    if fmt == "xlsx":
        staged = _stage_xlsx(con, path, tmp, opts, progress)
    elif fmt == "parquet":
        staged = _stage_parquet(con, path)
    else:
        staged = _stage_csv(con, path, tmp, opts, progress)
    if staged.rows == 0:
        raise FileFormatError(
            _("{file} has a header but no data rows.", file=path.name),
            hint=_("Columns found: {columns}.", columns=", ".join(staged.dialect.header)),
        )
    return staged
