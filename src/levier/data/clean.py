"""Clean the facts of a workspace (audit step 3): a reproducible view, never an edit.

:func:`clean_workspace` applies the rules of :data:`RULES` in order, each on the rows the
previous rules kept, and writes the row ids it excludes to ``_exclusions`` (replacing the
previous run's) and one journal entry per rule and category to ``_journal``. Raw rows are
never modified; ``ws.table(name)`` is the raw table minus ``_exclusions``. The same data
gives the same exclusions. Rules and outlier classes: ``docs/cleaning.md`` and
``docs/decisions/0030-outlier-classification.md``. On DuckDB above ``PART_ROWS`` touches the
exact-duplicate window runs one hash part of the duplicate key at a time (decision 0210); the
run numbers of the journal come from :func:`levier.data.inbox_flush.take_run`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data import _outliers
from levier.data._checks import SCORE_RANGE, examples_of, orphan_filter, shift_clusters
from levier.data._checks import _hour_histograms as hour_histograms
from levier.data.facts import EXCLUSIONS_SCHEMA
from levier.data.inbox_flush import take_run
from levier.data.journal import (
    JournalEntry,
    entry_lines,
    is_duckdb,
    make_entry,
    next_run_id,
    transaction,
    write_journal,
)
from levier.data.parts import drop_temp, in_part, part_count, parts, stack_temp
from levier.data.schema import TABLES
from levier.data.validate import EPOCH_FLOOR, NON_NEGATIVE, extraction_time
from levier.errors import OptionError
from levier.i18n import gettext as _

if TYPE_CHECKING:
    from levier.workspace import Workspace

__all__ = ["CleaningRun", "CleaningOptions", "JournalEntry", "RULES", "clean_workspace"]


@dataclass(frozen=True)
class CleaningOptions:
    """Parameters of the rules (recorded in each journal entry)."""

    near_duplicate_seconds: int = 60
    max_touches_per_rep_day: int = 200
    cadence_context_days: int = 7
    cadence_window_days: int = 30
    rep_day_z: float = 5.0
    lead_z: float = 3.5
    min_excess_touches: int = 3
    max_touches_per_lead: int = 100
    high_value_quantile: float = 0.9


@dataclass
class _Context:
    ws: Workspace
    options: CleaningOptions
    as_of: datetime
    current: dict[str, ir.Table]
    excluded: list[tuple[str, str, ir.Table]] = field(default_factory=list)  # (table, rule, row_id expr)
    entries: list[JournalEntry] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)

    def exclude(self, table: str, rule: str, category: str, rows: ir.Table | Sequence[ir.Table], example_cols: list[str],
                **params: Any) -> int:
        """Exclude ``rows`` (a filter of ``current[table]``, or one such filter per hash part) and journal it; returns the count."""
        listed = [rows] if isinstance(rows, ir.Table) else list(rows)
        ids = self._materialise([r.select(_x=r._row_id) for r in listed])  # later rules build on it
        n = int(ids.count().execute())
        if n:
            self.excluded.append((table, rule, ids))
            cur = self.current[table]
            examples = examples_of(cur.semi_join(ids, cur._row_id == ids._x), example_cols)
            kept = cur.anti_join(ids, cur._row_id == ids._x)
            self.current[table] = kept.cache() if is_duckdb(self.ws) else kept
            self.entries.append(make_entry(table, rule, "exclude", category, n, examples, **params))
        return n

    def _materialise(self, exprs: list[ir.Table]) -> ir.Table:
        """The rows of ``exprs`` (hash parts: one query each, appended) in one table.

        DuckDB: a temporary table. Other engines: a staging table, which cuts the query lineage
        (Spark plans would otherwise grow with every rule). Dropped after the run.
        """
        duck = is_duckdb(self.ws)
        if duck and len(exprs) == 1:
            return exprs[0].cache()
        con = self.ws.facts.con
        name = f"_clean_stage_{len(self.staged)}_{uuid.uuid4().hex[:8]}" if duck else f"_clean_stage_{len(self.staged)}"
        self.staged.append(name)
        if duck:
            return stack_temp(con, name, exprs)
        con.create_table(name, exprs[0], overwrite=True)
        for expr in exprs[1:]:
            con.insert(name, expr)
        return con.table(name)

    def drop_staged(self) -> None:
        for name in self.staged:
            if is_duckdb(self.ws):
                drop_temp(self.ws.facts.con, name)
            else:
                self.ws.facts.con.drop_table(name, force=True)

    def flag(self, table: str, rule: str, category: str, n: int, examples: list[dict[str, Any]], **params: Any) -> None:
        if n:
            self.entries.append(make_entry(table, rule, "flag", category, n, examples, **params))


# -- rules ------------------------------------------------------------------------------------
DUP_COLUMNS = ["lead_id", "at", "channel", "direction", "owner", "outcome", "campaign_id"]


def _later_copies(t: ir.Table) -> ir.Table:
    """Every row of ``t`` but the first (smallest ``_row_id``) of each group equal on :data:`DUP_COLUMNS`."""
    w = ibis.window(group_by=[t[c] for c in DUP_COLUMNS], order_by=t._row_id)
    ranked = t.mutate(_rn=ibis.row_number().over(w))
    return ranked.filter(ranked._rn > 0)


def exact_duplicates(ctx: _Context) -> None:
    """The window runs on one hash part of the duplicate key at a time above ``PART_ROWS`` touches
    (DuckDB's window operator is not out of core; copies share the key, hence the part)."""
    t = ctx.current["touches"]
    key = ibis.struct({c: t[c] for c in DUP_COLUMNS})
    copies = [_later_copies(in_part(t, key, p)) for p in parts(part_count(ctx.ws, ("touches",)))]
    ctx.exclude("touches", "exact_duplicates", "duplicate", copies, ["touch_id", "lead_id", "at", "channel"])


def near_duplicates(ctx: _Context) -> None:
    seconds = ctx.options.near_duplicate_seconds
    t = ctx.current["touches"].mutate(_dir=ibis.coalesce(ctx.current["touches"].direction, ""))
    a = t.select(_row_id="_row_id", lead_id="lead_id", channel="channel", _dir="_dir", _s=t.at.epoch_seconds())
    b = a.select(_b_row=a._row_id, _b_lead=a.lead_id, _b_channel=a.channel, _b_dir=a._dir, _b_s=a._s)
    pairs = a.join(b, [a.lead_id == b._b_lead, a.channel == b._b_channel, a._dir == b._b_dir,
                       b._b_row < a._row_id, (a._s - b._b_s).abs() < seconds])
    ids = pairs.select(_dup=pairs._row_id).distinct()
    cur = ctx.current["touches"]
    rows = cur.semi_join(ids, cur._row_id == ids._dup)
    ctx.exclude("touches", "near_duplicates", "duplicate", rows, ["touch_id", "lead_id", "at", "channel"], seconds=seconds)


def _time_rules(ctx: _Context, rule: str, cond: Callable[[ir.Column, str], ir.BooleanColumn], **params: Any) -> None:
    for name, spec in TABLES.items():
        col = spec.time_column
        if col is None:
            continue
        t = ctx.current[name]
        ctx.exclude(name, rule, "impossible", t.filter(cond(t[col], spec.column(col).dtype)), [*spec.key, col], column=col, **params)


def future_dates(ctx: _Context) -> None:
    def cond(c: ir.Column, dtype: str) -> ir.BooleanColumn:
        return c > ibis.literal(ctx.as_of.date() if dtype == "date" else ctx.as_of, type=dtype)

    _time_rules(ctx, "future_dates", cond, as_of=ctx.as_of.isoformat(sep=" "))


def dates_before_2000(ctx: _Context) -> None:
    def cond(c: ir.Column, dtype: str) -> ir.BooleanColumn:
        return c < ibis.literal(EPOCH_FLOOR.date() if dtype == "date" else EPOCH_FLOOR, type=dtype)

    _time_rules(ctx, "dates_before_2000", cond)


def negative_amounts(ctx: _Context) -> None:
    for name, col in sorted(NON_NEGATIVE):
        t = ctx.current[name]
        ctx.exclude(name, "negative_amounts", "impossible", t.filter(t[col] < 0), [*TABLES[name].key, col], column=col)


def score_out_of_range(ctx: _Context) -> None:
    low, high = SCORE_RANGE
    t = ctx.current["leads"]
    bad = t.filter((t.score < low) | (t.score > high))
    ctx.flag("leads", "score_out_of_range", "impossible", int(bad.count().execute()), examples_of(bad, ["lead_id", "score"]), low=low, high=high)


def orphans(ctx: _Context) -> None:
    leads = ctx.ws.facts.raw("leads")
    for name in ("touches", "stage_events", "deals", "web_events"):
        t = ctx.current[name]
        rows = orphan_filter(t, "lead_id", leads)
        cols = list(dict.fromkeys([*TABLES[name].key, "lead_id"]))
        if name == "web_events":
            ctx.flag(name, "orphans", "missing", int(rows.count().execute()), examples_of(rows, cols), column="lead_id")
        else:
            ctx.exclude(name, "orphans", "missing", rows, cols, column="lead_id")


def timezone_shift(ctx: _Context) -> None:
    clusters = shift_clusters(hour_histograms(ctx.current["touches"]), ctx.ws.config.timezone)
    n = sum(c["touches"] for c in clusters)
    ctx.flag("touches", "timezone_shift", "error", n, clusters[:10])


def missing_opportunity(ctx: _Context) -> None:
    n, examples = _outliers.missing_opportunity(ctx.current["stage_events"], ctx.current["deals"], ctx.ws.config.stages)
    ctx.flag("leads", "missing_opportunity", "missing", n, examples)


def stage_skipped(ctx: _Context) -> None:
    n, examples, stages = _outliers.stage_skipped(ctx.current["stage_events"], ctx.ws.config.stages)
    ctx.flag("leads", "stage_skipped", "missing", n, examples, stages=stages)


def rep_day_outliers(ctx: _Context) -> None:
    found = _outliers.rep_days(ctx.current["touches"], ctx.current["leads"], ctx.options)
    if found is None:
        return
    params = {"median": found.median, "z": ctx.options.rep_day_z, "max_per_day": ctx.options.max_touches_per_rep_day}
    if found.errors:
        ctx.exclude("touches", "rep_day_outliers", "error", found.error_rows, ["touch_id", "owner", "at"],
                    **params, rep_days=found.errors)
        ctx.entries[-1] = replace(ctx.entries[-1], examples=tuple(found.errors[:10]))
    ctx.flag("touches", "rep_day_outliers", "exceptional", len(found.exceptional), found.exceptional[:10], **params)


def lead_outliers(ctx: _Context) -> None:
    c = ctx.current
    result = _outliers.lead_outliers(c["touches"], c["leads"], c["stage_events"], c["deals"], ctx.options)
    if result is None:
        return
    for category in ("error", "risk", "exceptional", "opportunity"):
        n, examples = result.classes.get(category, (0, []))
        ctx.flag("leads", "lead_outliers", category, n, examples, **result.params)


#: The rules, in the order they run (each sees the rows the previous ones kept).
RULES: dict[str, Callable[[_Context], None]] = {
    "exact_duplicates": exact_duplicates,
    "near_duplicates": near_duplicates,
    "future_dates": future_dates,
    "dates_before_2000": dates_before_2000,
    "negative_amounts": negative_amounts,
    "orphans": orphans,
    "score_out_of_range": score_out_of_range,
    "timezone_shift": timezone_shift,
    "missing_opportunity": missing_opportunity,
    "stage_skipped": stage_skipped,
    "rep_day_outliers": rep_day_outliers,
    "lead_outliers": lead_outliers,
}


# -- the run --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CleaningRun:
    """The outcome of :func:`clean_workspace`: one journal entry per rule and category."""

    run_id: int
    ran_at: datetime
    as_of: datetime
    dry_run: bool
    entries: tuple[JournalEntry, ...]
    excluded: dict[str, int]
    options: dict[str, Any]
    skipped: tuple[str, ...] = ()

    def entry(self, rule: str, category: str | None = None, table: str | None = None) -> JournalEntry | None:
        for e in self.entries:
            if e.rule == rule and (category is None or e.category == category) and (table is None or e.table_name == table):
                return e
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ran_at": self.ran_at.isoformat(),
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "excluded": dict(self.excluded),
            "options": dict(self.options),
            "skipped": list(self.skipped),
            "entries": [e.to_dict() for e in self.entries],
        }

    def to_frame(self) -> pd.DataFrame:
        cols = ["table_name", "rule", "action", "category", "rows_affected", "reason"]
        return pd.DataFrame([{c: getattr(e, c) for c in cols} for e in self.entries], columns=cols)

    def summary(self, lang: str | None = None) -> str:
        head = _("Cleaning run {run_id} (dry run: nothing written)", lang=lang, run_id=self.run_id) if self.dry_run \
            else _("Cleaning run {run_id}", lang=lang, run_id=self.run_id)
        lines = [head + " — " + _("extraction time {as_of}", lang=lang, as_of=self.as_of.isoformat(sep=" "))]
        lines += entry_lines(self.entries, lang) or [_("Nothing to exclude or flag.", lang=lang)]
        total = sum(self.excluded.values())
        detail = ", ".join(f"{t} {n}" for t, n in self.excluded.items() if n)
        lines.append(_("Rows excluded: {n} ({detail}). Raw data unchanged; `levier clean --undo RULE` restores a rule.",
                       lang=lang, n=total, detail=detail or "-"))
        return "\n".join(lines)


