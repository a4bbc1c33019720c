"""CUPED (regression adjustment on a pre-period covariate) and capping helpers.

CUPED replaces the metric Y by ``Y - θ (X - mean X)`` with ``θ = cov(Y, X) / var(X)`` pooled
over the arms, which removes the part of the variance explained by the covariate X (measured
before the experiment, so unaffected by it). The engine only needs n, ΣY, ΣY², ΣX, ΣX², ΣXY
per arm: :func:`cuped_statistic` builds the statistic from those sums.
"""

from __future__ import annotations

import numpy as np

from levier.analysis.experiments.moments import effect_moments
from levier.analysis.experiments.statistics import (
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)

__all__ = ["cuped_statistic", "cuped_from_arrays", "variance_reduction", "winsorise"]


def cuped_statistic(
    n: float, sum_y: float, sum_squares_y: float, sum_x: float, sum_squares_x: float, sum_xy: float,
    *, binary: bool = False,
) -> RegressionAdjustedStatistic:
    """A regression-adjusted statistic from the sums of the metric (y) and covariate (x)."""
    # A 0/1 metric is a sample mean with Y² = Y (both components must share one kind).
    post = SampleMeanStatistic(n, sum_y, sum_y if binary else sum_squares_y)
    pre = SampleMeanStatistic(n, sum_x, sum_squares_x)
    return RegressionAdjustedStatistic(n, post, pre, sum_xy, None)


def cuped_from_arrays(y: np.ndarray, x: np.ndarray) -> RegressionAdjustedStatistic:
    """Statistic of one arm from unit-level arrays (tests, small data)."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    return cuped_statistic(len(y), y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())


def variance_reduction(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic) -> float:
    """1 - var(adjusted effect) / var(raw effect) on the absolute difference (0 = no gain)."""
    raw = effect_moments(a.post, b.post, "absolute")
    theta = compute_theta(a, b)
    adj = effect_moments(a.with_theta(theta), b.with_theta(theta), "absolute")
    if not (raw.ok and adj.ok) or raw.se == 0:
        return 0.0
    return 1 - adj.se**2 / raw.se**2


def winsorise(values: np.ndarray, upper_quantile: float = 0.99, cap: float | None = None) -> np.ndarray:
    """Cap values at ``cap`` (or at their ``upper_quantile``): one huge deal cannot decide a test."""
    values = np.asarray(values, dtype=float)
    limit = cap if cap is not None else float(np.quantile(values, upper_quantile)) if values.size else 0.0
    return np.minimum(values, limit)
