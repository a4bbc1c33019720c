"""Read a source file into a DuckDB staging table of text columns (the "read" phase).

CSV goes through DuckDB's own ``read_csv`` (parallel, out of core) with every column read as
text; non-UTF-8 files are first transcoded to a temporary UTF-8 file in chunks. XLSX is
streamed with openpyxl's read-only mode into a temporary CSV, then read the same way.
Parquet is read with ``read_parquet`` and cast to text, so one conversion path serves all.

The mapping is resolved against the header first; then one ``CREATE TEMP TABLE`` reads the
file and keeps only the (trimmed, value-mapped) text of each canonical column. Its row
number expression gives the row a person sees in the file (header = row 1; for Parquet the
first record is row 1).
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

from levier.data.ingest.dialect import (
    Dialect,
    clean_header,
    detect_format,
    sniff_csv,
    transcode,
    with_encoding,
)
from levier.errors import FileFormatError
from levier.i18n import gettext as _

__all__ = ["Source", "open_source", "require_rows", "qi", "ql", "STAGE"]

STAGE = "_lv_stage"
XLSX_ROW = "__levier_row__"
Progress = Callable[[float], None]


def qi(name: str) -> str:
    """Quote a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Source:
    """An opened file: its dialect and the SQL relation that reads it as text columns."""

    path: Path  # the user's file (for messages)
    dialect: Dialect
    relation: str  # SQL table expression with the header's columns, all VARCHAR
    row_offset: int  # file row of the first record (CSV 2: the header is row 1; Parquet 1)
    row_column: str | None = None  # a relation column holding the file row (XLSX), else rowid + offset
    read_path: Path | None = None  # the file DuckDB reads (a UTF-8 copy when transcoded)
    retry: Callable[[], Source] | None = None  # re-open transcoded (UTF-8 guess proved wrong)

    def materialize(self, con: duckdb.DuckDBPyConnection, select: str) -> int:
        """``CREATE TEMP TABLE`` :data:`STAGE` ``AS SELECT {select} FROM`` the file; returns its rows."""
        if self.row_column:
            select = f"CAST({qi(self.row_column)} AS BIGINT) AS _src_row, {select}"
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT {select} FROM {self.relation}")
        except duckdb.InvalidInputException as exc:
            if self.retry is not None and "unicode" in str(exc).lower():
                again = self.retry()
                self.dialect, self.relation, self.read_path, self.retry = again.dialect, again.relation, again.read_path, None
                return self.materialize(con, select)
            raise _csv_error(exc, self.read_path or self.path, self.path, self.dialect) from None
        except duckdb.Error as exc:
            raise FileFormatError(_("{file}: cannot be read ({error}).", file=self.path.name, error=str(exc).strip().splitlines()[0])) from None
        return int(con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0])  # type: ignore[index]

    @property
    def row_sql(self) -> str:
        """The file row number of a row of the materialized table."""
        return "_src_row" if self.row_column else f"(rowid + {self.row_offset})"


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


def _open_csv(path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None, force: str | None = None) -> Source:
    dialect = sniff_csv(path, delimiter=opts.get("delimiter"), encoding=force or opts.get("encoding"), decimal=opts.get("decimal"))
    if force:
        dialect = replace(dialect, detected=tuple(d for d in dialect.detected if d != "encoding") + ("encoding",))
    read_path: Path | None = path
    if dialect.encoding not in ("utf-8", "utf-8-sig"):
        read_path = _transcoded(path, tmp, dialect.encoding or "cp1252", progress)
        if read_path is None:
            dialect = with_encoding(dialect, "latin-1", _("The file is not valid cp1252; it was read as Latin-1."))
            read_path = _transcoded(path, tmp, "latin-1", progress)
    assert read_path is not None
    retry = None
    if read_path == path and "encoding" in dialect.detected:
        # The sample looked like UTF-8; if a later byte says otherwise, transcode and read again.
        def retry() -> Source:
            return _open_csv(path, tmp, opts, progress, force="cp1252")
    relation = _read_csv_sql(read_path, dialect.header, dialect.delimiter or ",")
    # Insertion order is preserved, so the materialized table's rowid is the record number.
    return Source(path, dialect, relation, 2, None, read_path, retry)


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


def _open_xlsx(path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None) -> Source:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip / xml errors of a damaged or non-Excel zip
        raise FileFormatError(_("{file}: cannot be read as XLSX ({error}).", file=path.name, error=str(exc))) from None
    try:
        sheet_name = opts.get("sheet")
        if sheet_name and sheet_name not in wb.sheetnames:
            raise FileFormatError(_("{file}: no sheet named '{sheet}'.", file=path.name, sheet=sheet_name), hint=_("Sheets: {sheets}.", sheets=", ".join(wb.sheetnames)))
        ws = wb[sheet_name] if sheet_name else wb.worksheets[0]
        out = tmp / f"{path.stem}.xlsx.csv"
        header, notes = _xlsx_to_csv(ws, out, progress)
    finally:
        wb.close()
    if header is None:
        raise FileFormatError(_("{file} is empty.", file=path.name), hint=_("The first sheet holds no data."))
    relation = _read_csv_sql(out, (XLSX_ROW, *header), ",")
    return Source(path, Dialect("xlsx", None, None, ".", header, (), tuple(notes)), relation, 0, XLSX_ROW, out)


def _xlsx_to_csv(ws: Any, out: Path, progress: Progress | None) -> tuple[tuple[str, ...] | None, list[str]]:
    """Stream a worksheet to a UTF-8 CSV whose first column is the sheet row number."""
    total = max(ws.max_row or 1, 1)
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
    return header, notes


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({ql(str(path))})").fetchall()]
    except duckdb.Error as exc:
        raise FileFormatError(_("{file}: cannot be read as Parquet ({error}).", file=path.name, error=str(exc).splitlines()[0])) from None
    header, notes = clean_header(names)
    cols = ", ".join(f"CAST({qi(src)} AS VARCHAR) AS {qi(dst)}" for src, dst in zip(names, header, strict=True))
    relation = f"(SELECT {cols} FROM read_parquet({ql(str(path))}))"
    return Source(path, Dialect("parquet", None, None, ".", header, (), tuple(notes)), relation, 1, None, path)


def open_source(con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, opts: dict[str, Any], progress: Progress | None = None) -> Source:
    """Open ``path`` (CSV, XLSX or Parquet) for reading; raises :class:`FileFormatError`."""
    fmt = detect_format(path)
    if fmt == "xlsx":
        return _open_xlsx(path, tmp, opts, progress)
    if fmt == "parquet":
        return _open_parquet(con, path)
    return _open_csv(path, tmp, opts, progress)


def require_rows(source: Source, rows: int) -> None:
    """A file with a header and no data is an error."""
    if rows == 0:
        raise FileFormatError(
            _("{file} has a header but no data rows.", file=source.path.name),
            hint=_("Columns found: {columns}.", columns=", ".join(source.dialect.header)),
        )
