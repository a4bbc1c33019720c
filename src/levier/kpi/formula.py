"""A small, safe expression language for user-defined KPIs, compiled to Ibis.

Grammar (parsed with :mod:`ast` in ``eval`` mode; any other node is refused)::

    formula   := arithmetic of numbers and aggregates with + - * / and parentheses
    aggregate := count(table [, filter] [, at=column])
               | nunique(table.column [, filter] [, at=column])
               | sum|mean|min|max(table.column [, filter] [, at=column])
    filter    := column OP literal | column in (literal, …) | column (boolean)
               | column == None | filter and filter | filter or filter | not filter

Each aggregate reads the rows of the *cleaned* canonical table whose time column (the table's
own, or ``at=``) falls in the period; tables that carry ``lead_id`` can be split by a lead
segment (joined on ``leads``). Arithmetic happens in Python on the per-period aggregates, so a
division by zero gives ``None``, never an error. Example::

    count(touches, outcome == 'meeting_booked') / nunique(touches.lead_id, direction == 'out')
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from levier.data.schema import TABLES
from levier.errors import FormulaError
from levier.i18n import gettext as _

__all__ = ["Term", "Formula", "parse", "SEGMENT_COLUMNS", "GRAINS", "aggregate_frame", "evaluate"]

FUNCTIONS = ("count", "nunique", "sum", "mean", "min", "max")
NUMERIC = ("int64", "float64")
SEGMENT_COLUMNS = ("channel", "company_size", "source", "team", "owner", "country", "campaign_id")
GRAINS = {"day": "D", "week": "W", "month": "M", "quarter": "Q"}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


@dataclass(frozen=True)
class Term:
    """One aggregate of a formula: ``func(table.column, filter, at=time_column)``."""

    func: str
    table: str
    column: str | None
    where: str | None  # the filter's source text (re-parsed when compiling)
    at: str

    @property
    def label(self) -> str:
        target = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.func}({target}{', ' + self.where if self.where else ''}, at={self.at})"


@dataclass(frozen=True)
class Formula:
    """A validated formula: its text, aggregates and the tables it reads."""

    text: str
    terms: tuple[Term, ...]
    tree: ast.Expression

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted({t.table for t in self.terms}))

    @property
    def segmentable(self) -> bool:
        return all(t.table == "leads" or "lead_id" in TABLES[t.table].column_names for t in self.terms)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "terms": [t.label for t in self.terms], "tables": list(self.tables), "segmentable": self.segmentable}


def _err(text: str, node: ast.AST | None, message: str) -> FormulaError:
    where = f" (column {getattr(node, 'col_offset', 0) + 1})" if node is not None else ""
    return FormulaError(_("Formula '{text}'{where}: {message}", text=text, where=where, message=message),
                        hint=_("Example: count(touches, outcome == 'replied') / count(leads). Functions: {f}.", f=", ".join(FUNCTIONS)))


def _table(text: str, name: str, node: ast.AST) -> str:
    if name not in TABLES:
        raise _err(text, node, _("unknown table '{name}'; use one of {tables}.", name=name, tables=", ".join(TABLES)))
    return name


def _column(text: str, table: str, name: str, node: ast.AST) -> str:
    cols = TABLES[table].column_names
    if name not in cols:
        raise _err(text, node, _("unknown column '{name}' in table {table}; columns: {cols}.", name=name, table=table, cols=", ".join(cols)))
    return name


def _dtype(table: str, column: str) -> str:
    return next(c.dtype for c in TABLES[table].columns if c.name == column)


def _literal(text: str, node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, int, float, bool))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    raise _err(text, node, _("expected a literal (text in quotes, number, True, False or None)."))


def _check_filter(text: str, table: str, node: ast.AST) -> None:
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check_filter(text, table, v)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check_filter(text, table, node.operand)
    elif isinstance(node, ast.Name):
        if _dtype(table, _column(text, table, node.id, node)) != "boolean":
            raise _err(text, node, _("column '{name}' is not boolean; compare it, e.g. {name} == 'x'.", name=node.id))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name):
        _column(text, table, node.left.id, node.left)
        op, right = node.ops[0], node.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.Tuple, ast.List)) or not right.elts:
                raise _err(text, right, _("'in' needs a list of literals, e.g. ('a', 'b')."))
            for e in right.elts:
                _literal(text, e)
        elif type(op) in _CMP:
            _literal(text, right)
        else:
            raise _err(text, node, _("unsupported comparison."))
    else:
        raise _err(text, node, _("a filter compares a column with a literal (==, !=, <, <=, >, >=, in), combined with and / or / not."))


def _term(text: str, node: ast.Call) -> Term:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        raise _err(text, node, _("unknown function '{name}'; use one of {f}.", name=name, f=", ".join(FUNCTIONS)))
    func = node.func.id
    if not 1 <= len(node.args) <= 2:
        raise _err(text, node, _("{f}() takes a table (or table.column) and an optional filter.", f=func))
    arg = node.args[0]
    if isinstance(arg, ast.Name) and func == "count":
        table, column = _table(text, arg.id, arg), None
    elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
        table = _table(text, arg.value.id, arg.value)
        column = _column(text, table, arg.attr, arg)
        if func in ("sum", "mean") and _dtype(table, column) not in NUMERIC:
            raise _err(text, arg, _("{f}() needs a numeric column; {table}.{col} is {dtype}.", f=func, table=table, col=column, dtype=_dtype(table, column)))
    else:
        raise _err(text, arg, _("{f}() needs table.column (count() also accepts a table).", f=func))
    where = None
    if len(node.args) == 2:
        _check_filter(text, table, node.args[1])
        where = ast.unparse(node.args[1])
    at = TABLES[table].time_column or ""
    for kw in node.keywords:
        if kw.arg != "at" or not isinstance(kw.value, ast.Name):
            raise _err(text, kw.value, _("the only keyword is at=<time column>."))
        at = _column(text, table, kw.value.id, kw.value)
        if _dtype(table, at) not in ("timestamp", "date"):
            raise _err(text, kw.value, _("at= needs a date or timestamp column; {col} is not one.", col=at))
    if not at:
        raise _err(text, node, _("table {table} has no time column; give one with at=.", table=table))
    return Term(func, table, column, where, at)


def _walk(text: str, node: ast.AST, terms: list[Term]) -> None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        _walk(text, node.left, terms)
        _walk(text, node.right, terms)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _walk(text, node.operand, terms)
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return
    elif isinstance(node, ast.Call):
        terms.append(_term(text, node))
    else:
        raise _err(text, node, _("only numbers, aggregates and + - * / ( ) are allowed here, not '{src}'.", src=ast.unparse(node)))


def parse(text: str) -> Formula:
    """Parse and validate ``text``; :class:`FormulaError` names the problem and where it is."""
    text = (text or "").strip()
    if not text:
        raise _err(text, None, _("the formula is empty."))
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise _err(text, None, _("syntax error at column {col}: {msg}.", col=exc.offset or 0, msg=exc.msg)) from None
    terms: list[Term] = []
    _walk(text, tree.body, terms)
    if not terms:
        raise _err(text, tree.body, _("a formula needs at least one aggregate such as count(leads)."))
    uniq = tuple(dict.fromkeys(terms))
    return Formula(text, uniq, tree)


# -- compilation to Ibis -------------------------------------------------------------------
def _predicate(t: Any, node: ast.AST) -> Any:
    if isinstance(node, ast.BoolOp):
        out = _predicate(t, node.values[0])
        for v in node.values[1:]:
            out = (out & _predicate(t, v)) if isinstance(node.op, ast.And) else (out | _predicate(t, v))
        return out
    if isinstance(node, ast.UnaryOp):
        return ~_predicate(t, node.operand)
    if isinstance(node, ast.Name):
        return t[node.id].fill_null(False)
    assert isinstance(node, ast.Compare) and isinstance(node.left, ast.Name)
    col, op, right = t[node.left.id], node.ops[0], node.comparators[0]
    if isinstance(op, (ast.In, ast.NotIn)):
        vals = [ast.literal_eval(e) for e in right.elts]  # type: ignore[attr-defined]
        return col.isin(vals) if isinstance(op, ast.In) else ~col.isin(vals)
    value = ast.literal_eval(right)
    if value is None:
        return col.isnull() if isinstance(op, ast.Eq) else col.notnull()
    ops = {ast.Eq: col.__eq__, ast.NotEq: col.__ne__, ast.Lt: col.__lt__, ast.LtE: col.__le__, ast.Gt: col.__gt__, ast.GtE: col.__ge__}
    return ops[type(op)](value).fill_null(False)


def _bound(t: Any, col: str, when: datetime) -> Any:
    return when.date() if _dtype_of(t, col) == "date" else when


def _dtype_of(t: Any, col: str) -> str:
    return "date" if t[col].type().is_date() else "timestamp"


def aggregate_frame(ws: Any, term: Term, start: datetime, end: datetime, grain: str | None,
                    segment_by: Sequence[str] = (), segment: Mapping[str, str] | None = None) -> Any:
    """One aggregate per period (``grain`` day/week/month/quarter, or None for the whole range)
    and per segment, computed in the engine: a small pandas frame (period, segment…, value)."""
    import ibis

    t = ws.table(term.table)
    t = t.filter((t[term.at] >= _bound(t, term.at, start)) & (t[term.at] < _bound(t, term.at, end)))
    if term.where:
        t = t.filter(_predicate(t, ast.parse(term.where, mode="eval").body))
    seg_cols = tuple(segment_by) + tuple(k for k in (segment or {}) if k not in segment_by)
    if seg_cols:
        t = _with_segments(ws, t, term, seg_cols)
        for k, v in (segment or {}).items():
            t = t.filter(t[f"seg_{k}"] == str(v))
    period = t[term.at].cast("timestamp").truncate(GRAINS[grain]) if grain else ibis.literal(start).cast("timestamp")
    keys = {"period": period, **{f"seg_{c}": t[f"seg_{c}"] for c in segment_by}}
    col = t[term.column] if term.column else None
    value = {"count": lambda: t.count() if col is None else col.count(), "nunique": lambda: col.nunique(),
             "sum": lambda: col.sum(), "mean": lambda: col.mean(), "min": lambda: col.min(), "max": lambda: col.max()}[term.func]()
    return t.group_by(**keys).agg(value=value.cast("float64")).execute()


def _with_segments(ws: Any, t: Any, term: Term, cols: Sequence[str]) -> Any:
    bad = [c for c in cols if c not in SEGMENT_COLUMNS]
    if bad:
        raise FormulaError(_("Unknown segment column '{col}'; use one of {cols}.", col=bad[0], cols=", ".join(SEGMENT_COLUMNS)))
    if term.table == "leads":
        return t.mutate(**{f"seg_{c}": t[c].cast("string").fill_null("") for c in cols})
    if "lead_id" not in TABLES[term.table].column_names:
        raise FormulaError(_("Table {table} has no lead_id: a formula reading it cannot be split by lead segment.", table=term.table))
    leads = ws.table("leads")
    lead_seg = leads.select(_lid=leads.lead_id, **{f"seg_{c}": leads[c].cast("string").fill_null("") for c in cols})
    return t.inner_join(lead_seg, t.lead_id == lead_seg._lid)


def evaluate(node: ast.AST, values: Mapping[Term, float | None], terms_by_src: Mapping[str, Term]) -> float | None:
    """The formula's value from its aggregates (None on a missing aggregate or a division by zero)."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, values, terms_by_src)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Call):
        return values.get(terms_by_src[ast.unparse(node)])
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, values, terms_by_src)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    assert isinstance(node, ast.BinOp)
    a, b = evaluate(node.left, values, terms_by_src), evaluate(node.right, values, terms_by_src)
    if a is None or b is None:
        return None
    if isinstance(node.op, ast.Div):
        return None if b == 0 else a / b
    out = a + b if isinstance(node.op, ast.Add) else a - b if isinstance(node.op, ast.Sub) else a * b
    return None if math.isnan(out) else out


def term_sources(f: Formula) -> dict[str, Term]:
    """Map each aggregate call's source text to its :class:`Term` (for :func:`evaluate`)."""
    out: dict[str, Term] = {}
    for node in ast.walk(f.tree):
        if isinstance(node, ast.Call):
            out[ast.unparse(node)] = _term(f.text, node)
    return out
