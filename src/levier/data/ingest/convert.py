"""Type conversion in SQL (the "convert" and "check" phases).

Everything runs inside DuckDB over the text staging table: ``TRY_CAST`` / ``try_strptime``
for values, ``timezone()`` for naive → UTC (DST-correct, ICU), ``CASE`` for booleans and value
maps. The converted table keeps, for each typed column, whether the source had a value
(``_has_<col>``); checks count ``_has AND value IS NULL`` and, only when something failed,
join the few offending rows back to the staging text to quote them with their row number.

Rules (documented in docs/presets.md):
- a naive timestamp is wall-clock time in the import time zone; an ambiguous one (the hour
  repeated when clocks go back) is read as the second occurrence (standard time), a
  non-existent one (the hour skipped in spring) is shifted forward by the gap;
- a timestamp with ``Z`` or an offset is converted from that offset;
- numbers ``12345`` or ``12.5`` up to 5 digits in a date column are Excel serial dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from levier.data.ingest.plan import ColumnPlan, Plan
from levier.data.ingest.readers import STAGE, qi, ql
from levier.errors import DuplicateKeyError, UnknownValueError, ValueParseError
from levier.i18n import gettext as _

__all__ = ["CONV", "TZ", "stage_select", "build_converted", "check_converted", "DEFAULT_DATE_FORMATS", "TRUE_WORDS", "FALSE_WORDS"]

CONV = "_lv_conv"
TZ = "_lv_tz"
TRUE_WORDS = ("true", "t", "1", "yes", "y", "oui", "o", "vrai", "v", "1.0")
FALSE_WORDS = ("false", "f", "0", "no", "n", "non", "faux", "0.0")
NULL_WORDS = ("null", "none", "nan", "n/a", "na", "#n/a", "-")
DEFAULT_DATE_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
)
_AWARE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"
MAX_EXAMPLES = 10


def _in(words: tuple[str, ...]) -> str:
    return "(" + ", ".join(ql(w) for w in words) + ")"


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(ql(i) for i in items) + "]"


def _trimmed(col: str) -> str:
    """Text without surrounding spaces, NULL when empty (trim only when needed: it is costly)."""
    c = qi(col)
    return f"(CASE WHEN {c} = '' THEN NULL WHEN prefix({c}, ' ') OR suffix({c}, ' ') THEN NULLIF(trim({c}), '') ELSE {c} END)"


def _text(sources: tuple[str, ...]) -> str:
    parts = [_trimmed(s) for s in sources]
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def _bool(expr: str) -> str:
    low = f"lower({expr})"
    return f"(CASE WHEN {low} IN {_in(TRUE_WORDS)} THEN true WHEN {low} IN {_in(FALSE_WORDS)} THEN false END)"


def raw_sql(c: ColumnPlan) -> str:
    """The text value of ``c`` for one staging row (after value maps), NULL when empty."""
    if c.constant is not None:
        expr = ql(c.constant) if c.constant != "" else "NULL"
    elif c.sources:
        expr = _text(c.sources)
    else:
        return "CAST(NULL AS VARCHAR)"
    if c.dtype != "string":
        expr = f"(CASE WHEN lower({expr}) IN {_in(NULL_WORDS)} THEN NULL ELSE {expr} END)"
    if c.values:
        cases = " ".join(f"WHEN {ql(k)} THEN {ql(v) if v != '' else 'NULL'}" for k, v in c.values.items())
        expr = f"(CASE lower({expr}) {cases} ELSE {expr} END)"
    if c.when:
        expr = f"(CASE WHEN {_bool(_text((c.when,)))} THEN {expr} END)"
    return expr


def _serial(r: str) -> str:
    return (f"(CASE WHEN regexp_full_match({r}, '\\d{{4,5}}(\\.\\d+)?') THEN TIMESTAMP '1899-12-30' + "
            f"to_milliseconds(CAST(round(CAST({r} AS DOUBLE) * 86400000) AS BIGINT)) END)")


def _aware_test(r: str) -> str:
    cheap = f"(contains(substr({r}, 11), '+') OR contains(substr({r}, 11), '-') OR suffix(lower({r}), 'z'))"
    return f"({cheap} AND regexp_matches({r}, {ql(_AWARE)}))"


def local_sql(r: str, formats: tuple[str, ...]) -> str:
    """Naive wall-clock TIMESTAMP of ``r`` (NULL when ``r`` carries an offset or is unreadable)."""
    naive = tuple(f for f in formats if "%z" not in f and "%Z" not in f)
    parts = [f"TRY_CAST({r} AS TIMESTAMP)"]
    if formats:
        if naive:
            parts.append(f"try_strptime({r}, {_list(naive)})")
    else:
        parts += [f"try_strptime({r}, {_list(DEFAULT_DATE_FORMATS)})", _serial(r)]
    return f"(CASE WHEN {r} IS NULL OR {_aware_test(r)} THEN NULL ELSE COALESCE({', '.join(parts)}) END)"


def utc_sql(r: str, formats: tuple[str, ...]) -> str:
    """UTC TIMESTAMP of ``r`` when it carries ``Z`` or an offset, else NULL."""
    aware = tuple(f for f in formats if "%z" in f or "%Z" in f)
    expr = f"timezone('UTC', TRY_CAST({r} AS TIMESTAMPTZ))"
    if aware:
        expr = f"COALESCE(timezone('UTC', try_strptime({r}, {_list(aware)})), {expr})"
    return f"(CASE WHEN {r} IS NOT NULL AND {_aware_test(r)} THEN {expr} END)"


def _date(r: str, formats: tuple[str, ...]) -> str:
    parts = [f"TRY_CAST({r} AS DATE)"]
    fmts = formats or DEFAULT_DATE_FORMATS
    parts.append(f"CAST(try_strptime({r}, {_list(tuple(f for f in fmts if '%z' not in f))}) AS DATE)")
    if not formats:
        parts.append(f"CAST({_serial(r)} AS DATE)")
    return f"COALESCE({', '.join(parts)})"


def _number(r: str, decimal: str) -> str:
    stripped = f"regexp_replace({r}, '[\\s\u00a0\u202f€$£%]', '', 'g')"
    if decimal == ",":
        fast = f"TRY_CAST(replace({r}, ',', '.') AS DOUBLE)"
        slow = f"TRY_CAST(replace(replace({stripped}, '.', ''), ',', '.') AS DOUBLE)"
    else:
        fast = f"TRY_CAST({r} AS DOUBLE)"
        slow = f"TRY_CAST(CASE WHEN regexp_full_match({stripped}, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?') THEN replace({stripped}, ',', '') ELSE {stripped} END AS DOUBLE)"
    return f"COALESCE({fast}, {slow})"


def typed_sql(c: ColumnPlan, r: str, *, decimal: str) -> str:
    """SQL turning the text ``r`` into the canonical type of ``c`` (timestamps: see build_converted)."""
    if c.dtype == "date":
        return _date(r, c.formats)
    if c.dtype == "float64":
        return _number(r, decimal)
    if c.dtype == "boolean":
        return _bool(r)
    if c.allowed:
        return f"lower({r})"
    return r


def _checked(c: ColumnPlan) -> bool:
    """Typed columns: a NULL result may hide an unreadable source value."""
    return c.dtype != "string"


def stage_select(plan: Plan) -> str:
    """The select list that reads each canonical column's text straight from the file."""
    cols = [f"{raw_sql(c)} AS {qi('r_' + c.name)}" for c in plan.columns if not (plan.stages and c.name in ("stage", "at"))]
    cols += [f"{_text(sources)} AS {qi(f'r__stage{i}')}" for i, (_s, sources) in enumerate(plan.stages)]
    keep = " AND ".join(f"coalesce(lower({_trimmed(col)}) IN {_in(vals)}, false)" for col, vals in plan.keep.items())
    if keep:
        cols.append(f"({keep}) AS _keep")
    return ", ".join(cols)


