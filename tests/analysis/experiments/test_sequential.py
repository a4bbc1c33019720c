"""Sequential engine: gbstats formulas, p-value/interval duality, error rate under peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.sequential import halfwidth, sequential, sequential_rho
from levier.analysis.experiments.statistics import ProportionStatistic

A = ProportionStatistic(n=10000, sum=1000)
B = ProportionStatistic(n=10000, sum=1100)


def test_rho_and_halfwidth_closed_forms() -> None:
    rho = sequential_rho(0.05, 5000)
    assert rho == pytest.approx(math.sqrt((-2 * math.log(0.05) + math.log(-2 * math.log(0.05) + 1)) / 5000))
    r = sequential(A, B)
    f = ttest(A, B)
    n = 20000
    hw = math.sqrt(f.se**2 * n) * math.sqrt(2 * (n * rho**2 + 1) * math.log(math.sqrt(n * rho**2 + 1) / 0.05) / (n * rho) ** 2)
    assert r.ci_high - r.estimate == pytest.approx(hw)
    assert r.ci_low < f.ci_low and r.ci_high > f.ci_high  # wider than the fixed-horizon interval
    assert r.p_value > f.p_value


@pytest.mark.parametrize("lift", [0.0, 0.1, 0.2, 0.3])
def test_p_value_below_alpha_iff_interval_excludes_zero(lift: float) -> None:
    b = ProportionStatistic(10000, 1000 * (1 + lift))
    r = sequential(A, b)
    assert (r.p_value < 0.05) == (r.ci_low > 0 or r.ci_high < 0)


@pytest.mark.parametrize("alt", ["greater", "less"])
def test_one_sided_p_value_is_where_the_bound_crosses_zero(alt: str) -> None:
    b = ProportionStatistic(10000, 1250 if alt == "greater" else 800)
    r = sequential(A, b, alternative=alt)
    rho = sequential_rho(0.05, 5000, two_sided=False)
    n = 20000
    hw = halfwidth(r.se**2 * n, n, r.p_value, rho, two_sided=False)
    assert abs(r.estimate) == pytest.approx(hw, rel=1e-6)
    assert sequential(A, b, alternative="less" if alt == "greater" else "greater").p_value == 1.0


def test_error_rate_under_continuous_peeking() -> None:
    """A/A: stopping at the first of 100 looks with p < α keeps the error rate ≤ α."""
    rng = np.random.default_rng(99)
    sims, batch, looks = 20000, 100, 100
    # the sum of a batch of `batch` N(1, 1) units is N(batch, batch): draw batch sums directly
    ya = rng.normal(batch, np.sqrt(batch), (sims, looks)).cumsum(axis=1)
    yb = rng.normal(batch, np.sqrt(batch), (sims, looks)).cumsum(axis=1)
    n = batch * np.arange(1, looks + 1)
    est = (yb - ya) / n  # absolute difference of means, known unit variance per arm
    se = np.sqrt(2.0 / n)
    rho = sequential_rho(0.05)
    total = 2 * n
    s2 = se**2 * total
    nr2 = total * rho**2
    hw = np.sqrt(s2) * np.sqrt(2 * (nr2 + 1) * np.log(np.sqrt(nr2 + 1) / 0.05) / (total * rho) ** 2)
    ever_rejected = np.any(np.abs(est) > hw, axis=1).mean()
    naive = np.any(np.abs(est / se) > 1.959964, axis=1).mean()
    assert ever_rejected <= 0.05, ever_rejected
    assert naive > 0.2  # peeking at a fixed-horizon test inflates the error rate


def test_sequential_function_agrees_with_vector_boundary() -> None:
    b = ProportionStatistic(5000, 560)
    a = ProportionStatistic(5000, 500)
    r = sequential(a, b, difference="absolute")
    n = 10000
    assert r.ci_high - r.estimate == pytest.approx(halfwidth(r.se**2 * n, n, 0.05, sequential_rho(0.05)))
