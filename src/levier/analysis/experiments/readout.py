"""The read-out: from sufficient statistics to every result the protocol asks for.

For each treated arm vs the control: every metric overall (primary and secondary corrected
together for several arms × metrics with Holm or BH), guardrails with their own one-sided
test of harm, dimension breakdowns flagged when a cell is small, a heterogeneity test
(Cochran's Q) on the primary metric, SRM, mid-experiment power, and the decision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd
from scipy import stats as sps

from levier.analysis.experiments.bayesian import GaussianPrior, bayesian
from levier.analysis.experiments.data import ExperimentData
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.multiple import Correction, adjust_results
from levier.analysis.experiments.power import MidPower, mid_experiment_power
from levier.analysis.experiments.results import EffectResult, clean_float
from levier.analysis.experiments.sequential import DEFAULT_TUNING, sequential
from levier.analysis.experiments.srm import SrmResult, srm_check
from levier.analysis.experiments.statistics import ProportionStatistic, Statistic

__all__ = ["ReadoutOptions", "GuardrailResult", "ExperimentResult", "read_out", "compare",
           "MIN_CELL_UNITS", "MIN_CELL_EVENTS"]

Engine = Literal["frequentist", "bayesian", "sequential"]
MIN_CELL_UNITS = 100
MIN_CELL_EVENTS = 10


@dataclass(frozen=True)
class ReadoutOptions:
    """How to read the experiment (defaults follow the protocol defaults)."""

    engine: Engine = "frequentist"
    difference: Literal["relative", "absolute"] = "relative"
    alpha: float = 0.05
    correction: Correction = "holm"
    target: float = 0.10
    power: float = 0.8
    tuning: float = DEFAULT_TUNING
    prior: GaussianPrior | None = None
    weights: tuple[float, ...] | None = None
    daily_units: float | None = None


def compare(a: Statistic, b: Statistic, spec: MetricSpec | None, opts: ReadoutOptions, *,
            alternative: str = "two-sided", difference: str | None = None) -> EffectResult:
    """One comparison with the chosen engine."""
    diff = difference or opts.difference
    if opts.engine == "bayesian":
        return bayesian(a, b, difference=diff, alpha=opts.alpha, prior=opts.prior,  # type: ignore[arg-type]
                        inverse=bool(spec and spec.inverse))
    if opts.engine == "sequential":
        return sequential(a, b, difference=diff, alternative=alternative, alpha=opts.alpha,  # type: ignore[arg-type]
                          tuning=opts.tuning)
    return ttest(a, b, difference=diff, alternative=alternative, alpha=opts.alpha)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GuardrailResult:
    """A guardrail of one arm: the one-sided test of harm and the absolute limit, if any."""

    metric: str
    arm: str
    status: str  # safe | watch | breach | undefined
    effect: EffectResult
    limit: float | None
    value: float
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "arm": self.arm, "status": self.status, "limit": self.limit,
                "value": clean_float(self.value), "reasons": list(self.reasons), "effect": self.effect.to_dict()}


def _guardrail(data: ExperimentData, spec: MetricSpec, arm: str, opts: ReadoutOptions) -> GuardrailResult | None:
    a, b = data.stat(spec.name, data.control), data.stat(spec.name, arm)
    if a is None or b is None:
        return None
    harm_alt = "less" if spec.direction == "higher" else "greater"
    gopts = replace(opts, engine="frequentist" if opts.engine == "bayesian" else opts.engine)
    r = compare(a, b, spec, gopts, alternative=harm_alt, difference="absolute").labelled(
        metric=spec.name, arm=arm, baseline=data.control)
    reasons: list[str] = []
    if spec.limit is not None and b.mean > spec.limit:
        reasons.append("over_limit")
    if r.ok and r.p_value is not None and r.p_value < opts.alpha:
        reasons.append("significant_harm")
    harmful = r.ok and (r.estimate > 0 if harm_alt == "greater" else r.estimate < 0)
    status = "breach" if reasons else ("watch" if harmful else ("safe" if r.ok or b.mean == 0 else "undefined"))
    return GuardrailResult(spec.name, arm, status, r, spec.limit, b.mean, tuple(reasons))


def _small(a: Statistic, b: Statistic) -> bool:
    if min(a.n, b.n) < MIN_CELL_UNITS:
        return True
    if isinstance(a, ProportionStatistic) and isinstance(b, ProportionStatistic):
        return min(a.sum, b.sum, a.n - a.sum, b.n - b.sum) < MIN_CELL_EVENTS
    return False


def _heterogeneity(cells: list[EffectResult]) -> float | None:
    """Cochran's Q p-value across breakdown cells (None if fewer than 2 usable cells)."""
    use = [r for r in cells if r.ok and r.se and r.se > 0 and "small_sample" not in r.warnings]
    if len(use) < 2:
        return None
    w = [1 / r.se**2 for r in use]
    mean = sum(wi * r.estimate for wi, r in zip(w, use, strict=True)) / sum(w)
    q = sum(wi * (r.estimate - mean) ** 2 for wi, r in zip(w, use, strict=True))
    return float(sps.chi2.sf(q, len(use) - 1))


