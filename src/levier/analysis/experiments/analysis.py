"""Sufficient statistics computed IN THE ENGINE from assignments + facts (Ibis).

One per-unit table is built from the experiment's assignments (deduplicated: the first
assignment of each unit counts) with one aggregated join per source table (touches, stage
events, deals, web events), each computing every metric's per-unit value with conditional
sums. It is then reduced by arm (and by arm × dimension value) to n, Σ, Σ², covariate sums and
cross-products. Only those aggregates reach Python. Metric windows start at ``assigned_at``.

The randomisation unit (:mod:`.units`) says how facts reach a unit: a lead's own rows; an
account's rows of all its leads (deals also by their ``account_id``); a visitor's web events by
``anonymous_id`` and the rows of the leads stitched to it. ``per: lead`` metrics of account
units are ratio metrics (Σ numerator / Σ leads per arm, delta method: cluster-correct).

On DuckDB, above :data:`UNIT_CELLS` per-unit values (units × value columns), the units are cut
into hash parts of ``unit_id`` (:mod:`levier.data.parts`): each part's per-unit table is built,
held and reduced on its own, and the per-part sums are added (they are additive over units).
Caps at a quantile are then taken over every unit first, in one narrow pass (decision 0235).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from levier.analysis.experiments.data import CellKey, ExperimentData
from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
)
from levier.analysis.experiments.units import (
    check_unit,
    experiment_units,
    tag_prefix,
    unit_dimensions,
    unit_leads,
)
from levier.data.parts import Part, add_frames, count_for, in_part, parts
from levier.errors import AnalysisError
from levier.i18n import gettext as _

__all__ = ["unit_table", "aggregate", "collect_statistics", "unit_part_count", "PRE_DAYS", "UNIT_CELLS"]

PRE_DAYS = 30
#: per-unit values (units × value columns) held at once per hash part on DuckDB (decision 0235):
#: 1M units × 67 values (the 10M-touch benchmark) run in one part within a 1 GB cap at the same CPU
#: time as within 2 GB, and 3.3× slower within 500 MB (spilling): ≈ 67M values per GB, with a margin
UNIT_CELLS = 120_000_000
#: the tables a lead unit's rows are read from, by ``lead_id`` (cut to the part before their joins)
_LEAD_KEYED = ("touches", "stage_events", "deals", "web_events", "leads")
NONE_VALUE = "(none)"
_TOUCH_KINDS = ("count", "any", "ratio")
_WEB_KINDS = ("web", "web_count")


def _window(t: ir.Table, m: MetricSpec, col: str = "at") -> ir.BooleanValue:
    return (t[col] >= t.t0) & (t[col] < t.t0 + ibis.interval(days=m.window_days))


def _touch_filter(t: ir.Table, m: MetricSpec) -> ir.BooleanValue:
    cond = _window(t, m)
    if m.direction_filter != "any":
        cond = cond & (t.direction == m.direction_filter)
    return cond


def _leads_with(t: ir.Table, hit: ir.BooleanValue) -> ir.Value:
    """How many distinct leads of the unit have a row matching ``hit`` (``per: lead`` numerators)."""
    return t.lead_id.nunique(where=hit)


def _touch_aggregates(t: ir.Table, metrics: Sequence[tuple[int, MetricSpec]], unit: str) -> dict[str, ir.Value]:
    aggs: dict[str, ir.Value] = {}
    for i, m in metrics:
        base = _touch_filter(t, m)
        if m.kind in _TOUCH_KINDS:
            hit = base & t.outcome.isin(list(m.outcomes)) if m.outcomes else base
            per_lead = m.kind == "any" and m.is_ratio(unit)
            aggs[f"v{i}"] = _leads_with(t, hit) if per_lead else t.count(where=hit)
        if m.kind == "ratio":
            aggs[f"d{i}"] = t.count(where=base)
        if m.covariate == "pre_touches":
            pre = (t.at < t.t0) & (t.at >= t.t0 - ibis.interval(days=PRE_DAYS))
            aggs[f"x{i}"] = t.count(where=pre)
    return aggs


def _stage_aggregates(t: ir.Table, metrics: Sequence[tuple[int, MetricSpec]], unit: str) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for i, m in metrics:
        hit = (t.stage == m.stage) & _window(t, m)
        out[f"v{i}"] = _leads_with(t, hit) if m.is_ratio(unit) else ibis.ifelse(hit, 1, 0).max()
    return out


def _web_aggregates(t: ir.Table, metrics: Sequence[tuple[int, MetricSpec]], unit: str) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for i, m in metrics:
        hit = _window(t, m) & t.type.isin(list(m.outcomes))
        out[f"v{i}"] = _leads_with(t, hit) if m.kind == "web" and m.is_ratio(unit) else t.count(where=hit)
    return out


def _deals(tables: dict[str, ir.Table], units: ir.Table, members: ir.Table, unit: str) -> ir.Table:
    """``unit_id, t0, closed_at, won, amount``: the deals of each unit (accounts: also by account_id)."""
    d = tables["deals"]
    if unit != "account":
        lk = members.select(_lead=members.lead_id, unit_id=members.unit_id, t0=members.t0)
        dj = d.join(lk, d.lead_id == lk._lead)
        return dj.select("unit_id", "t0", "closed_at", "won", "amount")
    leads = tables["leads"].select(_lid=tables["leads"].lead_id, _acc=tables["leads"].account_id)
    dl = d.left_join(leads, d.lead_id == leads._lid)
    dl = dl.select(account=ibis.coalesce(dl.account_id, dl._acc), closed_at=dl.closed_at, won=dl.won, amount=dl.amount)
    u = units.select(unit_id=units.unit_id, t0=units.t0)
    dj = u.join(dl, u.unit_id == dl.account)  # the chain on the left: its computed key cannot be dereferenced
    return dj.select("unit_id", "t0", "closed_at", "won", "amount")


def _web(tables: dict[str, ir.Table], key: str, units: ir.Table, members: ir.Table, unit: str) -> ir.Table:
    """``unit_id, lead_id, t0, at, type``: web events of each unit, untagged or tagged with ``key``."""
    w = tables["web_events"]
    w = w.filter(w.variant.isnull() | w.variant.startswith(tag_prefix(key)))
    if unit == "visitor":
        u = units.select(_uid=units.unit_id, t0=units.t0)
        wj = w.join(u, w.anonymous_id == u._uid)
        return wj.select(unit_id=wj._uid, lead_id=wj.lead_id, t0=wj.t0, at=wj.at, type=wj.type)
    lk = members.select(_lead=members.lead_id, unit_id=members.unit_id, t0=members.t0)
    wj = w.join(lk, w.lead_id == lk._lead)
    return wj.select(unit_id=wj.unit_id, lead_id=wj._lead, t0=wj.t0, at=wj.at, type=wj.type)


def _lead_counts(members: ir.Table, metrics: Sequence[tuple[int, MetricSpec]]) -> ir.Table:
    """Per unit: its leads created before the end of each ``per: lead`` metric's window (denominators)."""
    aggs: dict[str, ir.Value] = {
        f"d{i}": ibis.ifelse(members.created_at < members.t0 + ibis.interval(days=m.window_days), 1, 0).sum()
        for i, m in metrics}
    return members.group_by("unit_id").aggregate(**aggs)


