"""Sufficient statistics: means, variances, delta-method ratio, additivity, round trip."""

from __future__ import annotations

import numpy as np
import pytest

from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    SampleMeanStatistic,
    statistic_from_dict,
)


def test_sample_mean_matches_numpy() -> None:
    x = np.random.default_rng(0).exponential(3, 500)
    s = SampleMeanStatistic(len(x), x.sum(), (x * x).sum())
    assert s.mean == pytest.approx(x.mean()) and s.variance == pytest.approx(x.var(ddof=1))


def test_proportion_variance_gbstats_convention() -> None:
    s = ProportionStatistic(10000, 1000)
    assert s.mean == 0.1 and s.variance == pytest.approx(0.09) and s.sum_squares == 1000


def test_ratio_delta_method_against_bootstrap_free_formula() -> None:
    rng = np.random.default_rng(1)
    d = rng.poisson(5, 4000).astype(float) + 1
    m = rng.binomial(d.astype(int), 0.1).astype(float)
    r = RatioStatistic(len(d), SampleMeanStatistic(len(m), m.sum(), (m * m).sum()),
                       SampleMeanStatistic(len(d), d.sum(), (d * d).sum()), float((m * d).sum()))
    assert r.mean == pytest.approx(m.sum() / d.sum())
    # linearisation: var of (m - R d) / mean(d)
    lin = (m - r.mean * d) / d.mean()
    assert r.variance == pytest.approx(lin.var(ddof=1), rel=1e-3)


def test_addition_and_round_trip() -> None:
    a, b = SampleMeanStatistic(10, 20, 50), SampleMeanStatistic(5, 10, 30)
    assert a + b == SampleMeanStatistic(15, 30, 80)
    assert ProportionStatistic(10, 2) + ProportionStatistic(10, 3) == ProportionStatistic(20, 5)
    r = RatioStatistic(10, SampleMeanStatistic(10, 3, 5), SampleMeanStatistic(10, 40, 200), 14)
    assert statistic_from_dict(r.to_dict()) == r
    assert statistic_from_dict(a.to_dict()) == a
