"""Import CRM / marketing exports (CSV, XLSX, Parquet) into the canonical facts tables.

Usage::

    from levier.data.ingest import import_file
    result = import_file(ws, "export.csv", "touches", preset="bitrix24", timezone="Europe/Paris")
    result.rows_inserted, result.rows_replaced, result.to_dict()

Phases: read (DuckDB ``read_csv`` into a text staging table) → convert (SQL casts) → check
(blocking errors with file / row / column / value) → write (one transaction). A failed import
leaves the workspace unchanged; importing the same file with the same mapping twice is a
no-op reported as ``skipped_as_duplicate_file``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from levier.data.inbox_flush import take_batch, writing
from levier.data.ingest.convert import CONV, TZ, build_converted, check_converted, stage_select
from levier.data.ingest.dialect import Dialect
from levier.data.ingest.load import BatchInfo, file_hash, find_previous, write_duckdb, write_ibis
from levier.data.ingest.mapping import (
    Mapping,
    TableMapping,
    list_presets,
    load_mapping,
    load_preset,
)
from levier.data.ingest.plan import Plan, resolve
from levier.data.ingest.readers import STAGE, open_source, require_rows
from levier.data.schema import table as canonical
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["import_file", "ImportResult", "Dialect", "Mapping", "TableMapping", "PHASES", "list_presets", "load_preset", "load_mapping", "table_mapping"]

PHASES = ("read", "convert", "check", "write")
#: DuckDB memory limit while importing: staging tables spill to disk beyond it.
IMPORT_MEMORY_LIMIT = "1GB"
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ImportResult:
    """What one import did."""

    batch_id: int
    table: str
    file: str
    file_hash: str
    rows_read: int
    rows_inserted: int  # rows written by this batch (new keys + replaced keys)
    rows_replaced: int  # of which replaced a row with the same key
    skipped_as_duplicate_file: bool
    dialect: Dialect | None
    warnings: tuple[str, ...] = ()
    rows_filtered: int = 0  # rows left out by the mapping's `keep` filter
    preset: str | None = None
    mapping: str = "identity"
    timezone: str = "UTC"
    unused_columns: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id, "table": self.table, "file": self.file, "file_hash": self.file_hash,
            "rows_read": self.rows_read, "rows_inserted": self.rows_inserted, "rows_replaced": self.rows_replaced,
            "rows_filtered": self.rows_filtered, "skipped_as_duplicate_file": self.skipped_as_duplicate_file,
            "preset": self.preset, "mapping": self.mapping, "timezone": self.timezone,
            "dialect": self.dialect.to_dict() if self.dialect else None,
            "unused_columns": list(self.unused_columns), "warnings": list(self.warnings),
        }


def _merge(base: TableMapping, over: TableMapping) -> TableMapping:
    """A user mapping layered on a preset (the user's entries win)."""
    merged = {k: {**getattr(base, k), **getattr(over, k)} for k in ("columns", "values", "constants", "date_formats", "when", "keep", "stages", "ignored")}
    return replace(base, **merged, date_format=over.date_format or base.date_format, origin=f"{base.origin}+{over.origin}", strict=False)


def table_mapping(table: str, preset: str | None = None, mapping: str | Path | None = None) -> TableMapping:
    """The mapping an import of ``table`` uses: identity, a preset, a user file, or both layered."""
    canonical(table)
    base = load_preset(preset).for_table(table) if preset else None
    user = load_mapping(mapping, table) if mapping else None
    if base and user:
        return _merge(base, user)
    return base or user or TableMapping(table=table, origin="identity", strict=True)


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise OptionError(_("Unknown time zone '{name}'.", name=name), hint=_("Use an IANA name such as Europe/Paris or UTC.")) from None
    return name


def _signature(tm: TableMapping, opts: dict[str, Any], tz: str) -> str:
    text = repr((tm.signature(), sorted((k, str(v)) for k, v in opts.items() if v), tz))
    return f"{tm.origin}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _phase(progress: Progress | None, name: str) -> Callable[[float], None]:
    def report(fraction: float) -> None:
        if progress:
            progress(name, fraction)
    report(0.0)
    return report


@contextmanager
def _bounded(duck: duckdb.DuckDBPyConnection, tmp: str, native: bool) -> Iterator[None]:
    """Cap DuckDB's memory for the import (spilling to disk), then restore the setting."""
    before = duck.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]
    duck.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
    if not native:
        duck.execute(f"SET temp_directory = '{tmp}'")
    try:
        yield
    finally:
        if native:  # a private in-memory connection is closed by the caller instead
            duck.execute(f"SET memory_limit = '{before}'")


