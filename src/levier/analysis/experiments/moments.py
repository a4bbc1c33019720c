"""Effect moments: point estimate, standard error and Welch degrees of freedom of B vs A.

Every engine (frequentist, Bayesian, sequential) starts from these. Conventions follow
``gbstats`` (``EffectMoments``):

- absolute difference ``mean_b - mean_a`` with variance ``var_a/n_a + var_b/n_b``;
- relative lift ``(mean_b - mean_a) / unadjusted_mean_a`` with its delta-method variance
  (``variance_of_ratios`` with zero covariance between independent arms);
- CUPED: θ pooled over both arms, relative variance per gbstats' formula;
- Welch–Satterthwaite degrees of freedom from the per-unit variances.

Degenerate inputs do not raise: the result carries a ``code`` (see :data:`CODES`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    Statistic,
    compute_theta,
    variance_of_ratios,
)

__all__ = ["EffectMoments", "effect_moments", "moments_arrays", "Difference", "CODES", "welch_dof"]

Difference = Literal["relative", "absolute"]

#: Explanatory codes of a result that could not be computed (``ok`` otherwise).
CODES = {
    "ok": "Computed.",
    "empty_arm": "An arm has no units.",
    "too_few_units": "An arm has fewer than 2 units: no variance can be estimated.",
    "no_conversions": "No unit converted in either arm: nothing to compare.",
    "zero_baseline": "The baseline (control) mean is 0: a relative lift is undefined; use --difference absolute.",
    "zero_variance": "The metric does not vary in an arm (all units identical): no test is possible.",
    "mixed_kinds": "The two arms carry statistics of different kinds.",
}


@dataclass(frozen=True)
class EffectMoments:
    """Point estimate and standard error of the effect of B over A (``code`` says if defined)."""

    difference: str
    estimate: float
    se: float
    dof: float
    mean_a: float
    mean_b: float
    n_a: float
    n_b: float
    theta: float | None = None
    code: str = "ok"

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    @property
    def message(self) -> str:
        return CODES.get(self.code, self.code)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def welch_dof(var_a: Any, n_a: Any, var_b: Any, n_b: Any) -> Any:
    """Welch–Satterthwaite degrees of freedom (per-unit variances; floats or arrays)."""
    num = (var_b / n_b + var_a / n_a) ** 2
    den = var_b**2 / (n_b**2 * (n_b - 1)) + var_a**2 / (n_a**2 * (n_a - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf) if np.ndim(den) else (
            num / den if den > 0 else math.inf)


def moments_arrays(mean_a: Any, var_a: Any, n_a: Any, mean_b: Any, var_b: Any, n_b: Any,
                   difference: Difference = "relative") -> tuple[Any, Any, Any]:
    """(estimate, se, dof) for plain (non-CUPED) statistics; floats or NumPy arrays alike.

    The one formula behind :func:`effect_moments`; vectorised for simulations and large
    families of comparisons (metrics × arms × dimensions).
    """
    if difference == "relative":
        estimate = (mean_b - mean_a) / mean_a
        var = variance_of_ratios(mean_b, var_b / n_b, mean_a, var_a / n_a, 0.0)
    else:
        estimate = mean_b - mean_a
        var = var_b / n_b + var_a / n_a
    return estimate, np.sqrt(np.maximum(var, 0.0)), welch_dof(var_a, n_a, var_b, n_b)


def _cuped_relative_variance(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic, theta: float) -> float:
    ma = a.post.mean
    v_trt = (b.post.variance + theta**2 * b.pre.variance - 2 * theta * b.covariance) / (b.n * ma**2)
    r = b.post.mean / ma
    num = a.post.variance * r**2 - 2 * theta * a.covariance * r + theta**2 * a.pre.variance
    return v_trt + num / (a.n * ma**2)


def _degenerate(a: Statistic, b: Statistic) -> str | None:
    if type(a) is not type(b):
        return "mixed_kinds"
    if a.n <= 0 or b.n <= 0:
        return "empty_arm"
    if a.n < 2 or b.n < 2:
        return "too_few_units"
    if isinstance(a, ProportionStatistic) and a.sum == 0 and b.sum == 0:  # type: ignore[union-attr]
        return "no_conversions"
    return None


def _adjust(a: Statistic, b: Statistic) -> tuple[Statistic, Statistic, float | None]:
    """Set the pooled θ on CUPED statistics (falls back to the raw metric when θ = 0)."""
    if isinstance(a, RegressionAdjustedStatistic) and isinstance(b, RegressionAdjustedStatistic):
        theta = a.theta if a.theta is not None else compute_theta(a, b)
        if theta == 0:
            return a.post, b.post, 0.0
        return a.with_theta(theta), b.with_theta(theta), theta
    return a, b, None


def effect_moments(a: Statistic, b: Statistic, difference: Difference = "relative") -> EffectMoments:
    """Moments of the effect of ``b`` (treatment) over ``a`` (control)."""
    code = _degenerate(a, b)
    if code is None:
        a, b, theta = _adjust(a, b)
    else:
        theta = None
    base = {"difference": difference, "mean_a": a.unadjusted_mean, "mean_b": b.unadjusted_mean,
            "n_a": a.n, "n_b": b.n, "theta": theta}
    if code is None and (a.has_zero_variance or b.has_zero_variance):
        code = "zero_variance"
    if code is None and difference == "relative" and (a.mean == 0 or a.unadjusted_mean == 0):
        code = "zero_baseline"
    if code is not None:
        return EffectMoments(estimate=math.nan, se=math.nan, dof=math.nan, code=code, **base)
    if isinstance(a, RegressionAdjustedStatistic) and isinstance(b, RegressionAdjustedStatistic):
        estimate, se, dof = moments_arrays(a.mean, a.variance, a.n, b.mean, b.variance, b.n, "absolute")
        if difference == "relative":
            estimate = (b.mean - a.mean) / a.unadjusted_mean
            se = math.sqrt(max(_cuped_relative_variance(a, b, theta or 0.0), 0.0))
    else:
        estimate, se, dof = moments_arrays(a.mean, a.variance, a.n, b.mean, b.variance, b.n, difference)
    return EffectMoments(estimate=float(estimate), se=float(se), dof=float(dof), **base)


def is_ratio(stat: Statistic) -> bool:
    return isinstance(stat, RatioStatistic)