@dataclass(frozen=True)
class ExperimentResult:
    """Everything the read-out found; ``decision`` is filled by :func:`levier...decision.decide`."""

    key: str
    arms: tuple[str, ...]
    options: ReadoutOptions
    srm: SrmResult
    effects: tuple[EffectResult, ...]
    breakdowns: tuple[EffectResult, ...]
    guardrails: tuple[GuardrailResult, ...]
    heterogeneity: dict[str, float | None] = field(default_factory=dict)
    mid_power: dict[str, MidPower] = field(default_factory=dict)
    primary: str = ""
    roles: dict[str, str] = field(default_factory=dict)
    decision: Any = None
    unit: str | None = "lead"  # randomisation unit the statistics were computed on (None: a summary that does not say)

    def unit_label(self, lang: str | None = None) -> str:
        """The randomisation unit in words, in ``lang`` (reports print it)."""
        from levier.analysis.experiments.units import unit_label

        return unit_label(self.unit, lang)

    def primary_effects(self) -> list[EffectResult]:
        return [e for e in self.effects if e.metric == self.primary]

    def to_frame(self) -> pd.DataFrame:
        rows = [{**e.to_dict(), "role": self.roles.get(e.metric, "")} for e in (*self.effects, *self.breakdowns)]
        rows += [{**g.effect.to_dict(), "role": "guardrail", "status": g.status} for g in self.guardrails]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "arms": list(self.arms), "unit": self.unit, "primary": self.primary, "roles": self.roles,
            "options": {k: v for k, v in asdict(self.options).items() if k != "prior"}
            | {"prior": asdict(self.options.prior) if self.options.prior else None},
            "srm": self.srm.to_dict(), "effects": [e.to_dict() for e in self.effects],
            "breakdowns": [e.to_dict() for e in self.breakdowns],
            "guardrails": [g.to_dict() for g in self.guardrails],
            "heterogeneity": {k: clean_float(v) for k, v in self.heterogeneity.items()},
            "mid_power": {k: v.to_dict() for k, v in self.mid_power.items()},
            "decision": self.decision.to_dict() if self.decision is not None else None,
        }


def _effects(data: ExperimentData, opts: ReadoutOptions, names: list[str]) -> list[EffectResult]:
    out = []
    for arm in data.arms[1:]:
        for name in names:
            a, b = data.stat(name, data.control), data.stat(name, arm)
            if a is None or b is None:
                continue
            spec = data.metric(name)
            out.append(compare(a, b, spec, opts).labelled(metric=name, arm=arm, baseline=data.control))
    return out


def _breakdowns(data: ExperimentData, opts: ReadoutOptions, primary: str) -> list[EffectResult]:
    out = []
    spec = data.metric(primary)
    for dim, values in data.breakdowns().items():
        for value in values:
            for arm in data.arms[1:]:
                a, b = data.stat(primary, data.control, dim, value), data.stat(primary, arm, dim, value)
                if a is None or b is None:
                    continue
                r = compare(a, b, spec, opts).labelled(metric=primary, arm=arm, baseline=data.control,
                                                       dimension=dim, value=value)
                out.append(replace(r, warnings=("small_sample",)) if _small(a, b) else r)
    return out


def read_out(data: ExperimentData, opts: ReadoutOptions | None = None) -> ExperimentResult:
    """Analyse every metric, arm and breakdown of ``data`` (no decision yet)."""
    opts = opts or ReadoutOptions()
    guard_names = [m.name for m in data.metrics if data.role(m.name) == "guardrail"]
    names = [m.name for m in data.metrics if m.name not in guard_names]
    primary = next((n for n in names if data.role(n) == "primary"), names[0] if names else "")
    effects = adjust_results(_effects(data, opts, names), opts.correction)
    breakdowns = _breakdowns(data, opts, primary) if primary else []
    guardrails = [g for arm in data.arms[1:] for n in guard_names if (g := _guardrail(data, data.metric(n), arm, opts))]
    hetero = {f"{arm}:{dim}": _heterogeneity([b for b in breakdowns if b.arm == arm and b.dimension == dim])
              for arm in data.arms[1:] for dim in data.breakdowns()}
    weights = dict(zip(data.arms, opts.weights, strict=False)) if opts.weights else None
    srm = srm_check(data.units(), weights)
    target = opts.target if opts.difference == "relative" else math.nan
    mid = {}
    for e in effects:
        if e.metric == primary:
            tgt = target if math.isfinite(target) else opts.target * (e.mean_a or 0.0)
            mid[e.arm] = mid_experiment_power(e, tgt, power=opts.power, daily_units=opts.daily_units)
    return ExperimentResult(key=data.key, arms=data.arms, options=opts, srm=srm, effects=tuple(effects),
                            breakdowns=tuple(breakdowns), guardrails=tuple(guardrails), heterogeneity=hetero,
                            mid_power=mid, primary=primary, roles={m.name: data.role(m.name) for m in data.metrics},
                            unit=data.unit)
