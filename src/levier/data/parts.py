"""Hash parts: run an engine query on one slice of the keys at a time and add the results.

DuckDB 1.4 (the embedded engine) keeps a whole partitioned input of a window function, and a
materialised temporary table, in memory: within the workspace's 2 GB ``memory_limit`` a
per-journey ``MAX … OVER`` over 82M touches, or the audit's per-lead facts of 10M leads, run out
of memory where a tenth of them fit. Every reduction Levier runs on those inputs is additive over
the keys (leads, journeys, visitors): counts and sums add, maxima take the max. So above
:data:`PART_ROWS` rows, the work runs on one hash part of the keys at a time —
``hash(key) % n == i`` — and the small per-part results are added (decision 0205).

How many parts depends on what the query holds at once. A window or a materialised table holds
its whole input: :data:`PART_ROWS` rows of the tables it reads. A query that only joins and groups
spills, and what it keeps is its result: a per-key fact table (the audit's per-lead facts of a
period) is sized on its own rows, :data:`FACT_ROWS` per part (measured at 100M touches: the
per-lead facts of one month, 2.5M leads joined with all 82M touches, in one part within the 2 GB
cap, 40 s instead of 188 s in 10 parts that each rescanned the touches; 5M leads of a four-month
period in one part ran out of memory; decision 0247). Use :func:`count_for` with the count of the
rows that matter.

Spark and warehouses spill window partitions to disk, so they always run in one part.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ibis.expr.types as ir
import pandas as pd

__all__ = ["PART_ROWS", "FACT_ROWS", "Part", "part_count", "count_for", "parts", "in_part", "add_frames", "stacked", "stack_temp", "drop_temp"]

#: rows (of the tables a query reads) per hash part on an embedded DuckDB engine
PART_ROWS = 10_000_000

#: rows of a materialised per-key fact table (the leads of a period) per hash part on DuckDB
FACT_ROWS = 2_500_000

#: ``(i, n)``: hash part ``i`` of ``n``
Part = tuple[int, int]


def part_count(ws: Any, tables: Iterable[str] = ("touches",), rows_per_part: int | None = None) -> int:
    """How many hash parts a query over ``tables`` runs on (1: all at once).

    One per :data:`PART_ROWS` rows of ``tables`` together on DuckDB; always 1 on other engines.
    """
    if ws.facts.backend_name != "duckdb":
        return 1
    return count_for(ws, sum(ws.facts.count(name) for name in tables), rows_per_part)


def count_for(ws: Any, rows: int | Any, rows_per_part: int | None = None) -> int:
    """How many hash parts a query reading ``rows`` rows runs on: one per :data:`PART_ROWS` on DuckDB,
    always 1 on other engines. ``ws``: a workspace, or the engine's name (``ibis.get_backend(t).name``)
    where a caller has only expressions. ``rows`` may be an Ibis scalar expression (a filtered count):
    it is only run on DuckDB."""
    if (ws if isinstance(ws, str) else ws.facts.backend_name) != "duckdb":
        return 1
    rows = int(rows if isinstance(rows, int) else rows.execute())
    return max(1, -(-rows // (rows_per_part or PART_ROWS)))


def parts(n: int) -> list[Part]:
    """The parts ``(0, n) … (n-1, n)``; ``[(0, 1)]`` when ``n <= 1``."""
    n = max(1, int(n))
    return [(i, n) for i in range(n)]


def in_part(table: ir.Table, key: str | ir.Value, part: Part | None) -> ir.Table:
    """The rows of ``table`` whose ``key`` hashes into ``part`` (all rows for ``None`` or one part)."""
    if part is None or part[1] <= 1:
        return table
    i, n = part
    col = table[key] if isinstance(key, str) else key
    return table.filter((col.hash() % n).abs() == i)


def add_frames(frames: Sequence[pd.DataFrame], keys: Sequence[str], *, maxes: Iterable[str] = (), mins: Iterable[str] = ()) -> pd.DataFrame:
    """Per-part aggregate frames added cell by cell.

    Rows with the same ``keys`` (nulls included) are merged: the columns in ``maxes`` take the
    maximum, those in ``mins`` the minimum, every other column the sum. One frame is returned as is.
    """
    frames = [f for f in frames if f is not None]
    if len(frames) == 1:
        return frames[0]
    if not frames:
        raise ValueError("add_frames needs at least one frame")
    whole = pd.concat(frames, ignore_index=True)
    keys = list(keys)
    hi, lo = set(maxes), set(mins)
    how = {c: ("max" if c in hi else "min" if c in lo else "sum") for c in whole.columns if c not in keys}
    if not keys:
        return pd.DataFrame([{c: getattr(whole[c], f)() for c, f in how.items()}], columns=whole.columns)
    if whole.empty:
        return whole
    g = whole.groupby(keys, dropna=False, sort=False)
    # one call per kind of reduction: a dict of hundreds of columns makes pandas insert them one by one
    pieces = [getattr(g[cols], f)() for f in ("sum", "max", "min") if (cols := [c for c, h in how.items() if h == f])]
    out = pd.concat(pieces, axis=1).reset_index()
    return out[list(whole.columns)]


@contextmanager
def stacked(ws: Any, exprs: Sequence[ir.Table]) -> Iterator[ir.Table]:
    """The rows of every part's ``exprs`` in one engine table, for a reduction the driver must not do.

    When the parts' results are too many rows to add in pandas (every distinct path, say) but
    their final reduction is small (the top 20), each part's query is appended to a temporary
    table of this connection (SQL: allowed on read-only facts) and the caller reduces it in the
    engine; the table is dropped on exit. One expression is yielded as is. Several parts only
    happen on DuckDB (:func:`part_count`).
    """
    if len(exprs) == 1:
        yield exprs[0]
        return
    con = ws.facts.con
    name = f"_lv_parts_{uuid.uuid4().hex[:12]}"
    try:
        yield stack_temp(con, name, exprs)
    finally:
        drop_temp(con, name)


def stack_temp(con: Any, name: str, exprs: Sequence[ir.Table]) -> ir.Table:
    """A DuckDB temporary table ``name`` holding the rows of every expression, one query each.

    SQL into this connection's own temporary table, so it works on read-only facts too (Ibis
    ``insert`` is refused there); the caller drops it with :func:`drop_temp`.
    """
    con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {con.compile(exprs[0])}')
    for expr in exprs[1:]:
        con.raw_sql(f'INSERT INTO "{name}" {con.compile(expr)}')
    return con.table(name)


def drop_temp(con: Any, name: str) -> None:
    """Drop the temporary table ``name`` made by :func:`stack_temp` (SQL, as it was made)."""
    con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
