"""The facts store: canonical tables behind any Ibis backend.

Physical layout (identical on every backend):

- one raw table per canonical table, named like it (``leads``, ``touches`` …), with the
  canonical columns plus ``_row_id`` (int64, unique per table) and ``_batch`` (the import
  batch that wrote the row). Raw rows are only ever written by imports.
- ``_imports``: one row per import batch (provenance: file, hash, time, rows).
- ``_exclusions`` / ``_journal``: written by cleaning (see :mod:`levier.data.clean`); the
  *cleaned view* of a table is the raw table minus its excluded ``_row_id``s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from levier.data.facts_threads import per_thread
from levier.data.schema import TABLES
from levier.data.schema import table as canonical
from levier.errors import EngineError
from levier.i18n import gettext as _

__all__ = ["Facts", "connect_facts", "IMPORTS_SCHEMA", "EXCLUSIONS_SCHEMA", "JOURNAL_SCHEMA"]

META_COLUMNS = {"_row_id": "int64", "_batch": "int64"}

IMPORTS_SCHEMA = ibis.schema(
    {
        "batch_id": "int64",
        "table_name": "string",
        "file_name": "string",
        "file_hash": "string",
        "imported_at": "timestamp",
        "rows_read": "int64",
        "rows_inserted": "int64",
        "rows_replaced": "int64",
        "preset": "string",
        "mapping": "string",
        "timezone": "string",
    }
)
EXCLUSIONS_SCHEMA = ibis.schema({"table_name": "string", "row_id": "int64", "rule": "string", "run_id": "int64"})
JOURNAL_SCHEMA = ibis.schema(
    {
        "run_id": "int64",
        "ran_at": "timestamp",
        "table_name": "string",
        "rule": "string",
        "action": "string",  # exclude | flag
        "category": "string",  # error | exceptional | opportunity | risk | duplicate | impossible | missing
        "rows_affected": "int64",
        "reason": "string",
        "examples": "string",  # JSON list of small example records
        "params": "string",  # JSON of the rule parameters
    }
)


def _spark_session(master: str) -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master or "local[2]")
        .appName("levier")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


def connect_facts(url: str, base: Path | None = None, *, memory_limit: str | None = None,
                  read_only: bool = False) -> ibis.BaseBackend:
    """Connect to the facts engine at ``url``; relative DuckDB paths resolve against ``base``.

    ``memory_limit`` caps an embedded DuckDB engine (it spills to disk beyond it).
    ``read_only`` opens a DuckDB file read-only (several processes may then share it).
    """
    con = _connect(url, base, read_only=read_only)
    if memory_limit and con.name == "duckdb":
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    return con


def _connect(url: str, base: Path | None, *, read_only: bool = False) -> ibis.BaseBackend:
    try:
        if url.startswith("duckdb://"):
            # Same convention as SQLAlchemy: duckdb:///relative/path, duckdb:////absolute/path.
            rest = url[len("duckdb://"):]
            rest = rest[1:] if rest.startswith("/") else rest
            if rest in ("", ":memory:"):
                return ibis.duckdb.connect()
            path = Path(rest)
            if not path.is_absolute():
                path = (base or Path.cwd()) / path
            if not read_only:
                return ibis.duckdb.connect(str(path))
            con = ibis.duckdb.connect(str(path), read_only=True)
            con.raw_sql(f"SET temp_directory = '{_private_spill_dir(path)}'")
            return con
        if url.startswith("pyspark://"):
            return ibis.pyspark.connect(_spark_session(url[len("pyspark://"):]))
        return ibis.connect(url)
    except ImportError as exc:
        raise EngineError(
            _("The facts engine for '{url}' is not installed ({module}).", url=url, module=exc.name),
            hint=_("Install the matching extra, e.g. pip install 'levier[spark]'."),
        ) from None
    except Exception as exc:  # backend drivers raise their own types
        raise EngineError(_("Cannot connect to the facts engine '{url}': {problem}", url=url, problem=exc)) from None


def _private_spill_dir(db: Path) -> str:
    """A spill directory of this process's own, next to the DuckDB file.

    Every process that opens a file read-only would otherwise spill into the same ``<file>.tmp``
    with the same file names (``duckdb_temp_storage_…``): two web workers or two analyses
    spilling at once read each other's blocks (I/O errors, crashes). Removed at exit.
    """
    import atexit
    import os
    import shutil

    spill = db.with_name(f"{db.name}.tmp") / f"ro-{os.getpid()}-{os.urandom(3).hex()}"
    spill.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    return spill.as_posix().replace("'", "''")


class Facts:
    """Canonical tables on an Ibis backend.

    On DuckDB the backend's connection is shared safely by threads: each thread runs on its own
    cursor (:func:`levier.data.facts_threads.per_thread`, decision 0243), so a query in one thread
    never closes another thread's open stream or result.
    """

    def __init__(self, con: ibis.BaseBackend, url: str) -> None:
        if con.name == "duckdb":
            per_thread(con)
        self.con = con
        self.url = url

    @property
    def backend_name(self) -> str:
        return self.con.name

    # -- schema -------------------------------------------------------------------------
    def raw_schema(self, name: str) -> ibis.Schema:
        t = canonical(name)
        return ibis.schema({**{c.name: c.dtype for c in t.columns}, **META_COLUMNS})

    def ensure_schema(self) -> None:
        """Create every canonical and bookkeeping table that does not exist yet."""
        existing = set(self.con.list_tables())
        for name in TABLES:
            if name not in existing:
                self.con.create_table(name, schema=self.raw_schema(name))
        for name, schema in (("_imports", IMPORTS_SCHEMA), ("_exclusions", EXCLUSIONS_SCHEMA), ("_journal", JOURNAL_SCHEMA)):
            if name not in existing:
                self.con.create_table(name, schema=schema)

    # -- access -------------------------------------------------------------------------
    def raw(self, name: str) -> ir.Table:
        """The raw table ``name`` with its ``_row_id`` and ``_batch`` columns."""
        canonical(name)
        return self.con.table(name)

    def cleaned(self, name: str) -> ir.Table:
        """``name`` without the rows cleaning excluded, canonical columns only."""
        raw = self.raw(name)
        excl = self.con.table("_exclusions")
        excl = excl.filter(excl.table_name == name).select(row_id=excl.row_id).distinct()
        kept = raw.anti_join(excl, raw._row_id == excl.row_id)
        return kept.select(*canonical(name).column_names, "_row_id")

    def table(self, name: str, cleaned: bool = True) -> ir.Table:
        """The table analyses read: the cleaned view by default."""
        if cleaned:
            return self.cleaned(name)
        return self.raw(name).select(*canonical(name).column_names, "_row_id")

    def count(self, name: str) -> int:
        return int(self.raw(name).count().execute())

    def imports(self) -> ir.Table:
        return self.con.table("_imports")

    def journal(self) -> ir.Table:
        return self.con.table("_journal")