def _inner_select(plan: Plan, row_sql: str) -> str:
    keep = "_keep" if plan.keep else "true"
    if not plan.stages:
        cols = ", ".join(qi("r_" + c.name) for c in plan.columns)
        return f"SELECT {row_sql} AS _src_row, 0 AS _sub, {cols} FROM {STAGE} WHERE {keep}"
    parts = []
    for i, (stage, _sources) in enumerate(plan.stages):
        cols = []
        for c in plan.columns:
            expr = ql(stage) if c.name == "stage" else qi(f"r__stage{i}") if c.name == "at" else qi("r_" + c.name)
            cols.append(f"{expr} AS {qi('r_' + c.name)}")
        parts.append(f"SELECT {row_sql} AS _src_row, {i} AS _sub, {', '.join(cols)} FROM {STAGE} WHERE {keep} AND {qi(f'r__stage{i}')} IS NOT NULL")
    return " UNION ALL ".join(parts)


_UTC_NAMES = ("UTC", "Etc/UTC", "Etc/UCT", "GMT", "Etc/GMT", "UCT", "Zulu", "Etc/Zulu")
_BUCKET = "INTERVAL 15 MINUTE"


def build_converted(con: duckdb.DuckDBPyConnection, plan: Plan, row_sql: str, *, tz: str, decimal: str) -> int:
    """Create the temp table :data:`CONV` (canonical columns + ``_has_*``); returns its row count.

    Naive timestamps become UTC through a small table of UTC offsets per 15-minute bucket of
    local time (:data:`TZ`), built with DuckDB's ICU ``timezone()`` for the buckets present
    only: the same result as calling ``timezone()`` on every row, several times faster.
    """
    stamps = [c for c in plan.columns if c.dtype == "timestamp"]
    middle_cols = ["_src_row", "_sub", *(qi("r_" + c.name) for c in plan.columns)]
    for c in stamps:
        r = qi("r_" + c.name)
        middle_cols += [f"{local_sql(r, c.formats)} AS {qi('_loc_' + c.name)}", f"{utc_sql(r, c.formats)} AS {qi('_utc_' + c.name)}"]
    middle = f"SELECT {', '.join(middle_cols)} FROM ({_inner_select(plan, row_sql)})"
    shift = bool(stamps) and tz not in _UTC_NAMES
    if shift:
        locs = ", ".join(qi("_loc_" + c.name) for c in stamps)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TZ} AS SELECT b, b - timezone('UTC', timezone({ql(tz)}, b)) AS off FROM "
            f"(SELECT DISTINCT time_bucket({_BUCKET}, x) AS b FROM (SELECT unnest([{locs}]) AS x FROM ({middle})) WHERE x IS NOT NULL)"
        )
    outer, joins = ["m._src_row", "m._sub"], []
    for c in plan.columns:
        r = "m." + qi("r_" + c.name)
        if c.dtype == "timestamp":
            loc, utc = "m." + qi("_loc_" + c.name), "m." + qi("_utc_" + c.name)
            alias = qi("o_" + c.name)
            if shift:
                joins.append(f"LEFT JOIN {TZ} AS {alias} ON time_bucket({_BUCKET}, {loc}) = {alias}.b")
                outer.append(f"COALESCE({utc}, {loc} - {alias}.off) AS {qi(c.name)}")
            else:
                outer.append(f"COALESCE({utc}, {loc}) AS {qi(c.name)}")
        else:
            outer.append(f"{typed_sql(c, r, decimal=decimal)} AS {qi(c.name)}")
        if _checked(c):
            outer.append(f"({r} IS NOT NULL) AS {qi('_has_' + c.name)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CONV} AS SELECT {', '.join(outer)} FROM ({middle}) AS m {' '.join(joins)}")
    con.execute(f"DROP TABLE IF EXISTS {TZ}")
    return int(con.execute(f"SELECT count(*) FROM {CONV}").fetchone()[0])  # type: ignore[index]