def _options(ws: Workspace, near_duplicate_seconds: int | None) -> CleaningOptions:
    seconds = ws.config.near_duplicate_seconds if near_duplicate_seconds is None else near_duplicate_seconds
    if seconds < 0:
        raise OptionError(_("near_duplicate_seconds must be 0 or more (got {value}).", value=seconds))
    return CleaningOptions(near_duplicate_seconds=int(seconds))


def clean_workspace(
    ws: Workspace,
    *,
    near_duplicate_seconds: int | None = None,
    dry_run: bool = False,
    skip: tuple[str, ...] | list[str] = (),
    as_of: datetime | None = None,
    options: CleaningOptions | None = None,
) -> CleaningRun:
    """Apply every cleaning rule; replace ``_exclusions`` and append to ``_journal``.

    ``near_duplicate_seconds`` defaults to the workspace setting; ``skip`` names rules not to
    apply; ``as_of`` is the extraction time (default: derived from the data); ``dry_run``
    computes everything and writes nothing.
    """
    unknown = [r for r in skip if r not in RULES]
    if unknown:
        raise OptionError(_("Unknown cleaning rule '{rule}'.", rule=unknown[0]), hint=_("Rules: {rules}.", rules=", ".join(RULES)))
    opts = options or _options(ws, near_duplicate_seconds)
    when, _source = extraction_time(ws, as_of)
    ctx = _Context(ws, opts, when, {name: ws.facts.raw(name) for name in TABLES})
    try:
        return _run(ws, ctx, opts, when, dry_run, tuple(skip))
    finally:
        ctx.drop_staged()


