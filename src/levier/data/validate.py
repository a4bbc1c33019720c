"""Validate the facts of a workspace (audit step 2, *Collect*): is the data usable?

Every check is an Ibis expression pushed to the facts engine; only counts and a few
example rows come back. :func:`validate_workspace` returns a frozen
:class:`ValidationReport`; ``report.blocking`` is true when at least one issue has
severity ``error`` (see ``docs/cleaning.md`` for which checks block and why).

Checks (issue ``code``):

- ``required_null`` (error): empty values in a required column;
- ``duplicate_key`` (error): a table key that is not unique;
- ``invalid_value`` (error for a required column, warning otherwise): a value outside
  the allowed list of an enumerated column (stages: the workspace's ``stages``);
- ``orphan`` (warning): referential integrity (touch/stage event/deal/web event → lead);
- ``before_lead_created`` (warning): touches dated before their lead was created;
- ``future_date`` (warning): a date after the extraction time (:func:`extraction_time`);
- ``before_2000`` (warning): a date before 2000-01-01;
- ``timezone_shift`` (warning): one owner's touches of one ISO week shifted by whole hours;
- ``negative_value`` / ``out_of_range`` (warning): negative amounts/costs, score not in 0–100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data import _checks
from levier.data._checks import SCORE_RANGE, Issue, as_json_value, examples_of
from levier.data.schema import TABLES
from levier.data.schema import table as canonical
from levier.i18n import gettext as _

if TYPE_CHECKING:
    from levier.workspace import Workspace

__all__ = [
    "Issue",
    "ValidationReport",
    "validate_workspace",
    "extraction_time",
    "EPOCH_FLOOR",
    "BEFORE_CREATED_TOLERANCE",
]

#: Dates before this are impossible for CRM data (typos, Excel/Unix epoch defaults).
EPOCH_FLOOR = datetime(2000, 1, 1)
#: Touches this much earlier than their lead's creation are reported (clock skew allowance).
BEFORE_CREATED_TOLERANCE = timedelta(minutes=5)
#: Columns whose negative values are impossible.
NON_NEGATIVE = {("deals", "amount"), ("spend", "cost"), ("orders", "amount")}


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate_workspace` found. ``blocking`` when any issue is an error."""

    issues: tuple[Issue, ...]
    checked_at: datetime
    as_of: datetime | None = None
    as_of_source: str = "data"  # "option" | "data" | "clock"
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    def by_code(self, code: str) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.code == code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_source": self.as_of_source,
            "blocking": self.blocking,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "rows": dict(self.rows),
            "issues": [i.to_dict() for i in self.issues],
        }

    def to_frame(self) -> pd.DataFrame:
        cols = ["code", "severity", "table", "column", "count", "message"]
        return pd.DataFrame([{c: getattr(i, c) for c in cols} for i in self.issues], columns=cols)

    def summary(self, lang: str | None = None) -> str:
        """Human-readable text (French or English)."""
        lines = [_("Validation of {n} tables — extraction time {as_of} ({source}).", lang=lang,
                   n=len(self.rows), as_of=self.as_of.isoformat(sep=" ") if self.as_of else "-",
                   source=_source_label(self.as_of_source, lang))]
        if not self.issues:
            lines.append(_("No problem found.", lang=lang))
        for issue in self.issues:
            label = _("ERROR", lang=lang) if issue.severity == "error" else _("warning", lang=lang)
            lines.append(f"- [{label}] {issue.text(lang)}")
        if self.blocking:
            lines.append(_("{n} blocking error(s): fix the data and import it again before the audit.",
                           lang=lang, n=len(self.errors)))
        elif self.issues:
            lines.append(_("{n} warning(s), none blocking: `levier clean` handles the known defects.",
                           lang=lang, n=len(self.warnings)))
        return "\n".join(lines)