def _source_joins(tables: dict[str, ir.Table], key: str, units: ir.Table, members: ir.Table,
                  metrics: Sequence[MetricSpec], unit: str) -> list[ir.Table]:
    indexed = list(enumerate(metrics))
    joins: list[ir.Table] = []
    touch = [(i, m) for i, m in indexed if m.kind in _TOUCH_KINDS or m.covariate == "pre_touches"]
    if touch:
        t = tables["touches"]
        lk = members.select(_lead=members.lead_id, unit_id=members.unit_id, t0=members.t0)
        tj = t.join(lk, t.lead_id == lk._lead).select(
            "unit_id", "t0", "at", "outcome", "direction", lead_id="_lead")
        joins.append(tj.group_by("unit_id").aggregate(**_touch_aggregates(tj, touch, unit)))
    conv = [(i, m) for i, m in indexed if m.kind == "conversion"]
    if conv:
        s = tables["stage_events"]
        lk = members.select(_lead=members.lead_id, unit_id=members.unit_id, t0=members.t0)
        sj = s.join(lk, s.lead_id == lk._lead).select("unit_id", "t0", "at", "stage", lead_id="_lead")
        joins.append(sj.group_by("unit_id").aggregate(**_stage_aggregates(sj, conv, unit)))
    rev = [(i, m) for i, m in indexed if m.kind == "revenue"]
    if rev:
        dj = _deals(tables, units, members, unit)
        joins.append(dj.group_by("unit_id").aggregate(
            **{f"v{i}": ibis.ifelse((dj.won == True) & _window(dj, m, "closed_at"), dj.amount, 0.0).sum()  # noqa: E712
               for i, m in rev}))
    web = [(i, m) for i, m in indexed if m.kind in _WEB_KINDS]
    if web:
        wj = _web(tables, key, units, members, unit)
        joins.append(wj.group_by("unit_id").aggregate(**_web_aggregates(wj, web, unit)))
    if unit == "account":
        score = [i for i, m in indexed if m.covariate == "score"]
        if score:  # mean score of the account's leads created before its assignment
            pre = members.created_at < members.t0
            joins.append(members.group_by("unit_id").aggregate(
                **{f"x{i}": members.score.mean(where=pre & members.score.notnull()) for i in score}))
        per_lead = [(i, m) for i, m in indexed if m.is_ratio(unit) and m.kind != "ratio"]
        if per_lead:
            joins.append(_lead_counts(members, per_lead))
    return joins


