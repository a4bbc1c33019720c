"""KPI time series per day / week / month / quarter and per lead segment, refreshed incrementally.

Values are computed in the facts engine: a user formula is one grouped query per aggregate
(``GROUP BY period, segment``); a catalogue KPI is one grouped query too
(:mod:`levier.kpi.grouped`: the period bucket is a group key), equal to
:func:`levier.analysis.kpis.compute_kpi` run per period. Points are stored in the loop store (``kpi_points``) with a watermark per series
(``kpi_series_state``: the last import batch seen of every facts table the KPI reads).

A refresh recomputes only (a) periods never computed and (b) periods that rows of the new import
batches can change: a new row at time *t* changes the periods ending after *t − settle*, where
*settle* is 0 for event KPIs and the conversion window for lead-cohort KPIs (ADR 0111).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import product
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.data.schema import TABLES
from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.kpi import _scope, grouped
from levier.kpi import formula as fml
from levier.kpi.models import KpiPoint, KpiSeriesState
from levier.kpi.registry import Entry, get_kpi
from levier.loop.models import utcnow

__all__ = ["Point", "Series", "series", "stored", "refresh_scope", "period_starts", "period_end", "segment_label", "compute_periods"]

GRAINS = ("day", "week", "month", "quarter")
FREQUENCY_GRAIN = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}
_ADDITIVE = ("count", "nunique", "sum")
#: default history of a series without --start: 90 days, 26 weeks, 12 months, 8 quarters
DEFAULT_SPAN = {"day": timedelta(days=90), "week": timedelta(weeks=26), "month": timedelta(days=365), "quarter": timedelta(days=730)}


@dataclass(frozen=True)
class Point:
    period_start: datetime
    segment: str
    value: float | None
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start.isoformat(), "segment": self.segment, "value": self.value, "partial": self.partial}


@dataclass(frozen=True)
class Series:
    """A KPI per period (and segment); ``recomputed`` / ``reused`` count periods of this refresh."""

    key: str
    grain: str
    segment_by: tuple[str, ...]
    start: datetime
    end: datetime
    points: tuple[Point, ...]
    recomputed: int
    reused: int
    data_end: datetime | None = None
    refreshed_at: datetime | None = None  # when the stored points were last refreshed (None: never)
    stale: bool = False  # facts imported or cleaned since that refresh (or other dates asked for): refresh to update

    def values(self, segment: str = "") -> list[float | None]:
        return [p.value for p in self.points if p.segment == segment]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "grain": self.grain, "segment_by": list(self.segment_by), "start": self.start.isoformat(),
                "end": self.end.isoformat(), "recomputed": self.recomputed, "reused": self.reused,
                "data_end": self.data_end.isoformat() if self.data_end else None,
                "refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None, "stale": self.stale,
                "points": [p.to_dict() for p in self.points]}

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.points], columns=["period_start", "segment", "value", "partial"])


# -- calendar ------------------------------------------------------------------------------
def _floor(d: datetime, grain: str) -> datetime:
    d = datetime.combine(d.date(), datetime.min.time())
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    if grain == "quarter":
        return d.replace(day=1, month=3 * ((d.month - 1) // 3) + 1)
    return d


def period_end(p: datetime, grain: str) -> datetime:
    if grain == "day":
        return p + timedelta(days=1)
    if grain == "week":
        return p + timedelta(days=7)
    months = 1 if grain == "month" else 3
    y, m = divmod(p.month - 1 + months, 12)
    return p.replace(year=p.year + y, month=m + 1)


def period_starts(start: datetime, end: datetime, grain: str) -> list[datetime]:
    """Aligned starts (weeks on Monday) of every period meeting ``[start, end)``."""
    if grain not in GRAINS:
        raise OptionError(_("grain: '{g}' is not one of {all}.", g=grain, all=", ".join(GRAINS)))
    out, p = [], _floor(start, grain)
    while p < end:
        out.append(p)
        p = period_end(p, grain)
    return out


def segment_label(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


# -- computation in the engine ---------------------------------------------------------------
def _segments(ws: Any, segment_by: Sequence[str], missing: str = "") -> list[dict[str, str]]:
    """The segments of the leads; a missing value reads as ``missing`` (catalogue KPIs: "unknown", as the audit)."""
    if not segment_by:
        return [{}]
    leads = ws.table("leads")
    df = leads.select(*[leads[c].cast("string").fill_null(missing).name(c) for c in segment_by]).distinct().execute()
    return [dict(zip(segment_by, map(str, row), strict=True)) for row in sorted(df.itertuples(index=False, name=None))]


def _custom(ws: Any, e: Entry, periods: list[datetime], grain: str, segment_by: tuple[str, ...]) -> dict[tuple[datetime, str], float | None]:
    f = fml.parse(e.formula or "")
    if segment_by and not f.segmentable:
        raise OptionError(_("KPI '{key}' reads a table without lead_id: it cannot be split by segment.", key=e.key))
    lo, hi = periods[0], period_end(periods[-1], grain)
    per_term: dict[fml.Term, dict[tuple[datetime, str], float]] = {}
    for term in f.terms:
        df = fml.aggregate_frame(ws, term, lo, hi, grain, segment_by)
        per_term[term] = {(_floor(r["period"].to_pydatetime(), grain), segment_label({c: str(r[f"seg_{c}"]) for c in segment_by})): r["value"]
                          for _i, r in df.iterrows()}
    sources = fml.term_sources(f)
    out: dict[tuple[datetime, str], float | None] = {}
    for p, seg in product(periods, [segment_label(x) for x in _segments(ws, segment_by)]):
        vals = {t: per_term[t].get((p, seg), 0.0 if t.func in _ADDITIVE else None) for t in f.terms}
        vals = {t: (None if v is None or v != v else float(v)) for t, v in vals.items()}
        out[(p, seg)] = fml.evaluate(f.tree, vals, sources)
    return out


def _catalogue(ws: Any, e: Entry, periods: list[datetime], grain: str, segment_by: tuple[str, ...]) -> dict[tuple[datetime, str], float | None]:
    from levier.analysis.kpis import compute_kpi

    segments = _segments(ws, segment_by, "unknown")  # lead facts and funnel read a missing value as "unknown"
    got = grouped.catalogue_periods(ws, e.key, periods, grain, segments)
    if got is not None:  # one grouped query for every period and segment (ADR 0150)
        return {(p, segment_label(segments[i])): v for (p, i), v in got.items()}
    out: dict[tuple[datetime, str], float | None] = {}
    for seg in segments:
        for p in periods:
            try:
                out[(p, segment_label(seg))] = compute_kpi(ws, e.key, p, period_end(p, grain), seg or None).value
            except (TypeError, ZeroDivisionError):  # an empty period trips some catalogue computations: no value
                out[(p, segment_label(seg))] = None
    return out


def compute_periods(ws: Any, e: Entry, periods: list[datetime], grain: str, segment_by: tuple[str, ...] = ()) -> dict[tuple[datetime, str], float | None]:
    """The KPI over each period (and segment), computed now (nothing stored)."""
    if not periods:
        return {}
    if not e.computable:
        raise OptionError(_("KPI '{key}' is not measured over a period alone; read it in the audit or the attribution.", key=e.key))
    return (_custom if e.source == "custom" else _catalogue)(ws, e, periods, grain, segment_by)


# -- watermarks and storage ------------------------------------------------------------------
def _one_query(parts: list[Any]) -> list[dict[str, Any]]:
    """Rows of several one-row aggregates (``name``, ``v``) fetched in one engine query."""
    import ibis

    if not parts:
        return []
    return (parts[0] if len(parts) == 1 else ibis.union(*parts)).execute().to_dict("records")


def _moment(v: Any) -> datetime | None:
    if v is None or v != v:
        return None
    return v.to_pydatetime() if hasattr(v, "to_pydatetime") else v


@contextmanager
def refresh_scope() -> Iterator[None]:
    """One refresh of many series: inside the block what they share is read once (:mod:`levier.kpi._scope`).

    A refresh (``levier kpi refresh``, an alerts check, a dashboard) refreshes one series per KPI; each compares
    the facts with its watermark. The cleaning journal, each table's last import batch, the data's start and end
    and the first time of the rows new since a watermark are read at the first series that asks; the
    lead-cohort KPIs share their sufficient statistics per creation day (:mod:`levier.kpi.grouped`). Read
    once at the first series, a watermark can only be older than the facts a later series computes from, so the
    next refresh recomputes those periods again: never a stale point kept. Nested scopes share the outer one.
    """
    with _scope.scope():
        yield


def _memo(ws: Any, names: Sequence[str], read: Callable[[list[str]], dict[str, Any]]) -> dict[str, Any]:
    """``read(names)`` (a value per name), each name read at most once per :func:`refresh_scope`."""
    cache = _scope.store()
    if cache is None:
        return read(list(names))
    where = str(ws.path)
    missing = [n for n in names if (where, n) not in cache]
    if missing:
        cache.update({(where, n): v for n, v in read(missing).items()})
    return {n: cache[(where, n)] for n in names}


def _read_batches(ws: Any, tables: list[str]) -> dict[str, int]:
    import ibis

    parts = []
    for name in tables:
        t = ws.facts.raw(name)
        parts.append(t.agg(name=ibis.literal(name), v=t._batch.max().cast("int64")))
    got = {r["name"]: r["v"] for r in _one_query(parts)}
    return {n: -1 if got.get(n) is None or got[n] != got[n] else int(got[n]) for n in tables}


def _batches(ws: Any, tables: Sequence[str]) -> dict[str, int]:
    """The last import batch of each table (-1: none)."""
    return _memo(ws, tables, lambda names: _read_batches(ws, names))


def _cleaning(ws: Any) -> int:
    """The latest cleaning run (``levier clean``, undo or reset; 0 = never): exclusions change only with one."""
    from levier.data.journal import next_run_id

    return _memo(ws, ("_journal",), lambda _names: {"_journal": next_run_id(ws) - 1})["_journal"]


def _read_dirty(ws: Any, since: list[str]) -> dict[str, datetime | None]:
    """Per ``"dirty:table>batch"``: the earliest time of the rows of ``table`` imported after ``batch`` (one query)."""
    import ibis

    parts = []
    for item in since:
        name, batch = item[6:].rsplit(">", 1)
        raw = ws.facts.raw(name)
        fresh = raw.filter(raw._batch > int(batch))
        cols = [c.name for c in TABLES[name].columns if c.is_time and c.name in ("created_at", "at", "date", "closed_at", "assigned_at")]
        parts += [fresh.agg(name=ibis.literal(item), v=fresh[col].min().cast("timestamp")) for col in cols]
    firsts: dict[str, datetime | None] = dict.fromkeys(since)
    for r in _one_query(parts):
        if (t := _moment(r["v"])) is not None and (firsts[r["name"]] is None or t < firsts[r["name"]]):  # type: ignore[operator]
            firsts[r["name"]] = t
    return firsts


def _dirty_from(ws: Any, old: dict[str, int], new: dict[str, int]) -> datetime | None:
    """The earliest time of a row imported after the watermark (None when nothing is new)."""
    since = [f"dirty:{name}>{old.get(name, -1)}" for name, batch in new.items() if batch > old.get(name, -1)]
    got = _memo(ws, since, lambda items: _read_dirty(ws, items))
    times = [t for t in got.values() if t is not None]
    return min(times) if times else None


def _read_ends(ws: Any, names: list[str]) -> dict[str, datetime | None]:
    """Per ``"end:table"``: the latest time of the table's cleaned rows (a date column: the day after)."""
    import ibis

    parts, dated = [], set()
    for item in names:
        name = item[4:]
        col = TABLES[name].time_column
        t = ws.table(name)
        if t[col].type().is_date():
            dated.add(item)
        parts.append(t.agg(name=ibis.literal(item), v=t[col].max().cast("timestamp")))
    ends: dict[str, datetime | None] = dict.fromkeys(names)
    for r in _one_query(parts):
        if (v := _moment(r["v"])) is not None:
            ends[r["name"]] = v + timedelta(days=1) if r["name"] in dated else v
    return ends


