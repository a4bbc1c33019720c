"""CUPED: θ is the pooled OLS slope, variance shrinks by ≈ ρ², the estimate stays unbiased."""

from __future__ import annotations

import numpy as np
import pytest

from levier.analysis.experiments.cuped import cuped_from_arrays, variance_reduction, winsorise
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.moments import effect_moments
from levier.analysis.experiments.statistics import compute_theta


def _arms(rng: np.random.Generator, n: int, rho: float, effect: float):
    out = []
    for shift in (0.0, effect):
        x = rng.normal(5, 2, n)
        y = 10 + rho * (x - 5) / 2 * 3 + np.sqrt(1 - rho**2) * rng.normal(0, 3, n) + shift
        out.append((y, x))
    return out


def test_theta_is_pooled_ols_slope() -> None:
    rng = np.random.default_rng(3)
    (ya, xa), (yb, xb) = _arms(rng, 2000, 0.7, 0.3)
    a, b = cuped_from_arrays(ya, xa), cuped_from_arrays(yb, xb)
    slope = np.polyfit(np.r_[xa, xb], np.r_[ya, yb], 1)[0]
    assert compute_theta(a, b) == pytest.approx(slope, rel=1e-6)


def test_cuped_reduces_variance_on_correlated_data() -> None:
    rng = np.random.default_rng(5)
    (ya, xa), (yb, xb) = _arms(rng, 5000, 0.8, 0.3)
    a, b = cuped_from_arrays(ya, xa), cuped_from_arrays(yb, xb)
    reduction = variance_reduction(a, b)
    assert reduction == pytest.approx(0.8**2, abs=0.05)
    raw = ttest(a.post, b.post, difference="absolute")
    adj = ttest(a, b, difference="absolute")
    assert adj.se < raw.se * 0.7 and adj.theta is not None
    rel = effect_moments(a, b, "relative")
    assert rel.ok and rel.se < effect_moments(a.post, b.post, "relative").se


def test_cuped_is_unbiased_and_covers() -> None:
    rng = np.random.default_rng(8)
    hits, estimates = 0, []
    for _ in range(400):
        (ya, xa), (yb, xb) = _arms(rng, 400, 0.7, 0.5)
        r = ttest(cuped_from_arrays(ya, xa), cuped_from_arrays(yb, xb), difference="absolute")
        estimates.append(r.estimate)
        hits += r.ci_low <= 0.5 <= r.ci_high
    assert np.mean(estimates) == pytest.approx(0.5, abs=0.03)
    assert 0.92 <= hits / 400 <= 0.98


def test_uncorrelated_covariate_changes_little() -> None:
    rng = np.random.default_rng(9)
    (ya, xa), (yb, xb) = _arms(rng, 3000, 0.0, 0.0)
    assert abs(variance_reduction(cuped_from_arrays(ya, xa), cuped_from_arrays(yb, xb))) < 0.01


def test_winsorise() -> None:
    v = np.array([1.0, 2.0, 3.0, 1000.0])
    assert winsorise(v, cap=10).tolist() == [1, 2, 3, 10]
    assert winsorise(v, upper_quantile=0.5).max() == pytest.approx(2.5)
