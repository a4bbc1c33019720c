"""Building blocks shared by validation and cleaning: the Issue record, example rows and the
checks that need more than one aggregate (keys, references, time-zone coherence).

Private module: use :mod:`levier.data.validate` and :mod:`levier.data.clean`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data.schema import table as canonical
from levier.i18n import N_
from levier.i18n import gettext as _

__all__ = [
    "Issue",
    "MESSAGES",
    "SCORE_RANGE",
    "as_json_value",
    "examples_of",
    "duplicate_keys",
    "orphans",
    "orphan_filter",
    "before_lead_created",
    "timezone_shifts",
    "shift_clusters",
    "EXAMPLES",
]

#: How many example rows an issue or a journal entry carries.
EXAMPLES = 5
SCORE_RANGE = (0, 100)


#: English message template of each issue code (French in locales/fr/.../quality.po).
MESSAGES: dict[str, str] = {
    "required_null": N_("{count} rows of {table} have no {column}, a required column. Fix the source file or the column mapping, then import again."),
    "duplicate_key": N_("{count} key values of {table} ({column}) appear more than once ({rows} rows). A key must be unique: check the key mapping and import again."),
    "invalid_value": N_("{count} rows of {table}: {column} is not one of the allowed values ({allowed}); most frequent: {seen}. Map these values at import."),
    "orphan": N_("{count} rows of {table}: {column} matches no lead. Import the missing leads or check the mapping of {column}."),
    "before_lead_created": N_("{count} touches are dated more than {minutes} minutes before their lead was created. Check the time zone used at import."),
    "future_date": N_("{count} rows of {table}: {column} is after the extraction time {as_of}."),
    "before_2000": N_("{count} rows of {table}: {column} is before 2000-01-01."),
    "negative_value": N_("{count} rows of {table}: {column} is negative."),
    "out_of_range": N_("{count} rows of {table}: {column} is outside {low}–{high}."),
    "timezone_shift": N_("{count} touches of {owner} in week {week} look shifted by {shift_hours:+d} h compared with this owner's other weeks (local time stored as UTC?). Check the time zone of that export."),
}


def as_json_value(value: Any) -> Any:
    """A JSON-safe version of a value read from the engine."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass(frozen=True)
class Issue:
    """One problem found by validation: what, where, how many, a few example rows."""

    code: str
    severity: str  # "error" | "warning"
    table: str
    column: str | None
    count: int
    message: str
    examples: tuple[dict[str, Any], ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, code: str, severity: str, table: str, column: str | None, count: int,
             examples: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (), **params: Any) -> Issue:
        issue = cls(code, severity, table, column, int(count), "", tuple(examples), dict(params))
        object.__setattr__(issue, "message", issue.text("en"))
        return issue

    def text(self, lang: str | None = None) -> str:
        """The message in ``lang`` (fr or en)."""
        return _(MESSAGES[self.code], lang=lang, table=self.table, column=self.column or "", count=self.count, **self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "table": self.table,
            "column": self.column,
            "count": self.count,
            "message": self.message,
            "examples": [dict(e) for e in self.examples],
            "params": {k: as_json_value(v) for k, v in self.params.items()},
        }


def examples_of(t: ir.Table, columns: list[str], k: int = EXAMPLES, order: list[Any] | None = None) -> list[dict[str, Any]]:
    """Up to ``k`` rows of ``t`` (deterministic order: ``_row_id`` unless ``order``)."""
    cols = list(dict.fromkeys([*columns, "_row_id"])) if "_row_id" in t.columns else list(dict.fromkeys(columns))
    expr = t.order_by(order or ["_row_id"]).select(*cols).limit(k)
    return [{c: as_json_value(v) for c, v in row.items()} for row in expr.to_pyarrow().to_pylist()]


def _count(expr: ir.Table) -> int:
    return int(expr.count().execute())


# -- keys and references -----------------------------------------------------------------
def duplicate_keys(name: str, t: ir.Table) -> list[Issue]:
    key = list(canonical(name).key)
    groups = t.group_by(key).aggregate(n=t.count())
    groups = groups.filter(groups.n > 1)
    row = groups.aggregate(keys=groups.count(), rows=groups.n.sum()).execute().iloc[0]
    if not row["keys"]:
        return []
    examples = examples_of(groups, [*key, "n"], order=key)
    return [Issue.make("duplicate_key", "error", name, ", ".join(key), int(row["keys"]), examples, rows=int(row["rows"]))]


def orphan_filter(t: ir.Table, column: str, leads: ir.Table) -> ir.Table:
    """Rows of ``t`` whose (non-empty) ``column`` matches no lead."""
    target = leads.select(_ref=leads.lead_id).distinct()
    return t.filter(t[column].notnull()).anti_join(target, t[column] == target._ref)


def orphans(name: str, t: ir.Table, leads: ir.Table) -> list[Issue]:
    out = []
    for col in canonical(name).columns:
        if col.references != "leads.lead_id":
            continue
        bad = orphan_filter(t, col.name, leads)
        n = _count(bad)
        if n:
            examples = examples_of(bad, [*canonical(name).key, col.name])
            out.append(Issue.make("orphan", "warning", name, col.name, n, examples))
    return out


