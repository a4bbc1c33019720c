"""Engine-side detection for the cleaning rules that need statistics: rep-day and lead outliers
(median/MAD on count distributions pulled as histograms) and missing funnel events.

Private module of :mod:`levier.data.clean`; the method is in
``docs/decisions/0030-outlier-classification.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.data._checks import EXAMPLES, as_json_value

__all__ = ["RobustCut", "robust_cut", "RepDays", "rep_days", "LeadOutliers", "lead_outliers",
           "missing_opportunity", "stage_skipped", "MAD_SCALE", "RISK_OUTCOMES", "CONVERTED_STAGES"]

#: MAD × 1.4826 estimates the standard deviation of a normal distribution.
MAD_SCALE = 1.4826
RISK_OUTCOMES = ("complaint", "unsubscribed")
CONVERTED_STAGES = ("opportunity", "won")


@dataclass(frozen=True)
class RobustCut:
    """Median, scaled MAD (floored at 1) and the smallest count that is an outlier."""

    median: float
    scale: float
    cut: int


def _weighted_median(values: list[float], weights: list[int]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(weights)
    lo_target, hi_target = (total - 1) // 2, total // 2  # 0-based ranks of the middle element(s)
    out, rank = [], 0
    for v, w in pairs:
        if rank <= lo_target < rank + w:
            out.append(v)
        if rank <= hi_target < rank + w:
            out.append(v)
        rank += w
    return (out[0] + out[-1]) / 2


def robust_cut(hist: pd.DataFrame, z: float, min_excess: float) -> RobustCut | None:
    """From a histogram (columns ``n`` value, ``f`` frequency): outliers are counts above
    ``median + z × max(1.4826 × MAD, 1)`` and at least ``median + min_excess``."""
    if hist.empty:
        return None
    values = [float(v) for v in hist["n"]]
    weights = [int(f) for f in hist["f"]]
    median = _weighted_median(values, weights)
    mad = _weighted_median([abs(v - median) for v in values], weights)
    scale = max(MAD_SCALE * mad, 1.0)
    cut = max(math.floor(median + z * scale) + 1, math.ceil(median + min_excess))
    return RobustCut(median, round(scale, 6), int(cut))


def _histogram(per: ir.Table) -> pd.DataFrame:
    return per.group_by("n").aggregate(f=per.count()).execute()


def _outbound(touches: ir.Table) -> ir.Table:
    return touches.filter(ibis.coalesce(touches.direction, "out") == "out")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: as_json_value(v) for k, v in row.items()} for row in df.to_dict("records")]


# -- rep-days -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepDays:
    median: float
    scale: float
    cut: int
    errors: list[dict[str, Any]]
    exceptional: list[dict[str, Any]]
    error_rows: ir.Table


def rep_days(touches: ir.Table, leads: ir.Table, options: Any) -> RepDays | None:
    """Outbound touches per owner × UTC day; outliers above the robust cut; ``error`` when at
    least ``options.max_touches_per_rep_day``."""
    out = _outbound(touches).filter(touches.owner.notnull() & touches.at.notnull())
    out = out.mutate(_day=out.at.date())
    per = out.group_by(owner=out.owner, day=out._day).aggregate(n=out.count())
    cut = robust_cut(_histogram(per), options.rep_day_z, options.min_excess_touches)
    if cut is None:
        return None
    top = per.filter(per.n >= cut.cut).order_by([ibis.desc("n"), "owner", "day"]).execute()
    rows = [{"owner": as_json_value(o), "day": _as_day(d), "touches": int(n)}
            for o, d, n in zip(top["owner"], top["day"], top["n"], strict=True)]
    errors = [r for r in rows if r["touches"] >= options.max_touches_per_rep_day]
    exceptional = [r for r in rows if r["touches"] < options.max_touches_per_rep_day]
    bad = per.filter(per.n >= options.max_touches_per_rep_day).select(_o=per.owner, _d=per.day)
    error_rows = _bulk_touches(touches, leads, out.semi_join(bad, [out.owner == bad._o, out._day == bad._d]), bad,
                               options.cadence_context_days, options.cadence_window_days)
    return RepDays(cut.median, cut.scale, cut.cut, errors, exceptional, error_rows)


def _bulk_touches(touches: ir.Table, leads: ir.Table, day_rows: ir.Table, bad: ir.Table, days: int,
                  window_days: int) -> ir.Table:
    """The touches of error rep-days that fit no ongoing cadence: their lead was not created in
    the ``window_days`` before, and has no other touch (outside every error rep-day) within
    ``days`` days. Real work logged on a bulk day is kept."""
    t = touches.filter(touches.lead_id.notnull() & touches.at.notnull())
    t = t.mutate(_day=t.at.date())
    ctx = t.anti_join(bad, [t.owner == bad._o, t._day == bad._d])
    ctx = ctx.select(_l=ctx.lead_id, _s=ctx.at.epoch_seconds())
    rows = day_rows.mutate(_s0=day_rows.at.epoch_seconds())
    near = rows.join(ctx, [rows.lead_id == ctx._l, (rows._s0 - ctx._s).abs() <= days * 86400])
    new = leads.select(_nl=leads.lead_id, _c=leads.created_at.epoch_seconds())
    young = rows.join(new, [rows.lead_id == new._nl, rows._s0 >= new._c, rows._s0 - new._c <= window_days * 86400])
    kept = near.select(_k=near._row_id).union(young.select(_k=young._row_id)).distinct()
    return day_rows.anti_join(kept, day_rows._row_id == kept._k)


def _as_day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


# -- leads ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadOutliers:
    params: dict[str, Any]
    classes: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)


def _high_value(deals: ir.Table, q: float) -> float | None:
    """Exact ``q`` quantile (nearest rank) of the positive deal amounts."""
    pos = deals.filter(deals.amount > 0)
    n = int(pos.count().execute())
    if n == 0:
        return None
    k = max(math.ceil(q * n) - 1, 0)
    # an ORDER BY with an offset, not a row_number window: the engine's sort spills to disk
    value = pos.order_by([pos.amount, pos.deal_id]).limit(1, offset=k).select("amount").to_pyarrow()
    return float(value.column(0)[0].as_py())


def lead_outliers(touches: ir.Table, leads: ir.Table, stages: ir.Table, deals: ir.Table, options: Any) -> LeadOutliers | None:
    """Leads with unusually many outbound touches, classified error / risk / exceptional / opportunity."""
    out = _outbound(touches).filter(touches.lead_id.notnull())
    per = out.group_by("lead_id").aggregate(n=out.count(), _bad=out.outcome.isin(list(RISK_OUTCOMES)).any())
    cut = robust_cut(_histogram(per), options.lead_z, options.min_excess_touches)
    if cut is None:
        return None
    hv = _high_value(deals, options.high_value_quantile)
    params = {"median": cut.median, "cut": cut.cut, "z": options.lead_z,
              "max_per_lead": options.max_touches_per_lead, "high_value": hv if hv is not None else "-"}
    outl = per.filter(per.n >= cut.cut)
    info = leads.group_by(_l=leads.lead_id).aggregate(
        _vip=leads.vip.any(), _lit=leads.litigation.any(), _dnc=leads.do_not_contact.any(),
        _opt=leads.opted_out_at.notnull().any())
    won = stages.filter(stages.stage.isin(list(CONVERTED_STAGES))).select(_c=stages.lead_id).union(
        deals.filter(deals.won == True).select(_c=deals.lead_id)).distinct()  # noqa: E712
    high = deals.filter(deals.amount >= (hv if hv is not None else float("inf"))).select(_h=deals.lead_id).distinct()
    j = outl.left_join(info, outl.lead_id == info._l)
    j = j.mutate(_conv=j.lead_id.isin(won._c), _hv=j.lead_id.isin(high._h))
    risk = j._bad.fill_null(False) | j._opt.fill_null(False) | j._lit.fill_null(False) | j._dnc.fill_null(False)
    category = ibis.cases(
        (j.n >= options.max_touches_per_lead, "error"),
        (risk, "risk"),
        (j._vip.fill_null(False) | j._hv.fill_null(False), "exceptional"),
        (j._conv.fill_null(False), "opportunity"),
        else_="risk",
    )
    j = j.select(lead_id=j.lead_id, touches=j.n, category=category, complaint_or_unsubscribe=j._bad.fill_null(False),
                 opted_out=j._opt.fill_null(False), vip=j._vip.fill_null(False), converted=j._conv.fill_null(False))
    counts = j.group_by("category").aggregate(k=j.count()).execute()
    classes: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for cat, k in zip(counts["category"], counts["k"], strict=True):
        ex = j.filter(j.category == cat).order_by([ibis.desc("touches"), "lead_id"]).limit(EXAMPLES).execute()
        classes[str(cat)] = (int(k), _records(ex.drop(columns=["category"])))
    return LeadOutliers(params, classes)


# -- missing events -------------------------------------------------------------------------
def missing_opportunity(stages: ir.Table, deals: ir.Table, order: tuple[str, ...]) -> tuple[int, list[dict[str, Any]]]:
    """Leads won (a ``won`` stage or a won deal) without an ``opportunity`` stage."""
    if "opportunity" not in order:
        return 0, []
    won = stages.filter(stages.stage == "won").select(lead_id=stages.lead_id).union(
        deals.filter((deals.won == True) & deals.lead_id.notnull()).select(lead_id=deals.lead_id)).distinct()  # noqa: E712
    opp = stages.filter(stages.stage == "opportunity").select(_o=stages.lead_id).distinct()
    missing = won.anti_join(opp, won.lead_id == opp._o)
    n = int(missing.count().execute())
    return n, _records(missing.order_by("lead_id").limit(EXAMPLES).execute()) if n else []


def stage_skipped(stages: ir.Table, order: tuple[str, ...]) -> tuple[int, list[dict[str, Any]], str]:
    """Leads with a gap between the first and last progression stage they reached (``lost``
    can follow any stage and is left out)."""
    progression = [s for s in order if s != "lost"]
    label = " → ".join(progression)
    if len(progression) < 3:
        return 0, [], label
    idx = ibis.cases(*[(stages.stage == s, i) for i, s in enumerate(progression)], else_=None)
    t = stages.mutate(_i=idx).filter(lambda t: t._i.notnull())
    per = t.group_by("lead_id").aggregate(lo=t._i.min(), hi=t._i.max(), k=t._i.nunique())
    gaps = per.filter(per.hi - per.lo + 1 > per.k)
    n = int(gaps.count().execute())
    if not n:
        return 0, [], label
    ex = gaps.order_by("lead_id").limit(EXAMPLES).execute()
    examples = [{"lead_id": r["lead_id"], "first": progression[int(r["lo"])], "last": progression[int(r["hi"])],
                 "stages_reached": int(r["k"])} for r in ex.to_dict("records")]
    return n, examples, label