def unit_table(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec],
               dimensions: Sequence[str] = (), unit: str = "lead", part: Part | None = None) -> ir.Table:
    """One row per unit of ``key``: variant, dimensions and every metric's value (v*, d*, x*).

    ``part``: only the units of that hash part of ``unit_id``; lead units read their rows from
    the same part of ``lead_id`` (the same value), so no source is joined whole.
    """
    check_unit(unit, metrics, dimensions, tables["leads"].columns)
    if unit == "lead" and part is not None and part[1] > 1:
        tables = {n: in_part(t, "lead_id", part) if n in _LEAD_KEYED else t for n, t in tables.items()}
    units = experiment_units(tables, key, unit, part)
    members = unit_leads(tables, units, unit)
    base = units
    if unit == "lead":
        lv = tables["leads"].select(_lid=tables["leads"].lead_id, score=tables["leads"].score)
        base = base.left_join(lv, base.unit_id == lv._lid).drop("_lid")
    if dimensions:
        dims = unit_dimensions(tables, units, unit, dimensions).rename(_dk="unit_id")
        base = base.left_join(dims, base.unit_id == dims._dk).drop("_dk")
    for j, agg in enumerate(_source_joins(tables, key, units, members, metrics, unit)):
        agg = agg.rename(**{f"_k{j}": "unit_id"})
        base = base.left_join(agg, base.unit_id == agg[f"_k{j}"]).drop(f"_k{j}")
    return _values(base, metrics, dimensions, unit)


def _values(units: ir.Table, metrics: Sequence[MetricSpec], dimensions: Sequence[str], unit: str) -> ir.Table:
    cols: dict[str, Any] = {"unit_id": units.unit_id, "variant": units.variant}
    for dname in dimensions:
        cols[dname] = units[dname].fill_null(NONE_VALUE)
    for i, m in enumerate(metrics):
        v = units[f"v{i}"].fill_null(0).cast("float64")
        binary = m.kind in ("any", "web") and not m.is_ratio(unit)
        cols[f"v{i}"] = ibis.ifelse(v > 0, 1.0, 0.0) if binary else v
        if m.is_ratio(unit):
            cols[f"d{i}"] = units[f"d{i}"].fill_null(0).cast("float64")
        if m.covariate == "pre_touches" or (m.covariate == "score" and unit == "account"):
            cols[f"x{i}"] = units[f"x{i}"].fill_null(0).cast("float64")
        elif m.covariate == "score":
            cols[f"x{i}"] = units.score.fill_null(0).cast("float64")
    return units.select(**cols)


