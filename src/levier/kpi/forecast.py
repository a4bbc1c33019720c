"""A simple, honest forecast of conversions (default: leads reaching ``won``) for the current
month or quarter, from stage conversion rates and cycle times (ADR 0116).

For each stage *s* (the first one entered at ``leads.created_at``), history gives
``p_s`` = share of the leads that reached *s* in the look-back window (and are at least
``maturity_days`` old) that reached the target within ``maturity_days``, and ``F_s`` = the
empirical distribution of the days it took them. An open lead whose latest stage is *s*,
reached *a* days ago, converts before the period end (*r* days away) with probability

    q = p_s · (F_s(a + r) − F_s(a)) / (1 − p_s · F_s(a))

New leads arrive as a Poisson process at the recent daily rate λ and convert with
``p_0 · F_0(remaining time)``. The forecast = conversions already in the period + Σ q +
expected new ones; the variance is Σ q(1 − q) (independent leads) + the Poisson part; the
interval is normal. Parameter uncertainty is not included (the coverage test measures what this
costs on simulated data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["StageHistory", "Forecast", "forecast_from_history", "forecast", "period_bounds"]


@dataclass(frozen=True)
class StageHistory:
    """Sufficient statistics of one stage: leads that reached it and the days-to-target of converters."""

    reached: int
    days_to_target: np.ndarray  # one value per converter (within maturity)
    weights: np.ndarray | None = None

    @property
    def p(self) -> float:
        w = self._w()
        return float(w.sum() / self.reached) if self.reached else 0.0

    def _w(self) -> np.ndarray:
        return self.weights if self.weights is not None else np.ones(len(self.days_to_target))

    def cdf(self, d: np.ndarray | float) -> np.ndarray:
        w = self._w()
        if not w.sum():
            return np.zeros_like(np.asarray(d, float))
        order = np.argsort(self.days_to_target)
        x, cw = self.days_to_target[order], np.cumsum(w[order]) / w.sum()
        idx = np.searchsorted(x, np.asarray(d, float), side="right")
        return np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)


@dataclass(frozen=True)
class Forecast:
    period_start: date
    period_end: date
    as_of: datetime
    achieved: int
    from_pipeline: float
    from_new_leads: float
    expected: float
    low: float
    high: float
    level: float
    objective: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str | None:
        if self.objective is None:
            return None
        return "likely" if self.low >= self.objective else "unlikely" if self.high < self.objective else "possible"

    def to_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(), "as_of": self.as_of.isoformat(),
                "achieved": self.achieved, "from_pipeline": self.from_pipeline, "from_new_leads": self.from_new_leads,
                "expected": self.expected, "low": self.low, "high": self.high, "level": self.level, "objective": self.objective,
                "verdict": self.verdict, "detail": self.detail}


def forecast_from_history(history: Mapping[str, StageHistory], open_leads: Sequence[tuple[str, float, int]], first_stage: str,
                          new_per_day: float, remaining_days: float, achieved: int, *, level: float = 0.8) -> tuple[float, float, float, float, float]:
    """(pipeline mean, new-lead mean, expected total, low, high) from sufficient statistics (pure)."""
    mean = var = 0.0
    for stage in {s for s, _a, _n in open_leads}:
        h = history.get(stage)
        if h is None or not h.reached:
            continue
        age = np.array([a for s, a, _n in open_leads if s == stage])
        n = np.array([k for s, _a, k in open_leads if s == stage], dtype=float)
        fa, fr = h.cdf(age), h.cdf(age + remaining_days)
        denom = 1 - h.p * fa
        q = np.where(denom > 0, h.p * (fr - fa) / np.where(denom > 0, denom, 1), 0.0)
        mean += float((n * q).sum())
        var += float((n * q * (1 - q)).sum())
    h0 = history.get(first_stage)
    new = 0.0
    if h0 is not None and remaining_days > 0:
        grid = (np.arange(int(np.ceil(remaining_days))) + 0.5).clip(max=remaining_days)
        new = float(new_per_day * h0.p * h0.cdf(remaining_days - grid).sum())
    total = achieved + mean + new
    z = float(stats.norm.ppf(0.5 + level / 2))
    sd = float(np.sqrt(var + new))
    return mean, new, total, max(float(achieved), total - z * sd), total + z * sd


def period_bounds(as_of: datetime, period: str) -> tuple[datetime, datetime]:
    """The calendar month or quarter containing ``as_of``."""
    if period == "month":
        start = as_of.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        months = 1
    else:
        start = as_of.replace(month=3 * ((as_of.month - 1) // 3) + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
        months = 3
    y, m = divmod(start.month - 1 + months, 12)
    return start, start.replace(year=start.year + y, month=m + 1)


def _reach_times(ws: Any, stages: Sequence[str]) -> Any:
    """One row per (lead, stage): the first time the lead reached it (first stage: created_at)."""
    leads, st = ws.table("leads"), ws.table("stage_events")
    import ibis

    first = leads.select("lead_id", stage=ibis.literal(stages[0]), at=leads.created_at)
    rest = st.filter(st.stage.isin(list(stages[1:])))
    rest = rest.group_by("lead_id", "stage").agg(at=rest.at.min())
    return first.union(rest.select("lead_id", "stage", "at"))


def forecast(ws: Any, as_of: datetime | None = None, *, period: str = "month", target: str = "won", exits: Sequence[str] = ("lost",),
             lookback_days: int = 180, maturity_days: int = 60, level: float = 0.8, objective: float | None = None) -> Forecast:
    """Conversions to ``target`` expected in the month / quarter containing ``as_of`` (default: the data end)."""
    stages = [s for s in ws.config.stages if s not in exits]
    if target not in stages:
        stages.append(target)
    pre = stages[: stages.index(target)]
    reach = _reach_times(ws, stages)
    if as_of is None:
        v = ws.table("stage_events").at.max().execute()
        as_of = v.to_pydatetime() if v is not None and v == v else datetime.now()
    start, end = period_bounds(as_of, period)
    tgt = reach.filter(reach.stage == target).select("lead_id", won_at=reach.at)
    achieved = int(tgt.filter((tgt.won_at >= start) & (tgt.won_at < as_of)).count().execute())
    history = _history(reach, tgt, pre, as_of, lookback_days, maturity_days)
    open_rows = _open(ws, reach, tgt, pre, exits, as_of, maturity_days)
    leads = ws.table("leads")
    recent = int(leads.filter((leads.created_at >= as_of - timedelta(days=28)) & (leads.created_at < as_of)).count().execute())
    remaining = max(0.0, (end - as_of).total_seconds() / 86400)
    pipe, new, total, lo, hi = forecast_from_history(history, open_rows, pre[0], recent / 28, remaining, achieved, level=level)
    detail = {"stage_rates": {s: h.p for s, h in history.items()}, "open_leads": sum(n for _s, _a, n in open_rows),
              "new_leads_per_day": recent / 28, "remaining_days": remaining}
    return Forecast(start.date(), end.date(), as_of, achieved, pipe, new, total, lo, hi, level, objective, detail)


def _history(reach: Any, tgt: Any, pre: Sequence[str], as_of: datetime, lookback: int, maturity: int) -> dict[str, StageHistory]:
    h = reach.filter(reach.stage.isin(list(pre)) & (reach.at >= as_of - timedelta(days=lookback)) & (reach.at < as_of - timedelta(days=maturity)))
    j = h.left_join(tgt, "lead_id")
    days = ((j.won_at.epoch_seconds() - j.at.epoch_seconds()) / 86400).round(1)
    ok = j.won_at.notnull() & (j.won_at >= j.at) & (days <= maturity)
    import ibis

    rows = j.mutate(d=ok.ifelse(days, None)).group_by("stage", "d").agg(n=ibis._.count()).execute()
    out = {}
    for s in pre:
        g = rows[rows["stage"] == s]
        conv = g[g["d"].notna()]
        out[s] = StageHistory(int(g["n"].sum()), conv["d"].to_numpy(float), conv["n"].to_numpy(float))
    return out


def _open(ws: Any, reach: Any, tgt: Any, pre: Sequence[str], exits: Sequence[str], as_of: datetime, maturity: int) -> list[tuple[str, float, int]]:
    r = reach.filter(reach.at < as_of)
    rank = {s: i for i, s in enumerate(pre)}
    import ibis

    r = r.filter(r.stage.isin(list(pre))).mutate(rank=r.stage.cases(*rank.items(), else_=-1))
    latest = r.group_by("lead_id").agg(rank=r["rank"].max())
    cur = r.inner_join(latest, ["lead_id", "rank"])
    done = tgt.filter(tgt.won_at < as_of).select("lead_id")
    st = ws.table("stage_events")
    gone = st.filter(st.stage.isin(list(exits)) & (st.at < as_of)).select("lead_id")
    cur = cur.anti_join(done, "lead_id").anti_join(gone, "lead_id")
    age = ((ibis.literal(as_of).epoch_seconds() - cur.at.epoch_seconds()) / 86400).round(1)
    cur = cur.mutate(age=age).filter(ibis._.age <= maturity)
    rows = cur.group_by("stage", "age").agg(n=ibis._.count()).execute()
    return [(str(s), float(a), int(n)) for s, a, n in rows.itertuples(index=False, name=None)]
