"""Response-curve binning and shape classification on synthetic curves with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from levier.analysis.curves import bin_counts, classify_shape

X = np.arange(0, 16, dtype=float)
N = np.full_like(X, 400)


def _truth(kind: str) -> np.ndarray:
    return {
        "plateau": 0.05 + 0.05 * np.minimum(X, 6),
        "s": 0.04 + 0.4 / (1 + np.exp(-1.2 * (X - 7))),
        "u": 0.30 - 0.004 * (X - 7) ** 2,
        "linear": 0.05 + 0.02 * X,
        "none": np.full_like(X, 0.2),
    }[kind]


@pytest.mark.parametrize("kind", ["plateau", "s", "u", "linear", "none"])
def test_shape_recovered_on_synthetic_curves(kind: str) -> None:
    rng = np.random.default_rng(11)
    k = rng.binomial(N.astype(int), _truth(kind))
    fit = classify_shape(X, N, k)
    assert fit.shape == kind, fit.bic
    if kind == "plateau":
        assert 5 <= fit.knee <= 7
    if kind == "s":
        assert 7 <= fit.knee <= 10  # 90 % of the rise at m + ln 9 / s ≈ 8.8
    if kind == "u":
        assert fit.optimum == pytest.approx(7, abs=1)


def test_degenerate_curves_return_codes() -> None:
    assert classify_shape([1, 2], [10, 10], [1, 2]).code == "too_few"
    assert classify_shape(X, N, np.zeros_like(X)).code == "zero_variance"


def test_bins_merge_sparse_tail_and_wilson() -> None:
    bins = bin_counts([0, 1, 2, 3, 4], [50, 40, 30, 5, 3], [1, 4, 6, 1, 2], min_n=20)
    assert [b.label for b in bins] == ["0", "1", "≥2"]
    last = bins[-1]
    assert (last.n, last.conversions) == (38, 9)
    assert last.x == pytest.approx((2 * 30 + 3 * 5 + 4 * 3) / 38)
    from statsmodels.stats.proportion import proportion_confint

    assert last.ci == pytest.approx(proportion_confint(9, 38, method="wilson"))


def test_bins_with_edges() -> None:
    bins = bin_counts([0.5, 1.5, 3, 30], [10, 20, 30, 40], [5, 5, 5, 5], edges=[0, 1, 2, 4, 8], unit="h")
    assert [b.label for b in bins] == ["0–1h", "1–2h", "2–4h", "≥8h"]
    assert [b.n for b in bins] == [10, 20, 30, 40]
