"""Batch assignment in the facts engine: nothing per unit comes to Python.

The same deterministic hashing as :func:`~levier.analysis.experiments.assignment.assign_variant`,
written as an Ibis expression (decision 0200):

- ``h`` = the first 13 hex digits (52 bits) of ``sha256("<key>/<unit_id>")`` read as an integer
  (Ibis ``hexdigest("sha256")``: DuckDB ``sha256``, Spark ``sha2(x, 256)``; the digits are
  converted with ``ascii`` arithmetic, which every engine has);
- the variant is the first ``i`` with ``h < T[i]``, ``T`` the integer thresholds of the weights
  (:func:`~levier.analysis.experiments.assignment.cumulative_thresholds`): integer comparisons,
  so the engine picks exactly the variant Python picks.

:func:`plan_in_engine` joins the eligible units (or a list), the existing assignments (the first
one of each unit wins: those units are *kept*) and the exclusions (rules on the leads, plus an
optional list), and returns an :class:`EngineAssignment`: the counts per arm, per exclusion reason
and the balance p-value as an :class:`~levier.analysis.experiments.assignment.AssignmentPlan`
(the same plan type as the Python reference on a list), the write of the new units as one
import batch (``INSERT … SELECT``), and a CSV export streamed in Arrow batches.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from levier.analysis.experiments.assignment import (
    EXCLUSION_RULES,
    HASH_BITS,
    AssignmentPlan,
    check_variants,
    cumulative_thresholds,
)
from levier.analysis.experiments.storage import eligible_table, exclusion_table
from levier.analysis.experiments.units import first_assignments

__all__ = ["bucket_int", "bucket_expr", "variant_expr", "plan_in_engine", "EngineAssignment", "units_table",
           "STREAM_ROWS"]

_HEX_DIGITS = HASH_BITS // 4
#: rows per Arrow batch when the plan is streamed out of the engine (CSV export, inbox queue)
STREAM_ROWS = 65_536
_COLUMNS = ("experiment_key", "unit_id", "variant")


def bucket_int(experiment_key: str, unit_id: ir.StringValue) -> ir.IntegerValue:
    """The 52-bit integer ``h`` of ``bucket(key, unit)`` (= h / 2⁵²), computed by the engine."""
    digest = (ibis.literal(f"{experiment_key}/") + unit_id.cast("string")).hexdigest("sha256").lower()
    terms = []
    for i in range(_HEX_DIGITS):
        code = digest.substr(i, 1).ascii_str().cast("int64")   # '0'..'9' → 48..57, 'a'..'f' → 97..102
        terms.append((code - 48 - (code > 57).cast("int64") * 39) * (16 ** (_HEX_DIGITS - 1 - i)))
    return _balanced_sum(terms)


def _balanced_sum(terms: list[Any]) -> Any:
    """a + b + … as a balanced tree (shallow SQL: SQL parsers recurse on nesting depth)."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return _balanced_sum(terms[:mid]) + _balanced_sum(terms[mid:])


def bucket_expr(experiment_key: str, unit_id: ir.StringValue) -> ir.FloatingValue:
    """``bucket(key, unit)`` in the engine: h / 2⁵², exact in float64 (h < 2⁵³)."""
    return bucket_int(experiment_key, unit_id).cast("float64") / float(1 << HASH_BITS)


def variant_expr(h: ir.IntegerValue, variants: Sequence[str], weights: Sequence[float] | None = None) -> ir.StringValue:
    """The variant of the unit whose hash integer is ``h`` (same as ``assign_variant``)."""
    weights = check_variants(variants, weights)
    limits = cumulative_thresholds(weights)
    branches = [(h < ibis.literal(t, "int64"), ibis.literal(v, "string"))
                for v, t in zip(variants[:-1], limits[:-1], strict=True)]
    return ibis.cases(*branches, else_=ibis.literal(variants[-1], "string"))


def units_table(ids: Sequence[str] | pa.Array) -> ir.Table:
    """An in-memory table ``unit_id`` of a list held in Python (a file: :func:`.unit_files.read_unit_file`)."""
    array = ids if isinstance(ids, pa.Array) else pa.array([str(x) for x in ids], pa.string())
    return ibis.memtable(pa.table({"unit_id": array}))


def _plan_expr(ws: Any, key: str, units: ir.Table, variants: Sequence[str], weights: Sequence[float],
               excluded: ir.Table | None, *, distinct: bool = False) -> ir.Table:
    """``unit_id, status, variant, reason`` for every distinct unit (status: kept, excluded, new)."""
    u = units.select(unit_id=units.unit_id.cast("string"))
    u = u if distinct else u.distinct()
    # h is a column below the joins: the engine hashes each unit once (inside CASE branches an
    # engine does not share common subexpressions, and the hash is 13 digit extractions)
    u = u.mutate(h=bucket_int(key, u.unit_id))
    prev = first_assignments(ws.table("assignments"), key)
    prev = prev.select(prev_unit=prev.unit_id, prev_variant=prev.variant)
    j = u.left_join(prev, u.unit_id == prev.prev_unit).select("unit_id", "h", "prev_variant")
    if excluded is not None:
        ex = excluded.select(ex_unit=excluded.unit_id, reason=excluded.reason)
        j = j.left_join(ex, j.unit_id == ex.ex_unit).select("unit_id", "h", "prev_variant", "reason")
    else:
        j = j.mutate(reason=ibis.null("string"))
    status = ibis.cases((j.prev_variant.notnull(), "kept"), (j.reason.notnull(), "excluded"), else_="new")
    fresh = variant_expr(j.h, variants, weights)
    variant = ibis.cases((j.prev_variant.notnull(), j.prev_variant), (j.reason.notnull(), ibis.null("string")),
                         else_=fresh)
    return j.select(unit_id=j.unit_id, status=status, variant=variant,
                    reason=ibis.ifelse(j.prev_variant.isnull(), j.reason, ibis.null("string")))


