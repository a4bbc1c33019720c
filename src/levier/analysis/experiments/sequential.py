"""Sequential testing for safe peeking: asymptotic confidence sequences.

Always-valid asymptotic confidence sequences (Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences", 2021, eq. for the
normal-mixture boundary), as implemented by ``gbstats`` (``SequentialTwoSidedTTest``):

- ``n`` = units in both arms, ``s² = se² · n``;
- ``ρ² = (-2 ln α + ln(-2 ln α + 1)) / N*`` where ``N*`` (``tuning``) is the sample size at
  which the sequence is tightest (default 5,000);
- half-width ``= sqrt(s²) · sqrt(2 (nρ² + 1) ln(sqrt(nρ² + 1) / α) / (nρ)²)``;
- the always-valid p-value is ``min(1, 1/E)`` with the mixture e-value
  ``E = exp(ρ² t² / (2 (nρ² + 1))) / sqrt(nρ² + 1)``, ``t = estimate / se`` (eq. 155 of
  arXiv:2103.06476v7) — it is below α exactly when the interval excludes 0, so stopping at
  the first look where p < α keeps the error rate ≤ α.

One-sided sequences use the one-sided boundary ``ln(1 + sqrt(nρ² + 1) / (2α))``; their
p-value is solved in closed form (gbstats uses a bisection; same value).
"""

from __future__ import annotations

import math

from levier.analysis.experiments.frequentist import Alternative
from levier.analysis.experiments.moments import Difference, effect_moments
from levier.analysis.experiments.results import EffectResult
from levier.analysis.experiments.statistics import Statistic

__all__ = ["sequential", "sequential_rho", "halfwidth", "DEFAULT_TUNING"]

DEFAULT_TUNING = 5000.0


def sequential_rho(alpha: float, tuning: float = DEFAULT_TUNING, two_sided: bool = True) -> float:
    """Mixture parameter ρ that makes the sequence tightest at ``tuning`` units."""
    a = alpha if two_sided else 2 * alpha
    return math.sqrt((-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning)


def halfwidth(s2: float, n: float, alpha: float, rho: float, two_sided: bool = True) -> float:
    """Half-width of the (1 - α) confidence sequence at ``n`` units (per-unit variance ``s2``)."""
    nr2 = n * rho**2
    if two_sided:
        log_term = math.log(math.sqrt(nr2 + 1) / alpha)
    else:
        log_term = math.log(1 + math.sqrt(nr2 + 1) / (2 * alpha))
    return math.sqrt(s2) * math.sqrt(2 * (nr2 + 1) * log_term / (n * rho) ** 2)


def _p_two_sided(estimate: float, se: float, n: float, rho: float) -> float:
    st2 = estimate**2 * n / se**2
    tr2p1 = n * rho**2 + 1
    log_e = rho**2 * st2 / (2 * tr2p1) - 0.5 * math.log(tr2p1)
    return 1.0 if log_e <= 0 else min(1.0, math.exp(-log_e))


def _p_one_sided(estimate: float, se: float, n: float, rho: float, favourable: bool) -> float:
    if not favourable:
        return 1.0
    s2 = se**2 * n
    nr2 = n * rho**2
    c = 2 * (nr2 + 1) / (n * rho) ** 2
    x = estimate**2 / (s2 * c)
    if x > 700:
        return 0.0
    return min(1.0, math.sqrt(nr2 + 1) / (2 * math.expm1(x)))


def sequential(
    a: Statistic,
    b: Statistic,
    *,
    difference: Difference = "relative",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> EffectResult:
    """Always-valid interval and p-value for the effect of ``b`` over ``a``."""
    m = effect_moments(a, b, difference)
    if not m.ok or m.se <= 0:
        return EffectResult.undefined(m, engine="sequential", alternative=alternative, alpha=alpha)
    n = m.n_a + m.n_b
    two = alternative == "two-sided"
    rho = sequential_rho(alpha, tuning, two)
    hw = halfwidth(m.se**2 * n, n, alpha, rho, two)
    if two:
        lo, hi, p = m.estimate - hw, m.estimate + hw, _p_two_sided(m.estimate, m.se, n, rho)
    elif alternative == "greater":
        lo, hi, p = m.estimate - hw, math.inf, _p_one_sided(m.estimate, m.se, n, rho, m.estimate > 0)
    else:
        lo, hi, p = -math.inf, m.estimate + hw, _p_one_sided(m.estimate, m.se, n, rho, m.estimate < 0)
    return EffectResult(engine="sequential", difference=difference, alternative=alternative, alpha=alpha,
                        estimate=m.estimate, se=m.se, ci_low=lo, ci_high=hi, mean_a=m.mean_a, mean_b=m.mean_b,
                        n_a=m.n_a, n_b=m.n_b, p_value=p, dof=m.dof, theta=m.theta)