def _filtered(con: duckdb.DuckDBPyConnection, plan: Plan, rows_read: int) -> int:
    if not plan.keep:
        return 0
    return int(con.execute(f"SELECT count(*) FILTER (WHERE NOT _keep) FROM {STAGE}").fetchone()[0])  # type: ignore[index]


def import_file(
    ws: Any,
    path: str | Path,
    table: str,
    *,
    preset: str | None = None,
    mapping: str | Path | None = None,
    timezone: str | None = None,
    progress: Progress | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    date_format: str | tuple[str, ...] | None = None,
    sheet: str | None = None,
) -> ImportResult:
    """Import the file at ``path`` into the canonical ``table`` of workspace ``ws``.

    ``progress(phase, fraction)`` is called as phases (:data:`PHASES`) advance. Raises an
    :class:`~levier.errors.IngestError` subclass (workspace unchanged) on bad input.
    """
    path = Path(path)
    tm = table_mapping(table, preset, mapping)
    tz = _timezone(timezone or ws.config.timezone)
    formats = (date_format,) if isinstance(date_format, str) else tuple(date_format or ())
    opts = {"delimiter": delimiter, "encoding": encoding, "decimal": decimal, "date_format": "|".join(formats), "sheet": sheet}
    digest = file_hash(path) if path.is_file() else ""
    sig = _signature(tm, opts, tz)
    preset_name = preset.strip().lower() if preset else None
    if digest and (prev := find_previous(ws.facts, table, digest, sig)):
        return ImportResult(int(prev["batch_id"]), table, str(path), digest, int(prev["rows_read"]), 0, 0, True, None,
                            (_("This file was already imported into '{table}' (batch {batch}); nothing changed.", table=table, batch=prev["batch_id"]),),
                            preset=preset_name, mapping=sig, timezone=tz)
    native = ws.facts.backend_name == "duckdb"
    duck = ws.facts.con.con if native else duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="levier-import-") as tmp, _bounded(duck, tmp, native):
        try:
            source = open_source(duck, path, Path(tmp), opts, _phase(progress, "read"))
            plan = resolve(tm, source.dialect.header, source.dialect, file=path.name, stages=tuple(ws.config.stages), date_format=formats)
            rows_read = source.materialize(duck, stage_select(plan))
            require_rows(source, rows_read)
            _phase(progress, "convert")
            build_converted(duck, plan, source.row_sql, tz=tz, decimal=source.dialect.decimal)
            filtered = _filtered(duck, plan, rows_read)
            _phase(progress, "check")
            check_converted(duck, plan, file=path.name, row_sql=source.row_sql)
            duck.execute(f"DROP TABLE IF EXISTS {STAGE}")
            _phase(progress, "write")
            info = BatchInfo(table, str(path), digest, rows_read, preset_name, sig, tz)
            with writing(ws):  # server engines: under the flush's lease (decision 0211)
                batch = take_batch(ws)  # from the loop DB's sequence, like every other facts writer
                batch, inserted, replaced = write_duckdb(duck, plan, info, batch) if native else write_ibis(ws.facts, duck, plan, info, batch)
            _phase(progress, "write")(1.0)
        finally:
            for name in (STAGE, CONV, TZ):
                duck.execute(f"DROP TABLE IF EXISTS {name}")
            if not native:
                duck.close()
    warnings = source.dialect.notes + plan.warnings
    if filtered:
        warnings += (_("{n} row(s) left out by the mapping's row filter ({columns}).", n=filtered, columns=", ".join(plan.keep)),)
    return ImportResult(batch, table, str(path), digest, rows_read, inserted, replaced, False, source.dialect, warnings,
                        filtered, preset_name, sig, tz, plan.unused)