def _source_label(source: str, lang: str | None) -> str:
    return {
        "option": _("given with --as-of", lang=lang),
        "data": _("derived from the data", lang=lang),
        "clock": _("current time, the workspace holds no activity", lang=lang),
    }.get(source, source)


# -- extraction time --------------------------------------------------------------------
def _daily_activity(ws: Workspace) -> list[tuple[date, int]]:
    touches = ws.facts.raw("touches")
    leads = ws.facts.raw("leads")
    days = touches.select(d=touches.at.date()).union(leads.select(d=leads.created_at.date()), distinct=False)
    days = days.filter(days.d.notnull())
    agg = days.group_by("d").aggregate(n=days.count()).execute()
    out = sorted((_as_date(d), int(n)) for d, n in zip(agg["d"], agg["n"], strict=True))
    return [(d, n) for d, n in out if d >= EPOCH_FLOOR.date()]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def dense_end(days: list[tuple[date, int]]) -> date | None:
    """The last day of the bulk of activity, ignoring sparse days far in the future.

    ``days`` are (day, rows) pairs sorted by day. The bulk runs from the day where 5 % of
    the activity is reached to the day where 50 % is; from there, walk forward over active
    days, keeping a day as the new end when it holds at least 5 % of the median daily
    activity and comes no more than max(7 days, twice the median gap between the bulk's
    active days) after the current end.
    """
    if not days:
        return None
    counts = sorted(n for _d, n in days)
    mid = len(counts) // 2
    median = counts[mid] if len(counts) % 2 else (counts[mid - 1] + counts[mid]) / 2
    threshold = max(1.0, 0.05 * median)
    total = sum(n for _d, n in days)
    cum, first, start = 0, None, 0
    for i, (_d, n) in enumerate(days):
        cum += n
        if first is None and cum >= 0.05 * total:
            first = i
        if cum >= 0.5 * total:
            start = i
            break
    bulk = days[first or 0: start + 1]
    gaps = sorted((b[0] - a[0]).days for a, b in zip(bulk, bulk[1:], strict=False)) or [1]
    max_gap = max(7, 2 * gaps[len(gaps) // 2])
    last = days[start][0]
    for d, n in days[start + 1:]:
        if (d - last).days > max_gap:
            break
        if n >= threshold:
            last = d
    return last


def extraction_time(ws: Workspace, as_of: datetime | None = None) -> tuple[datetime, str]:
    """The "now" of the data set and how it was obtained (``option``, ``data`` or ``clock``).

    An explicit ``as_of`` wins. Otherwise the end (midnight after) of the last day of the
    bulk of lead creations and touches (:func:`dense_end`). Import times are not used: the
    clock of the machine that imported an export says nothing about when it was extracted.
    """
    if as_of is not None:
        return (as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of), "option"
    end = dense_end(_daily_activity(ws))
    if end is None:
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0), "clock"
    return datetime.combine(end + timedelta(days=1), datetime.min.time()), "data"


# -- per-table scan: one aggregate query per table ---------------------------------------
def _conditions(ws: Workspace, name: str, t: ir.Table, as_of: datetime) -> dict[tuple[str, str], tuple[ir.BooleanColumn, dict[str, Any]]]:
    """(code, column) -> (boolean condition, message parameters) for the row-level checks."""
    spec = canonical(name)
    conds: dict[tuple[str, str], tuple[ir.BooleanColumn, dict[str, Any]]] = {}
    for col in spec.columns:
        c = t[col.name]
        if col.required:
            conds[("required_null", col.name)] = (c.isnull(), {})
        allowed = tuple(ws.config.stages) if (name, col.name) == ("stage_events", "stage") else col.allowed
        if allowed:
            conds[("invalid_value", col.name)] = (c.notnull() & ~c.isin(list(allowed)), {"allowed": ", ".join(allowed)})
        if col.is_time:
            limit = as_of.date() if col.dtype == "date" else as_of
            floor = EPOCH_FLOOR.date() if col.dtype == "date" else EPOCH_FLOOR
            conds[("future_date", col.name)] = (c > ibis.literal(limit, type=col.dtype), {"as_of": as_of.isoformat(sep=" ")})
            conds[("before_2000", col.name)] = (c < ibis.literal(floor, type=col.dtype), {})
        if (name, col.name) in NON_NEGATIVE:
            conds[("negative_value", col.name)] = (c < 0, {})
        if (name, col.name) == ("leads", "score"):
            low, high = SCORE_RANGE
            conds[("out_of_range", col.name)] = ((c < low) | (c > high), {"low": low, "high": high})
    return conds


def _scan_table(ws: Workspace, name: str, t: ir.Table, as_of: datetime) -> tuple[int, list[Issue]]:
    conds = _conditions(ws, name, t, as_of)
    keys = list(conds)
    metrics = {"n": t.count()}
    metrics.update({f"c{i}": cond.ifelse(1, 0).sum() for i, (cond, _p) in enumerate(conds.values())})
    row = t.aggregate(**metrics).execute().iloc[0]
    n = int(row["n"])
    issues: list[Issue] = []
    if n == 0:
        return 0, issues
    key_cols = list(canonical(name).key)
    for i, (code, column) in enumerate(keys):
        count = 0 if pd.isna(row[f"c{i}"]) else int(row[f"c{i}"])
        if count == 0:
            continue
        cond, params = conds[(code, column)]
        examples = examples_of(t.filter(cond), [*key_cols, column] if column not in key_cols else key_cols)
        if code == "invalid_value":
            params = {**params, "seen": _seen_values(t.filter(cond), column)}
        severity = _severity(code, name, column)
        issues.append(Issue.make(code, severity, name, column, count, examples, **params))
    return n, issues


def _severity(code: str, name: str, column: str) -> str:
    if code in ("required_null", "duplicate_key"):
        return "error"
    if code == "invalid_value":
        return "error" if TABLES[name].column(column).required else "warning"
    return "warning"


def _seen_values(t: ir.Table, column: str, limit: int = 5) -> str:
    top = t.group_by(column).aggregate(n=t.count()).order_by([ibis.desc("n"), column]).limit(limit).execute()
    return ", ".join(f"{as_json_value(v)} ({int(k)})" for v, k in zip(top[column], top["n"], strict=True))


# -- report -------------------------------------------------------------------------------
def validate_workspace(
    ws: Workspace,
    tables: list[str] | tuple[str, ...] | None = None,
    *,
    as_of: datetime | None = None,
    cleaned: bool = False,
) -> ValidationReport:
    """Check the facts of ``ws`` (raw rows, or the cleaned view with ``cleaned=True``).

    ``tables`` limits the checks to some tables (default: all); ``as_of`` is the extraction
    time (default: derived from the data, see :func:`extraction_time`).
    """
    names = [canonical(n).name for n in tables] if tables else list(TABLES)
    checked_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    when, source = extraction_time(ws, as_of)

    def get(n: str) -> ir.Table:
        return ws.facts.table(n, cleaned=cleaned)

    issues: list[Issue] = []
    rows: dict[str, int] = {}
    for name in names:
        rows[name], found = _scan_table(ws, name, get(name), when)
        issues.extend(found)
        if rows[name]:
            issues.extend(_checks.duplicate_keys(name, get(name)))
    for name in names:
        if rows[name]:
            issues.extend(_checks.orphans(name, get(name), get("leads")))
    if "touches" in names and rows.get("touches"):
        issues.extend(_checks.before_lead_created(get("touches"), get("leads"), BEFORE_CREATED_TOLERANCE))
        issues.extend(_checks.timezone_shifts(get("touches"), ws.config.timezone))
    order = {"error": 0, "warning": 1}
    issues.sort(key=lambda i: (order[i.severity], names.index(i.table) if i.table in names else 99, i.code, i.column or ""))
    return ValidationReport(issues=tuple(issues), checked_at=checked_at, as_of=when, as_of_source=source, rows=rows)