def _exclusions(ws: Any, unit: str, rules: Sequence[str] | None, listed: ir.Table | None) -> ir.Table | None:
    """Rule exclusions (lead / account units) and a listed set (reason ``list``, which wins), as one table."""
    rules = EXCLUSION_RULES if rules is None else rules
    by_rule = exclusion_table(ws, unit, rules) if rules else None
    if listed is None:
        return by_rule
    lst = listed.select(unit_id=listed.unit_id.cast("string")).distinct().mutate(reason=ibis.literal("list", "string"))
    if by_rule is None:
        return lst
    rest = by_rule.anti_join(lst, by_rule.unit_id == lst.unit_id)
    return lst.union(rest.select("unit_id", "reason"))


def plan_in_engine(ws: Any, key: str, variants: Sequence[str], weights: Sequence[float] | None = None, *,
                   unit: str = "lead", units: ir.Table | None = None, since: datetime | None = None,
                   until: datetime | None = None, rules: Sequence[str] | None = None,
                   excluded: ir.Table | None = None) -> EngineAssignment:
    """The assignment of experiment ``key``, as engine expressions (nothing executed yet).

    ``units``: a table ``unit_id`` (default: the leads created in [since, until), or their
    accounts for ``unit="account"``); ``rules``: exclusion rules (default: all; ``[]`` none;
    ignored for visitors); ``excluded``: a table ``unit_id`` never to assign (reason ``list``).
    """
    w = check_variants(variants, weights)
    distinct = units is None  # the eligible table is already one row per unit
    if units is None:
        units = eligible_table(ws, unit, since=since, until=until)
    expr = _plan_expr(ws, key, units, variants, w, _exclusions(ws, unit, rules if unit != "visitor" else [], excluded),
                      distinct=distinct)
    return EngineAssignment(ws, key, tuple(variants), tuple(w), expr)


@dataclass(frozen=True)
class EngineAssignment:
    """An assignment planned in the engine: :meth:`plan` (counts), :meth:`store`, :meth:`export`."""

    ws: Any
    key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    expr: ir.Table

    def plan(self) -> AssignmentPlan:
        """Counts per status × variant / reason (one small group-by comes back)."""
        e = self.expr
        grouped = e.group_by(status=e.status, variant=e.variant, reason=e.reason).aggregate(n=e.count()).execute()
        counts: dict[str, Counter[str]] = {"new": Counter(), "kept": Counter(), "excluded": Counter()}
        for status, variant, reason, n in grouped.itertuples(index=False):
            counts[str(status)][str(reason if status == "excluded" else variant)] += int(n)
        return AssignmentPlan.of(self.key, self.variants, self.weights, **counts)

    def new_rows(self, assigned_at: datetime) -> ir.Table:
        """The rows to append to ``assignments``: the new units, their variant, ``assigned_at``."""
        e = self.expr.filter(self.expr.status == "new")
        at = pd.Timestamp(assigned_at)
        at = at.tz_convert(UTC).tz_localize(None) if at.tzinfo else at
        return e.select(experiment_key=ibis.literal(self.key, "string"), unit_id=e.unit_id, variant=e.variant,
                        assigned_at=ibis.literal(at.to_pydatetime(), "timestamp"))

    def store(self, assigned_at: datetime) -> int:
        """Append the new units to ``assignments`` as one import batch; returns how many.

        Call :meth:`plan` first when you need the counts: after the write the same units are *kept*.
        """
        from levier.analysis.experiments.engine_write import insert_batch

        return insert_batch(self.ws, "assignments", self.new_rows(assigned_at),
                            source=f"levier experiment assign {self.key}", preset="levier-experiment")

    def assigned(self) -> ir.Table:
        """``experiment_key, unit_id, variant`` of every assigned unit (kept and new), by unit id."""
        e = self.expr.filter(self.expr.status != "excluded")
        return e.select(experiment_key=ibis.literal(self.key, "string"), unit_id=e.unit_id,
                        variant=e.variant).order_by("unit_id")

    def export(self, path: str | Path) -> int:
        """Write :meth:`assigned` to a CSV (UTF-8, comma; as ``write_csv``) batch by batch; returns rows."""
        n = 0
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(_COLUMNS)
            for batch in stream(self.ws, self.assigned()):
                cols = [batch.column(c).to_pylist() for c in _COLUMNS]
                out.writerows(zip(*cols, strict=True))
                n += batch.num_rows
        return n


def stream(ws: Any, expr: ir.Table, rows: int = STREAM_ROWS) -> Any:
    """Arrow record batches of ``expr`` from the facts engine (never the whole result at once)."""
    return ws.facts.con.to_pyarrow_batches(expr, chunk_size=rows)