def _cap_limits(wide: ir.Table, metrics: Sequence[MetricSpec]) -> dict[str, Any]:
    """``v<i>`` → the ``cap_quantile`` of metric i over the units of ``wide`` (one query; {} if none)."""
    quantiles = {f"v{i}": wide[f"v{i}"].quantile(m.cap_quantile) for i, m in enumerate(metrics) if m.cap_quantile}
    return dict(wide.aggregate(**quantiles).execute().iloc[0]) if quantiles else {}


def _whole_cap_limits(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec], unit: str) -> dict[str, Any]:
    """The quantile caps over EVERY unit, from a narrow per-unit table of the capped metrics only."""
    capped = [(i, m) for i, m in enumerate(metrics) if m.cap_quantile and m.cap is None]
    if not capped:
        return {}
    narrow = unit_table(tables, key, [m for _i, m in capped], (), unit)
    limits = _cap_limits(narrow, [m for _i, m in capped])
    return {f"v{i}": limits[f"v{j}"] for j, (i, _m) in enumerate(capped)}


def _capped(wide: ir.Table, metrics: Sequence[MetricSpec], limits: dict[str, Any] | None = None) -> ir.Table:
    caps: dict[str, ir.Value] = {}
    limits = _cap_limits(wide, metrics) if limits is None else limits
    for i, m in enumerate(metrics):
        limit = m.cap if m.cap is not None else limits.get(f"v{i}")
        if limit is not None:
            caps[f"v{i}"] = ibis.least(wide[f"v{i}"], float(limit))
    return wide.mutate(**caps) if caps else wide


def _sums(wide: ir.Table, metrics: Sequence[MetricSpec], unit: str = "lead") -> dict[str, ir.Value]:
    aggs: dict[str, ir.Value] = {"n": wide.count()}
    for i, m in enumerate(metrics):
        v = wide[f"v{i}"]
        aggs[f"s{i}"], aggs[f"ss{i}"] = v.sum(), (v * v).sum()
        if m.is_ratio(unit):
            d = wide[f"d{i}"]
            aggs[f"ds{i}"], aggs[f"dss{i}"], aggs[f"md{i}"] = d.sum(), (d * d).sum(), (v * d).sum()
        if m.covariate:
            x = wide[f"x{i}"]
            aggs[f"xs{i}"], aggs[f"xss{i}"], aggs[f"xy{i}"] = x.sum(), (x * x).sum(), (x * v).sum()
    return aggs


def aggregate(wide: ir.Table, metrics: Sequence[MetricSpec], by: Sequence[str], unit: str = "lead") -> Any:
    """The sums of every metric grouped by ``by`` (a small pandas frame)."""
    return wide.group_by(list(by)).aggregate(**_sums(wide, metrics, unit)).execute()


def _statistic(m: MetricSpec, i: int, row: Any, unit: str = "lead") -> Statistic:
    n = float(row["n"])
    g = lambda k: float(row[f"{k}{i}"] or 0.0)  # noqa: E731
    if m.is_ratio(unit):
        return RatioStatistic(n, SampleMeanStatistic(n, g("s"), g("ss")), SampleMeanStatistic(n, g("ds"), g("dss")), g("md"))
    post: ProportionStatistic | SampleMeanStatistic
    post = ProportionStatistic(n, g("s")) if m.is_proportion and not m.covariate else SampleMeanStatistic(n, g("s"), g("ss"))
    if m.covariate:
        return RegressionAdjustedStatistic(n, post, SampleMeanStatistic(n, g("xs"), g("xss")), g("xy"), None)
    return post


