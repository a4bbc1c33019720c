"""Fixed-horizon frequentist test: Welch t-test (z for very large samples), two- or one-sided.

Follows ``gbstats`` (``TwoSidedTTest``, ``OneSidedTreatmentGreaterTTest``,
``OneSidedTreatmentLesserTTest``): the statistic is ``estimate / se`` with Welch–Satterthwaite
degrees of freedom, on the absolute difference or on the relative lift (delta method).
With ``distribution="auto"`` the normal (z) distribution replaces Student's t once the degrees
of freedom exceed :data:`Z_DOF` (the two then agree to better than 1e-6).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import special

from levier.analysis.experiments.moments import Difference, effect_moments
from levier.analysis.experiments.results import EffectResult
from levier.analysis.experiments.statistics import Statistic

__all__ = ["ttest", "ttest_arrays", "Alternative", "Distribution", "Z_DOF"]

Alternative = Literal["two-sided", "greater", "less"]
Distribution = Literal["auto", "t", "z"]
Z_DOF = 1e6


def ttest_arrays(estimate: Any, se: Any, dof: Any, *, alternative: Alternative = "two-sided", alpha: float = 0.05,
                 test_value: float = 0.0, distribution: Distribution = "auto") -> tuple[Any, Any, Any]:
    """(p-value, ci_low, ci_high) from effect moments; floats or NumPy arrays alike."""
    estimate, se, dof = np.asarray(estimate, float), np.asarray(se, float), np.asarray(dof, float)
    use_z = np.full(dof.shape, distribution == "z") | ((distribution == "auto") & ~(dof <= Z_DOF))
    df = np.where(use_z, 1.0, np.where(np.isfinite(dof) & (dof > 0), dof, 1.0))

    # scipy.special directly: same values as scipy.stats.t / norm, without their per-call overhead
    def sf(x: Any) -> Any:
        return np.where(use_z, special.ndtr(-x), special.stdtr(df, -x))

    def ppf(q: float) -> Any:
        return np.where(use_z, special.ndtri(q), special.stdtrit(df, q))

    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, (estimate - test_value) / np.where(se > 0, se, 1.0), 0.0)
    if alternative == "two-sided":
        p = 2 * sf(np.abs(stat))
        half = ppf(1 - alpha / 2) * se
        lo, hi = estimate - half, estimate + half
    elif alternative == "greater":
        p = sf(stat)
        lo, hi = estimate - ppf(1 - alpha) * se, np.full(estimate.shape, np.inf)
    else:
        p = sf(-stat)
        lo, hi = np.full(estimate.shape, -np.inf), estimate + ppf(1 - alpha) * se
    return np.clip(p, 0.0, 1.0), lo, hi


def ttest(
    a: Statistic,
    b: Statistic,
    *,
    difference: Difference = "relative",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    test_value: float = 0.0,
    distribution: Distribution = "auto",
) -> EffectResult:
    """Compare ``b`` (treatment) with ``a`` (control). ``greater`` tests B > A, ``less`` B < A."""
    m = effect_moments(a, b, difference)
    if not m.ok:
        return EffectResult.undefined(m, engine="frequentist", alternative=alternative, alpha=alpha)
    p, lo, hi = ttest_arrays(m.estimate, m.se, m.dof, alternative=alternative, alpha=alpha, test_value=test_value,
                             distribution=distribution)
    return EffectResult(engine="frequentist", difference=difference, alternative=alternative, alpha=alpha,
                        estimate=m.estimate, se=m.se, ci_low=float(lo), ci_high=float(hi), mean_a=m.mean_a,
                        mean_b=m.mean_b, n_a=m.n_a, n_b=m.n_b, p_value=float(p), dof=m.dof,
                        theta=m.theta)