# -- time-zone coherence -------------------------------------------------------------------
def before_lead_created(touches: ir.Table, leads: ir.Table, tolerance: timedelta) -> list[Issue]:
    created = leads.select(_lead=leads.lead_id, lead_created_at=leads.created_at)
    joined = touches.join(created, touches.lead_id == created._lead)
    limit = joined.lead_created_at - ibis.interval(seconds=int(tolerance.total_seconds()))
    bad = joined.filter(joined.at < limit)
    n = _count(bad)
    if not n:
        return []
    examples = examples_of(bad, ["touch_id", "lead_id", "at", "lead_created_at"])
    return [Issue.make("before_lead_created", "warning", "touches", "at", n, examples,
                       minutes=int(tolerance.total_seconds() // 60))]


def _hour_histograms(touches: ir.Table) -> pd.DataFrame:
    t = touches.filter(touches.owner.notnull() & touches.at.notnull())
    t = t.filter(t.at >= ibis.literal(datetime(2000, 1, 1)))
    g = t.group_by(owner=t.owner, week=t.at.truncate("W").cast("date"), hour=t.at.hour()).aggregate(n=t.count())
    return g.execute()


def _utc_offset_hours(week_start: date, tz: str) -> int:
    mid = datetime.combine(week_start, datetime.min.time()) + timedelta(days=3, hours=12)
    offset = ZoneInfo(tz).utcoffset(mid)
    return round(offset.total_seconds() / 3600) if offset is not None else 0


def shift_clusters(hist: pd.DataFrame, tz: str = "UTC", *, min_touches: int = 20,
                   min_gain_per_touch: float = 0.2, alpha: float = 0.5) -> list[dict[str, Any]]:
    """Owner × ISO-week clusters whose hour-of-day profile is the owner's own, shifted.

    ``hist`` has columns owner, week (Monday), hour (UTC), n. For each week with at least
    ``min_touches`` touches, the owner's other weeks give a smoothed hour profile; the shift
    s (−12..11 h) maximising the log-likelihood of the week is kept when s ≠ 0 and it gains
    at least ``min_gain_per_touch`` nats per touch over s = 0. This is done twice, on UTC
    hours and on the local hours of ``tz``; a week is reported only when both agree that it
    is shifted, so a team that follows daylight-saving time (local frame) and a system that
    logs in UTC (UTC frame) are both left alone. ``shift_hours`` = −s: −2 means the times
    were stored 2 h early.
    """
    if hist.empty:
        return []
    hist = hist.assign(week=[_to_date(w) for w in hist["week"]])
    utc = _frame_clusters(hist, None, min_touches, min_gain_per_touch, alpha)
    local = utc if tz == "UTC" else _frame_clusters(hist, tz, min_touches, min_gain_per_touch, alpha)
    found = []
    for key in sorted(set(utc) & set(local), key=lambda k: (str(k[0]), k[1])):
        a, b = utc[key], local[key]
        found.append(a if a["fit"] >= b["fit"] else b)
    for c in found:
        c.pop("fit")
    return found


def _frame_clusters(hist: pd.DataFrame, tz: str | None, min_touches: int, min_gain: float,
                    alpha: float) -> dict[tuple[Any, date], dict[str, Any]]:
    found: dict[tuple[Any, date], dict[str, Any]] = {}
    for owner, rows in hist.groupby("owner"):
        weeks: dict[date, list[float]] = {}
        for week, hour, n in zip(rows["week"], rows["hour"], rows["n"], strict=True):
            local = (int(hour) + (_utc_offset_hours(week, tz) if tz else 0)) % 24
            weeks.setdefault(week, [0.0] * 24)[local] += float(n)
        total = [sum(w[h] for w in weeks.values()) for h in range(24)]
        for week, cur in weeks.items():
            n_week = sum(cur)
            base = [total[h] - cur[h] for h in range(24)]
            if n_week < min_touches or sum(base) < min_touches:
                continue
            denom = sum(base) + 24 * alpha
            logp = [math.log((b + alpha) / denom) for b in base]
            ll = {s: sum(cur[h] * logp[(h + s) % 24] for h in range(24)) for s in range(-12, 12)}
            best = max(ll, key=lambda s: (ll[s], -abs(s)))
            gain = ll[best] - ll[0]
            if best != 0 and gain >= min_gain * n_week:
                iso = week.isocalendar()
                found[(owner, week)] = {
                    "owner": owner, "week": f"{iso[0]}-W{iso[1]:02d}", "week_start": week.isoformat(),
                    "shift_hours": -best, "touches": int(n_week), "gain_per_touch": round(gain / n_week, 3),
                    "fit": ll[best] / n_week,
                }
    return found


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def timezone_shifts(touches: ir.Table, tz: str) -> list[Issue]:
    issues = []
    for cluster in shift_clusters(_hour_histograms(touches), tz):
        start = datetime.fromisoformat(cluster["week_start"])
        sel = touches.filter((touches.owner == cluster["owner"]) & (touches.at >= start) & (touches.at < start + timedelta(days=7)))
        examples = [dict(cluster)] + examples_of(sel, ["touch_id", "lead_id", "at"], k=3)
        issues.append(Issue.make("timezone_shift", "warning", "touches", "at", cluster["touches"], examples,
                                 owner=cluster["owner"], week=cluster["week"], shift_hours=cluster["shift_hours"]))
    return issues