def _data_end(ws: Any, tables: Sequence[str]) -> datetime | None:
    """The end of the data the KPI reads: the latest time (a date column: the day after)."""
    names = [f"end:{name}" for name in tables if TABLES[name].time_column]
    ends = [v for v in _memo(ws, names, lambda items: _read_ends(ws, items)).values() if v is not None]
    return max(ends) if ends else None


def _series_key(e: Entry, grain: str, segment_by: tuple[str, ...], start: datetime) -> str:
    extra = hashlib.sha1((e.formula or "").encode()).hexdigest()[:8] if e.formula else "catalogue"
    return f"{e.key}|{grain}|{','.join(segment_by)}|{start.date().isoformat()}|{extra}"


def _plan(ws: Any, s: Session, key: str, grain: str, start: date | datetime | None, end: date | datetime | None,
          segment_by: Sequence[str]) -> tuple[Entry, tuple[str, ...], tuple[str, ...], datetime | None, datetime, datetime, list[datetime], str]:
    e = get_kpi(s, key)
    seg_by = tuple(segment_by)
    tables = e.tables or ("leads",)
    data_end = _data_end(ws, tables)
    hi = _as_dt(end) if end else (data_end or datetime.now())
    lo = _as_dt(start) if start else _floor(max(_data_start(ws), hi - DEFAULT_SPAN[grain]), grain)
    periods = period_starts(lo, hi, grain)
    return e, seg_by, tables, data_end, lo, hi, periods, _series_key(e, grain, seg_by, lo)


