"""Bayesian engine: Gaussian model of the effect, improper prior by default.

As in ``gbstats`` (``EffectBayesianABTest``): the likelihood of the effect is Normal(estimate,
se²) from :func:`effect_moments`; with the default improper (flat) prior the posterior is that
same normal. A proper prior is Normal(mean, variance) on the **relative** lift (rescaled by the
control mean when the difference is absolute). Outputs:

- ``chance_to_win`` = P(effect > 0) (P(effect < 0) when ``inverse`` — lower is better);
- credible interval = the central 1 - α posterior interval;
- risk (expected loss): ``risk_control`` = E[max(effect, 0)] (what choosing the control loses),
  ``risk_treatment`` = E[max(-effect, 0)] (what choosing the arm loses); swapped when inverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from levier.analysis.experiments.moments import Difference, effect_moments
from levier.analysis.experiments.results import EffectResult
from levier.analysis.experiments.statistics import Statistic

__all__ = ["GaussianPrior", "bayesian", "expected_losses"]


@dataclass(frozen=True)
class GaussianPrior:
    """Prior on the relative lift: Normal(mean, variance); ignored unless ``proper``."""

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False


def expected_losses(mu: float, sigma: float) -> tuple[float, float]:
    """(E[max(X, 0)], E[max(-X, 0)]) for X ~ Normal(mu, sigma²), closed form."""
    z = mu / sigma
    pdf = sps.norm.pdf(z)
    return float(mu * sps.norm.cdf(z) + sigma * pdf), float(-mu * sps.norm.cdf(-z) + sigma * pdf)


def bayesian(
    a: Statistic,
    b: Statistic,
    *,
    difference: Difference = "relative",
    alpha: float = 0.05,
    prior: GaussianPrior | None = None,
    inverse: bool = False,
) -> EffectResult:
    """Posterior of the effect of ``b`` over ``a``: chance to win, risk, credible interval."""
    prior = prior or GaussianPrior()
    m = effect_moments(a, b, difference)
    if not m.ok or m.se <= 0:
        return EffectResult.undefined(m, engine="bayesian", alternative="two-sided", alpha=alpha)
    p_mean, p_var = prior.mean, prior.variance
    if difference == "absolute":
        p_mean, p_var = p_mean * abs(m.mean_a), p_var * m.mean_a**2
    data_var = m.se**2
    if prior.proper and p_var > 0:
        precision = 1 / data_var + 1 / p_var
        mu = (m.estimate / data_var + p_mean / p_var) / precision
    else:
        precision, mu = 1 / data_var, m.estimate
    sigma = math.sqrt(1 / precision)
    ctw = float(sps.norm.sf(0, mu, sigma))
    loss_ctrl, loss_trt = expected_losses(mu, sigma)
    if inverse:
        ctw, loss_ctrl, loss_trt = 1 - ctw, loss_trt, loss_ctrl
    lo, hi = sps.norm.ppf([alpha / 2, 1 - alpha / 2], mu, sigma)
    return EffectResult(engine="bayesian", difference=difference, alternative="two-sided", alpha=alpha,
                        estimate=mu, se=sigma, ci_low=float(lo), ci_high=float(hi), mean_a=m.mean_a,
                        mean_b=m.mean_b, n_a=m.n_a, n_b=m.n_b, chance_to_win=ctw, risk_control=loss_ctrl,
                        risk_treatment=loss_trt, dof=m.dof, theta=m.theta)
