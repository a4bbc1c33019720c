"""Files of unit ids (``--units``, ``--exclude-file``) read by the engine, never into Python lists.

A unit file is a CSV: a header naming one of :data:`ID_COLUMNS` (case-insensitive; the other
columns are ignored), or no header and the ids in the first column. The delimiter (comma,
semicolon, tab) and the encoding are detected from the first bytes with the importer's sniffer
(:func:`levier.data.ingest.dialect.sniff_csv`); a file that is not UTF-8 is transcoded to a
temporary UTF-8 copy in chunks. Ids are trimmed; empty cells and short rows are skipped. An
empty file is an empty list.

DuckDB's ``read_csv`` reads the file into a temporary table of the facts connection (DuckDB
facts; a read-only connection may create temporary tables) that the assignment joins. Other
engines get the ids parsed by a private DuckDB connection, as an Arrow table registered with
the engine (:func:`ibis.memtable`): the ids stay in columnar memory, never as Python strings.

A row the reader rejects (more fields than the first row, an unclosed quote, bytes that are not
text) stops the read with a :class:`~levier.errors.FileFormatError` naming the file, the row
(header = row 1) and the column.
"""

from __future__ import annotations

import codecs
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from levier.errors import FileFormatError, OptionError
from levier.i18n import gettext as _

__all__ = ["ID_COLUMNS", "read_unit_file"]

#: header names of the id column, first match wins
ID_COLUMNS = ("unit_id", "lead_id", "account_id", "anonymous_id", "id")
_EMPTY_PROBE = 1 << 16
_SPACES = " \t\r\n\v\f\u00a0\ufeff"  # what str.strip() removed in the former Python reader (and BOM / NBSP)


def _ql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _is_empty(path: Path) -> bool:
    """No byte but a BOM and whitespace (looked at only for small files)."""
    if path.stat().st_size > _EMPTY_PROBE:
        return False
    return not path.read_bytes().replace(codecs.BOM_UTF8, b"").strip()


def _layout(header: tuple[str, ...]) -> tuple[bool, int]:
    """(the first row is a header, index of the id column)."""
    names = [h.replace("\ufeff", "").strip().lower() for h in header]
    for name in ID_COLUMNS:
        if name in names:
            return True, names.index(name)
    return False, 0


def _read_sql(path: Path, *, width: int, has_header: bool, index: int, delimiter: str, rejects: str) -> str:
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    trimmed = f"trim(c{index}, {_ql(_SPACES)})"
    return (f"SELECT {trimmed} AS unit_id FROM read_csv({_ql(str(path))}, auto_detect=false, "
            f"header={'true' if has_header else 'false'}, delim={_ql(delimiter)}, quote='\"', escape='\"', "
            f"columns={{{cols}}}, strict_mode=true, null_padding=true, store_rejects=true, "
            f"rejects_table={_ql(rejects + '_errors')}, rejects_scan={_ql(rejects + '_scans')}) "
            f"WHERE c{index} IS NOT NULL AND {trimmed} <> ''")


def _rejected(raw: Any, rejects: str) -> tuple[int, int | None, str, str] | None:
    """(row, column, error type, message) of the first rejected row, or None."""
    row = raw.execute(f"SELECT line, column_idx, error_type, error_message FROM {rejects}_errors "
                      "ORDER BY line, column_idx LIMIT 1").fetchone()
    if row is None:
        return None
    line, column, kind, message = row
    return int(line), (int(column) if column is not None else None), str(kind), str(message or "")


def _error(shown: Path, option: str, width: int, found: tuple[int, int | None, str, str]) -> FileFormatError:
    row, column, kind, message = found
    name = shown.name
    if kind == "TOO MANY COLUMNS":
        counted = re.search(r"Found: (\d+)", message)
        return FileFormatError(
            _("{file}, row {row}: {found} fields where the first row has {expected} ({option}).", file=name, row=row,
              found=counted.group(1) if counted else "more", expected=width, option=option),
            hint=_("Quote the values that hold the delimiter, or give one id per row."))
    if "QUOTE" in kind:
        return FileFormatError(
            _("{file}, row {row}, column {column}: a quoted value is never closed ({option}).", file=name, row=row,
              column=column or 1, option=option),
            hint=_("Close the quote on that row, or remove it."))
    if kind == "INVALID ENCODING":
        return FileFormatError(
            _("{file}, row {row}, column {column}: bytes that are not UTF-8 text ({option}).", file=name, row=row,
              column=column or 1, option=option),
            hint=_("Save the file as CSV UTF-8."))
    return FileFormatError(
        _("{file}, row {row}, column {column}: cannot be read ({error}) ({option}).", file=name, row=row,
          column=column or 1, error=message.splitlines()[0] if message else kind, option=option),
        hint=_("Give a CSV with one unit id per row, or a column named {names}.", names=", ".join(ID_COLUMNS)))