@dataclass(frozen=True)
class _Problem:
    column: str
    kind: str  # parse | missing | enum
    condition: str
    count: int = 0


def _problems(plan: Plan) -> list[_Problem]:
    out = []
    for c in plan.columns:
        col, has = qi(c.name), qi("_has_" + c.name)
        if _checked(c):
            out.append(_Problem(c.name, "parse", f"{has} AND {col} IS NULL"))
        if c.allowed:
            out.append(_Problem(c.name, "enum", f"{col} IS NOT NULL AND {col} NOT IN {_in(c.allowed)}"))
        if c.required:
            out.append(_Problem(c.name, "missing", f"NOT {has}" if _checked(c) else f"{col} IS NULL"))
    return out


def _source_text(plan: Plan, c: ColumnPlan) -> str:
    """SQL (over staging alias ``s`` and failing-row alias ``bad``) of the source text of ``c``."""
    if plan.stages and c.name == "at":
        return "CASE bad._sub " + " ".join(f"WHEN {i} THEN s.{qi(f'r__stage{i}')}" for i in range(len(plan.stages))) + " END"
    if plan.stages and c.name == "stage":
        return "bad.stage_"
    return "s." + qi("r_" + c.name)


def _describe(con: duckdb.DuckDBPyConnection, p: _Problem, plan: Plan, row_sql: str) -> str:
    c = plan.column(p.column)
    bad = f"SELECT _src_row, _sub, {qi(c.name)} AS value_, {qi('stage') if plan.stages else 'NULL'} AS stage_ FROM {CONV} WHERE {p.condition} ORDER BY _src_row, _sub LIMIT {MAX_EXAMPLES}"
    shown = _source_text(plan, c) if _checked(c) else "bad.value_"
    rows = con.execute(
        f"SELECT bad._src_row, {shown} FROM ({bad}) AS bad JOIN (SELECT {row_sql} AS row_, * FROM {STAGE}) AS s "
        f"ON bad._src_row = s.row_ ORDER BY bad._src_row, bad._sub"
    ).fetchall()
    examples = "; ".join(_("row {row}: '{value}'", row=r, value=v) if v is not None else _("row {row}: empty", row=r) for r, v in rows)
    if p.kind == "parse":
        head = _("column '{column}' ({dtype}): {n} value(s) cannot be read", column=c.name, dtype=c.dtype, n=p.count)
    elif p.kind == "enum":
        head = _("column '{column}': {n} value(s) not allowed (allowed: {allowed})", column=c.name, n=p.count, allowed=", ".join(c.allowed or ()))
    else:
        head = _("column '{column}': {n} required value(s) empty", column=c.name, n=p.count)
    source = f" [{', '.join(c.sources)}]" if c.sources and c.sources != (c.name,) else ""
    return f"  - {head}{source} — {examples}"