def _points(s: Session, skey: str, periods: list[datetime], grain: str, data_end: datetime | None) -> tuple[Point, ...]:
    pts = s.scalars(sa.select(KpiPoint).where(KpiPoint.series_key == skey, KpiPoint.period_start.in_(periods))
                    .order_by(KpiPoint.segment, KpiPoint.period_start))
    return tuple(Point(p.period_start, p.segment, p.value, bool(data_end and period_end(p.period_start, grain) > data_end)) for p in pts)


def series(ws: Any, s: Session, key: str, grain: str = "week", start: date | datetime | None = None, end: date | datetime | None = None,
           segment_by: Sequence[str] = (), *, full: bool = False) -> Series:
    """The series of ``key``, refreshed and stored: only new or changed periods are recomputed.

    ``full=True`` recomputes every period (and replaces the stored points). This writes to the
    loop store; :func:`stored` reads without computing or writing.
    """
    e, seg_by, tables, data_end, lo, hi, periods, skey = _plan(ws, s, key, grain, start, end, segment_by)
    state = s.scalar(sa.select(KpiSeriesState).where(KpiSeriesState.series_key == skey))
    batches, cleaning = _batches(ws, tables), _cleaning(ws)
    stored_pts = {(p.period_start, p.segment): p for p in s.scalars(sa.select(KpiPoint).where(KpiPoint.series_key == skey))}
    have = {p for p, _seg in stored_pts}
    if full or state is None or state.watermark.get("cleaning") != cleaning:  # a cleaning can change any period
        todo = periods
    else:
        dirty = _dirty_from(ws, state.watermark.get("batches", {}), batches)
        cut = dirty - timedelta(days=e.settle_days) if dirty else None
        todo = [p for p in periods if p not in have or (cut is not None and period_end(p, grain) > cut)]
    values = compute_periods(ws, e, todo, grain, seg_by)
    _store(s, skey, todo, values, stored_pts)
    if state is None:
        state = KpiSeriesState(series_key=skey, watermark={})
        s.add(state)
    state.watermark = {"batches": batches, "cleaning": cleaning, "data_end": data_end.isoformat() if data_end else None}
    state.updated_at = utcnow()
    s.flush()
    return Series(key, grain, seg_by, lo, period_end(periods[-1], grain) if periods else hi, _points(s, skey, periods, grain, data_end),
                  len(todo), len(periods) - len(todo), data_end, state.updated_at, False)


