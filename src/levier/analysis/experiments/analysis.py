"""Sufficient statistics computed IN THE ENGINE from assignments + facts (Ibis).

One per-unit table is built from the experiment's assignments joined to the leads (for
dimensions), with one aggregated join per source table (touches, stage events, deals), each
computing every metric's per-unit value with conditional sums. It is then reduced by arm
(and by arm × dimension value) to n, Σ, Σ², covariate sums and cross-products. Only those
aggregates reach Python. Units are leads; metric windows start at ``assigned_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from levier.errors import AnalysisError
from levier.i18n import gettext as _

__all__ = ["unit_table", "aggregate", "collect_statistics", "PRE_DAYS"]

PRE_DAYS = 30
NONE_VALUE = "(none)"


def _window(t: ir.Table, m: MetricSpec, col: str = "at") -> ir.BooleanValue:
    return (t[col] >= t.t0) & (t[col] < t.t0 + ibis.interval(days=m.window_days))


def _touch_filter(t: ir.Table, m: MetricSpec) -> ir.BooleanValue:
    cond = _window(t, m)
    if m.direction_filter != "any":
        cond = cond & (t.direction == m.direction_filter)
    return cond


def _touch_aggregates(t: ir.Table, metrics: Sequence[tuple[int, MetricSpec]]) -> dict[str, ir.Value]:
    aggs: dict[str, ir.Value] = {}
    for i, m in metrics:
        base = _touch_filter(t, m)
        if m.kind in ("count", "any", "ratio"):
            hit = base & t.outcome.isin(list(m.outcomes)) if m.outcomes else base
            aggs[f"v{i}"] = ibis.ifelse(hit, 1, 0).sum()
        if m.kind == "ratio":
            aggs[f"d{i}"] = ibis.ifelse(base, 1, 0).sum()
        if m.covariate == "pre_touches":
            pre = (t.at < t.t0) & (t.at >= t.t0 - ibis.interval(days=PRE_DAYS))
            aggs[f"x{i}"] = ibis.ifelse(pre, 1, 0).sum()
    return aggs


def unit_table(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec],
               dimensions: Sequence[str] = ()) -> ir.Table:
    """One row per assigned unit: variant, dimensions and every metric's value (v*, d*, x*)."""
    a = tables["assignments"]
    asg = a.filter(a.experiment_key == key).select(unit_id=a.unit_id, variant=a.variant, t0=a.assigned_at)
    leads = tables["leads"]
    lead_cols = {d: leads[d].cast("string") for d in dimensions}
    lv = leads.select(lead_id=leads.lead_id, score=leads.score, **lead_cols)
    units = asg.left_join(lv, asg.unit_id == lv.lead_id).select(
        "unit_id", "variant", "t0", "score", *dimensions)
    indexed = list(enumerate(metrics))
    joins: list[ir.Table] = []
    touch_metrics = [(i, m) for i, m in indexed if m.kind in ("count", "any", "ratio") or m.covariate == "pre_touches"]
    if touch_metrics:
        t = tables["touches"]
        tj = t.join(asg, t.lead_id == asg.unit_id).select("unit_id", "t0", "at", "outcome", "direction")
        joins.append(tj.group_by("unit_id").aggregate(**_touch_aggregates(tj, touch_metrics)))
    conv = [(i, m) for i, m in indexed if m.kind == "conversion"]
    if conv:
        s = tables["stage_events"]
        sj = s.join(asg, s.lead_id == asg.unit_id).select("unit_id", "t0", "at", "stage")
        joins.append(sj.group_by("unit_id").aggregate(
            **{f"v{i}": ibis.ifelse((sj.stage == m.stage) & _window(sj, m), 1, 0).max() for i, m in conv}))
    rev = [(i, m) for i, m in indexed if m.kind == "revenue"]
    if rev:
        d = tables["deals"]
        dj = d.join(asg, d.lead_id == asg.unit_id).select("unit_id", "t0", "closed_at", "won", "amount")
        joins.append(dj.group_by("unit_id").aggregate(
            **{f"v{i}": ibis.ifelse((dj.won == True) & _window(dj, m, "closed_at"), dj.amount, 0.0).sum()  # noqa: E712
               for i, m in rev}))
    for j, agg in enumerate(joins):
        agg = agg.rename(**{f"_k{j}": "unit_id"})
        units = units.left_join(agg, units.unit_id == agg[f"_k{j}"]).drop(f"_k{j}")
    cols: dict[str, Any] = {"unit_id": units.unit_id, "variant": units.variant}
    for dname in dimensions:
        cols[dname] = units[dname].fill_null(NONE_VALUE)
    for i, m in indexed:
        v = units[f"v{i}"].fill_null(0).cast("float64")
        cols[f"v{i}"] = ibis.ifelse(v > 0, 1.0, 0.0) if m.kind == "any" else v
        if m.kind == "ratio":
            cols[f"d{i}"] = units[f"d{i}"].fill_null(0).cast("float64")
        if m.covariate == "pre_touches":
            cols[f"x{i}"] = units[f"x{i}"].fill_null(0).cast("float64")
        elif m.covariate == "score":
            cols[f"x{i}"] = units.score.fill_null(0).cast("float64")
    return units.select(**cols)