def check_converted(con: duckdb.DuckDBPyConnection, plan: Plan, *, file: str, row_sql: str) -> None:
    """Raise a clear error when values are unreadable, empty, not allowed, or keys repeat.

    Needs the staging table (:data:`STAGE`) only when something failed, to quote values.
    """
    problems = _problems(plan)
    if problems:
        counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {p.condition})" for p in problems) + f" FROM {CONV}").fetchone()
        found = [_Problem(p.column, p.kind, p.condition, int(n)) for p, n in zip(problems, counts or (), strict=True) if n]
        if found:
            total = sum(p.count for p in found)
            lines = [_describe(con, p, plan, row_sql) for p in found]
            cls = UnknownValueError if all(p.kind == "enum" for p in found) else ValueParseError
            raise cls(
                _("{file}: {n} problem value(s) (rows are numbered from the header = row 1):", file=file, n=total) + "\n" + "\n".join(lines),
                hint=_("Fix the file, or use --date-format / --decimal / --mapping (value maps) to read these values."),
            )
    _check_keys(con, plan, file)


def _check_keys(con: duckdb.DuckDBPyConnection, plan: Plan, file: str) -> None:
    keys = ", ".join(qi(k) for k in plan.key)
    n = int(con.execute(f"SELECT count(*) FROM (SELECT {keys} FROM {CONV} GROUP BY {keys} HAVING count(*) > 1)").fetchone()[0])  # type: ignore[index]
    if not n:
        return
    dup = f"SELECT {keys}, list(_src_row ORDER BY _src_row) AS rows_ FROM {CONV} GROUP BY {keys} HAVING count(*) > 1"
    rows = con.execute(f"SELECT * FROM ({dup}) ORDER BY rows_[1] LIMIT {MAX_EXAMPLES}").fetchall()
    examples = "\n".join(
        "  - " + _("key {key}: rows {rows}", key=", ".join(str(v) for v in r[:-1]), rows=", ".join(str(x) for x in r[-1][:5])) for r in rows
    )
    raise DuplicateKeyError(
        _("{file}: {n} key(s) of table '{table}' ({key}) appear more than once in the file:", file=file, n=n, table=plan.table, key=", ".join(plan.key)) + "\n" + examples,
        hint=_("Each row of the file must have its own key; remove the repeated rows or fix their keys."),
    )