def stored(ws: Any, s: Session, key: str, grain: str = "week", start: date | datetime | None = None, end: date | datetime | None = None,
           segment_by: Sequence[str] = ()) -> Series:
    """The stored series of ``key`` as last refreshed: nothing is computed or written.

    ``refreshed_at`` says when it was refreshed (None: never; refresh it with :func:`series`,
    ``POST /api/v1/kpi/{key}/series/refresh`` or ``levier kpi refresh``) and ``stale`` whether
    facts were imported or the workspace cleaned (``levier clean``, undo, reset) since, or the stored
    series covers other dates than those asked for.
    """
    e, seg_by, tables, data_end, lo, hi, periods, skey = _plan(ws, s, key, grain, start, end, segment_by)
    state = s.scalar(sa.select(KpiSeriesState).where(KpiSeriesState.series_key == skey))
    exact = state is not None
    if state is None:  # the latest refresh of the same KPI, grain and split (the default start moves with the data)
        head, tail = skey.split("|")[:3], skey.rsplit("|", 1)[1]
        prefix = "|".join(head) + "|"
        rows = s.scalars(sa.select(KpiSeriesState).where(KpiSeriesState.series_key.startswith(prefix, autoescape=True))
                         .order_by(KpiSeriesState.updated_at.desc()))
        state = next((r for r in rows if r.series_key.rsplit("|", 1)[1] == tail), None)
    end_ = period_end(periods[-1], grain) if periods else hi
    if state is None:
        return Series(key, grain, seg_by, lo, end_, (), 0, 0, data_end, None, True)
    stale = not exact or state.watermark.get("batches", {}) != _batches(ws, tables) or state.watermark.get("cleaning") != _cleaning(ws)
    return Series(key, grain, seg_by, lo, end_, _points(s, state.series_key, periods, grain, data_end), 0, len(periods), data_end,
                  state.updated_at, stale)


def _store(s: Session, skey: str, todo: list[datetime], values: dict[tuple[datetime, str], float | None], stored: dict[tuple[datetime, str], Any]) -> None:
    if todo:
        s.execute(sa.delete(KpiPoint).where(KpiPoint.series_key == skey, KpiPoint.period_start.in_(todo)))
    now = utcnow()
    s.add_all([KpiPoint(series_key=skey, period_start=p, segment=seg, value=v, computed_at=now) for (p, seg), v in values.items()])
    s.flush()


def _read_start(ws: Any) -> datetime | None:
    v = ws.table("leads").created_at.min().execute()
    return _moment(v)


def _data_start(ws: Any) -> datetime:
    v = _memo(ws, ("start:leads",), lambda _names: {"start:leads": _read_start(ws)})["start:leads"]
    if v is None:
        raise OptionError(_("No leads yet: give --start and --end, or import data first."))
    return v


def _as_dt(d: date | datetime) -> datetime:
    return d if isinstance(d, datetime) else datetime.combine(d, datetime.min.time())