def _run(ws: Workspace, ctx: _Context, opts: CleaningOptions, when: datetime, dry_run: bool,
         skip: tuple[str, ...]) -> CleaningRun:
    seen = ws.facts.imports().batch_id.max().execute()  # the last import batch this run covers (see cleaning_lag)
    last_batch = None if seen is None or pd.isna(seen) else int(seen)
    for name, rule in RULES.items():
        if name not in skip:
            rule(ctx)
    run_id = next_run_id(ws) if dry_run else take_run(ws)  # a dry run only shows the number the next run would get
    ran_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    entries = tuple(replace(e, run_id=run_id, ran_at=ran_at, params={**e.params, "last_batch": last_batch}) for e in ctx.entries)
    if not entries:
        entries = (replace(make_entry("*", "*", "none", "none", 0, last_batch=last_batch), run_id=run_id, ran_at=ran_at),)
    excluded = {name: 0 for name in TABLES}
    for e in entries:
        if e.action == "exclude":
            excluded[e.table_name] += e.rows_affected
    if not dry_run:
        _write(ws, ctx, run_id, entries)
    return CleaningRun(run_id, ran_at, when, dry_run, entries, excluded, opts.__dict__.copy(), skip)


def _write(ws: Workspace, ctx: _Context, run_id: int, entries: tuple[JournalEntry, ...]) -> None:
    parts = [ids.select(table_name=ibis.literal(t), row_id=ids._x.cast("int64"), rule=ibis.literal(r),
                        run_id=ibis.literal(run_id, type="int64")) for t, r, ids in ctx.excluded]
    empty = ibis.memtable(pd.DataFrame({c: pd.Series(dtype=str(d.to_pandas())) for c, d in EXCLUSIONS_SCHEMA.items()}),
                          schema=EXCLUSIONS_SCHEMA)
    union = ibis.union(*parts, distinct=False) if len(parts) > 1 else (parts[0] if parts else empty)
    with transaction(ws):
        if is_duckdb(ws):
            ws.facts.con.con.execute("DELETE FROM _exclusions")
            if parts:
                ws.facts.con.insert("_exclusions", union)
        else:
            ws.facts.con.insert("_exclusions", union, overwrite=True)
        write_journal(ws, list(entries))