def unit_part_count(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec], unit: str = "lead") -> int:
    """How many hash parts of the units the aggregation runs on: one per :data:`UNIT_CELLS` per-unit
    values (assignment rows of ``key`` × value columns) on DuckDB, always 1 elsewhere
    (:func:`levier.data.parts.count_for`)."""
    a = tables["assignments"]
    try:
        engine = ibis.get_backend(a).name
    except Exception:  # noqa: BLE001 - an expression without a backend: nothing to cut
        return 1
    width = sum(1 + int(m.is_ratio(unit)) + int(bool(m.covariate)) for m in metrics)
    return count_for(engine, a.filter(a.experiment_key == key).count() * width, UNIT_CELLS)


def collect_statistics(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec], arms: Sequence[str],
                       *, dimensions: Sequence[str] = (), roles: dict[str, str] | None = None,
                       progress: Any = None, unit: str = "lead") -> ExperimentData:
    """Every (metric, dimension, value, arm) statistic of experiment ``key``, computed in the engine.

    ``unit`` is the protocol's randomisation unit (``lead``, ``account`` or ``visitor``).
    """
    if not metrics:
        raise AnalysisError(_("No metric to analyse."))
    groups = [("", ["variant"])] + [(d, ["variant", d]) for d in dimensions]
    n = unit_part_count(tables, key, metrics, unit)
    if n <= 1:
        wide = _capped(unit_table(tables, key, metrics, dimensions, unit), metrics)
        frames = _frames(wide, metrics, groups, unit, _ticks(progress, 0, len(groups)))
    else:
        limits = _whole_cap_limits(tables, key, metrics, unit)
        per_part = [_frames(_capped(unit_table(tables, key, metrics, dimensions, unit, part), metrics, limits),
                            metrics, groups, unit, _ticks(progress, part[0] * len(groups), n * len(groups)))
                    for part in parts(n)]
        frames = [add_frames([f[g] for f in per_part], by) for g, (_d, by) in enumerate(groups)]
    cells, seen = _cells(frames, groups, metrics, unit)
    if not seen:
        raise AnalysisError(_("Experiment '{key}' has no assignments in this workspace.", key=key),
                            hint=_("Assign units first with `levier experiment assign {key}`, or import an assignments file.", key=key))
    unknown = sorted(seen - set(arms))
    all_arms = tuple(arms) + tuple(unknown)
    return ExperimentData(key=key, arms=all_arms, metrics=tuple(metrics), cells=cells, roles=dict(roles or {}),
                          unit=unit)


def _ticks(progress: Any, done: int, total: int) -> Callable[[int], None]:
    """``tick(step)`` → ``progress(done + step, total)`` (nothing without a progress callback)."""
    return (lambda step: progress(done + step, total)) if progress else (lambda step: None)


def _frames(wide: ir.Table, metrics: Sequence[MetricSpec], groups: Sequence[tuple[str, list[str]]], unit: str,
            tick: Callable[[int], None]) -> list[Any]:
    """The sums of ``wide`` for each grouping (the per-unit table held once for all of them)."""
    try:
        wide = wide.cache()
    except Exception:  # noqa: BLE001 - a backend without caching just recomputes
        pass
    frames = []
    try:
        for step, (_dim, by) in enumerate(groups):
            frames.append(aggregate(wide, metrics, by, unit))
            tick(step + 1)
    finally:
        release = getattr(wide, "release", None)
        if callable(release):
            try:
                release()
            except Exception:  # noqa: BLE001 - nothing cached
                pass
    return frames


def _cells(frames: Sequence[Any], groups: Sequence[tuple[str, list[str]]], metrics: Sequence[MetricSpec],
           unit: str) -> tuple[dict[CellKey, Statistic], set[str]]:
    cells: dict[CellKey, Statistic] = {}
    seen: set[str] = set()
    for frame, (dim, _by) in zip(frames, groups, strict=True):
        for row in frame.to_dict("records"):
            arm = str(row["variant"])
            seen.add(arm)
            value = str(row[dim]) if dim else ""
            for i, m in enumerate(metrics):
                cells[(m.name, dim, value, arm)] = _statistic(m, i, row, unit)
    return cells, seen