def _capped(wide: ir.Table, metrics: Sequence[MetricSpec]) -> ir.Table:
    caps: dict[str, ir.Value] = {}
    quantiles = {f"v{i}": wide[f"v{i}"].quantile(m.cap_quantile) for i, m in enumerate(metrics) if m.cap_quantile}
    limits = dict(wide.aggregate(**quantiles).execute().iloc[0]) if quantiles else {}
    for i, m in enumerate(metrics):
        limit = m.cap if m.cap is not None else limits.get(f"v{i}")
        if limit is not None:
            caps[f"v{i}"] = ibis.least(wide[f"v{i}"], float(limit))
    return wide.mutate(**caps) if caps else wide


def _sums(wide: ir.Table, metrics: Sequence[MetricSpec]) -> dict[str, ir.Value]:
    aggs: dict[str, ir.Value] = {"n": wide.count()}
    for i, m in enumerate(metrics):
        v = wide[f"v{i}"]
        aggs[f"s{i}"], aggs[f"ss{i}"] = v.sum(), (v * v).sum()
        if m.kind == "ratio":
            d = wide[f"d{i}"]
            aggs[f"ds{i}"], aggs[f"dss{i}"], aggs[f"md{i}"] = d.sum(), (d * d).sum(), (v * d).sum()
        if m.covariate:
            x = wide[f"x{i}"]
            aggs[f"xs{i}"], aggs[f"xss{i}"], aggs[f"xy{i}"] = x.sum(), (x * x).sum(), (x * v).sum()
    return aggs


def aggregate(wide: ir.Table, metrics: Sequence[MetricSpec], by: Sequence[str]) -> Any:
    """The sums of every metric grouped by ``by`` (a small pandas frame)."""
    return wide.group_by(list(by)).aggregate(**_sums(wide, metrics)).execute()


def _statistic(m: MetricSpec, i: int, row: Any) -> Statistic:
    n = float(row["n"])
    g = lambda k: float(row[f"{k}{i}"] or 0.0)  # noqa: E731
    if m.kind == "ratio":
        return RatioStatistic(n, SampleMeanStatistic(n, g("s"), g("ss")), SampleMeanStatistic(n, g("ds"), g("dss")), g("md"))
    post: ProportionStatistic | SampleMeanStatistic
    post = ProportionStatistic(n, g("s")) if m.is_proportion and not m.covariate else SampleMeanStatistic(n, g("s"), g("ss"))
    if m.covariate:
        return RegressionAdjustedStatistic(n, post, SampleMeanStatistic(n, g("xs"), g("xss")), g("xy"), None)
    return post


def collect_statistics(tables: dict[str, ir.Table], key: str, metrics: Sequence[MetricSpec], arms: Sequence[str],
                       *, dimensions: Sequence[str] = (), roles: dict[str, str] | None = None,
                       progress: Any = None) -> ExperimentData:
    """Every (metric, dimension, value, arm) statistic of experiment ``key``, computed in the engine."""
    if not metrics:
        raise AnalysisError(_("No metric to analyse."))
    wide = _capped(unit_table(tables, key, metrics, dimensions), metrics)
    try:
        wide = wide.cache()
    except Exception:  # noqa: BLE001 - a backend without caching just recomputes
        pass
    try:
        cells, seen = _collect(wide, metrics, dimensions, progress)
    finally:
        release = getattr(wide, "release", None)
        if callable(release):
            try:
                release()
            except Exception:  # noqa: BLE001 - nothing cached
                pass
    if not seen:
        raise AnalysisError(_("Experiment '{key}' has no assignments in this workspace.", key=key),
                            hint=_("Assign units first with `levier experiment assign {key}`, or import an assignments file.", key=key))
    unknown = sorted(seen - set(arms))
    all_arms = tuple(arms) + tuple(unknown)
    return ExperimentData(key=key, arms=all_arms, metrics=tuple(metrics), cells=cells, roles=dict(roles or {}))


def _collect(wide: ir.Table, metrics: Sequence[MetricSpec], dimensions: Sequence[str],
             progress: Any) -> tuple[dict[CellKey, Statistic], set[str]]:
    cells: dict[CellKey, Statistic] = {}
    groups = [("", ["variant"])] + [(d, ["variant", d]) for d in dimensions]
    seen: set[str] = set()
    for step, (dim, by) in enumerate(groups):
        frame = aggregate(wide, metrics, by)
        for row in frame.to_dict("records"):
            arm = str(row["variant"])
            seen.add(arm)
            value = str(row[dim]) if dim else ""
            for i, m in enumerate(metrics):
                cells[(m.name, dim, value, arm)] = _statistic(m, i, row)
        if progress:
            progress(step + 1, len(groups))
    return cells, seen