def _materialise(raw: Any, read_path: Path, shown: Path, option: str, *, width: int, has_header: bool, index: int,
                 delimiter: str) -> tuple[str, tuple[int, int | None, str, str] | None]:
    """``CREATE TEMP TABLE`` of the ids; returns its name and the first rejected row (the table is dropped then)."""
    name = f"_lv_units_{uuid.uuid4().hex[:12]}"
    sql = _read_sql(read_path, width=width, has_header=has_header, index=index, delimiter=delimiter, rejects=name)
    try:
        raw.execute(f"CREATE TEMP TABLE {name} AS {sql}")
        bad = _rejected(raw, name)
    except Exception as exc:  # noqa: BLE001 - any engine error on a user file is a file error
        raise FileFormatError(_("{file}: cannot be read as CSV ({error}) ({option}).", file=shown.name,
                                error=str(exc).strip().splitlines()[0], option=option)) from None
    finally:
        for suffix in ("_errors", "_scans"):
            raw.execute(f"DROP TABLE IF EXISTS {name}{suffix}")
    if bad is not None:
        raw.execute(f"DROP TABLE IF EXISTS {name}")
    return name, bad


def _duckdb(ws: Any) -> tuple[Any, bool]:
    """The DuckDB connection that reads the file, and whether it is the facts engine itself."""
    if ws is not None and ws.facts.backend_name == "duckdb":
        return ws.facts.con.con, True
    import duckdb

    return duckdb.connect(), False


def read_unit_file(ws: Any, path: str | Path, *, option: str = "--units") -> ir.Table:
    """An engine table ``unit_id`` (string) of the ids in the CSV ``path`` (see the module docstring).

    ``option`` names the command-line option in messages. :class:`OptionError` when the file does
    not exist; :class:`FileFormatError` (file, row, column) for a file the reader rejects.
    """
    from levier.analysis.experiments.engine import units_table
    from levier.data.ingest.dialect import sniff_csv, transcode

    path = Path(path)
    if not path.is_file():
        raise OptionError(_("File not found: {path}", path=path), hint=_("Check the path given to {option}.", option=option))
    if _is_empty(path):
        return units_table([])
    dialect = sniff_csv(path)
    has_header, index = _layout(dialect.header)
    width, delimiter = max(len(dialect.header), 1), dialect.delimiter or ","
    raw, facts = _duckdb(ws)
    with tempfile.TemporaryDirectory(prefix="levier-units-") as tmp:
        read_path = path
        for attempt in ("as-is", "cp1252", "latin-1"):
            if attempt != "as-is" or dialect.encoding not in ("utf-8", "utf-8-sig"):
                encoding = dialect.encoding if attempt == "as-is" else attempt
                read_path = Path(tmp) / f"{attempt}.csv"
                try:
                    transcode(path, read_path, encoding or "cp1252")
                except UnicodeDecodeError:
                    continue
            name, bad = _materialise(raw, read_path, path, option, width=width, has_header=has_header, index=index,
                                     delimiter=delimiter)
            if bad is None:
                break
            if bad[2] != "INVALID ENCODING" or attempt != "as-is":  # UTF-8 in the sample, not further on: transcode
                raise _error(path, option, width, bad)
        else:  # pragma: no cover - latin-1 decodes every byte
            raise FileFormatError(_("{file}: cannot be read as CSV ({error}) ({option}).", file=path.name,
                                    error="encoding", option=option))
    if facts:
        return ws.facts.con.sql(f"SELECT unit_id FROM {name}")
    try:
        return ibis.memtable(raw.execute(f"SELECT unit_id FROM {name}").fetch_arrow_table())
    finally:
        raw.close()
