"""Statistics on sufficient statistics vs SciPy / statsmodels / NumPy on expanded data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from levier.analysis.stats import (
    correlation,
    moments,
    spearman,
    two_proportion,
    weighted_quantile,
    wilson,
)


def _cells(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pairs, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    return pairs[:, 0], pairs[:, 1], counts


def test_correlation_matches_linregress_on_binary_outcome() -> None:
    rng = np.random.default_rng(1)
    x = rng.poisson(5, 500).astype(float)
    y = (rng.random(500) < 0.05 + 0.03 * x).astype(float)
    cx, cy, w = _cells(x, y)
    c = correlation(moments(cx, cy, w), spearman_rho=spearman(cx, cy, w))
    ref = sps.linregress(x, y)
    assert c.code == "ok" and c.n == 500
    assert c.r == pytest.approx(ref.rvalue, abs=1e-12)
    assert c.slope == pytest.approx(ref.slope, abs=1e-12)
    assert c.intercept == pytest.approx(ref.intercept, abs=1e-12)
    assert c.r2 == pytest.approx(ref.rvalue**2, abs=1e-12)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert c.p_value == pytest.approx(sps.pearsonr(x, y).pvalue, rel=1e-9)
    tcrit = sps.t.ppf(0.975, 498)
    assert c.slope_ci[0] == pytest.approx(ref.slope - tcrit * ref.stderr, abs=1e-12)
    assert c.intercept_ci[1] == pytest.approx(ref.intercept + tcrit * ref.intercept_stderr, abs=1e-12)
    ci = sps.pearsonr(x, y).confidence_interval(0.95)
    assert c.r_ci == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert c.spearman == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 1)), min_size=5, max_size=80))
def test_spearman_and_pearson_property(points: list[tuple[int, int]]) -> None:
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    cx, cy, w = _cells(x, y)
    c = correlation(moments(cx, cy, w))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert c.code == "zero_variance" and c.r is None
        return
    assert c.r == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-9)
    assert spearman(cx, cy, w) == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-9)


def test_degenerate_codes() -> None:
    assert correlation(moments([], [])).code == "empty"
    assert correlation(moments([1, 2], [0, 1])).code == "too_few"
    assert correlation(moments([3, 3, 3], [0, 1, 1])).code == "zero_variance"


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_weighted_quantile_equals_numpy(q: float) -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 15, 301).astype(float)
    v, c = np.unique(data, return_counts=True)
    assert weighted_quantile(v, c, q) == pytest.approx(np.quantile(data, q), abs=1e-12)
    assert weighted_quantile([], [], 0.5) is None


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 1200), (1, 3)])
def test_wilson_equals_statsmodels(k: int, n: int) -> None:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson(k, n) == pytest.approx((lo, hi), abs=1e-12)
    assert wilson(0, 0) is None


def test_two_proportion_equals_statsmodels() -> None:
    t = two_proportion(120, 1000, 95, 1000)
    z, p = proportions_ztest([120, 95], [1000, 1000])
    assert t.z == pytest.approx(z, abs=1e-12) and t.p_value == pytest.approx(p, abs=1e-12)
    assert t.diff == pytest.approx(0.025)
    assert two_proportion(0, 0, 1, 10).code == "empty"
    assert two_proportion(0, 10, 0, 10).code == "zero_variance"
