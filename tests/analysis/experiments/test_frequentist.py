"""Frequentist engine: golden numbers (gbstats conventions), SciPy/statsmodels, simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as sm_wald

from levier.analysis.experiments.frequentist import ttest, ttest_arrays
from levier.analysis.experiments.moments import moments_arrays
from levier.analysis.experiments.statistics import ProportionStatistic, SampleMeanStatistic

A = ProportionStatistic(n=10000, sum=1000)
B = ProportionStatistic(n=10000, sum=1100)


def test_reference_relative_lift() -> None:
    r = ttest(A, B, difference="relative")
    assert r.estimate == pytest.approx(0.1, abs=1e-9)
    assert round(r.se, 7) == 0.0454753
    assert round(r.ci_low, 7) == 0.0108647
    assert round(r.ci_high, 7) == 0.1891353
    assert round(r.p_value, 7) == 0.0278895
    assert r.ok and r.significant


def test_reference_absolute_difference() -> None:
    r = ttest(A, B, difference="absolute")
    assert r.estimate == pytest.approx(0.01, abs=1e-12)
    assert round(r.ci_low, 7) == 0.0015035
    assert round(r.ci_high, 7) == 0.0184965
    assert round(r.p_value, 7) == 0.0210683


def test_one_sided_halves_the_two_sided_p_value() -> None:
    two = ttest(A, B, difference="absolute")
    greater = ttest(A, B, difference="absolute", alternative="greater")
    less = ttest(A, B, difference="absolute", alternative="less")
    assert greater.p_value == pytest.approx(two.p_value / 2, rel=1e-9)
    assert less.p_value == pytest.approx(1 - two.p_value / 2, rel=1e-9)
    assert greater.ci_high == np.inf and less.ci_low == -np.inf
    assert greater.ci_low > two.ci_low


def test_matches_scipy_welch_on_unit_data() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(10, 3, 400), rng.normal(10.6, 5, 300)
    a = SampleMeanStatistic(len(x), x.sum(), (x * x).sum())
    b = SampleMeanStatistic(len(y), y.sum(), (y * y).sum())
    ref = sps.ttest_ind(y, x, equal_var=False)
    r = ttest(a, b, difference="absolute", distribution="t")
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    lo, hi = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
    ref_greater = sps.ttest_ind(y, x, equal_var=False, alternative="greater")
    assert ttest(a, b, difference="absolute", alternative="greater").p_value == pytest.approx(ref_greater.pvalue)


def test_z_matches_statsmodels_wald_for_proportions() -> None:
    r = ttest(A, B, difference="absolute", distribution="z")
    stat, p = sm_wald(1100, 10000, 1000, 10000, method="wald")
    lo, hi = confint_proportions_2indep(1100, 10000, 1000, 10000, method="wald")
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))


def test_auto_switches_to_z_for_huge_samples() -> None:
    big_a, big_b = ProportionStatistic(10**8, 10**7), ProportionStatistic(10**8, 10**7 + 5000)
    auto = ttest(big_a, big_b, distribution="auto")
    z = ttest(big_a, big_b, distribution="z")
    assert auto.p_value == z.p_value


@pytest.mark.parametrize(
    ("a", "b", "code"),
    [
        (ProportionStatistic(0, 0), ProportionStatistic(100, 10), "empty_arm"),
        (ProportionStatistic(1, 1), ProportionStatistic(100, 10), "too_few_units"),
        (ProportionStatistic(100, 0), ProportionStatistic(100, 0), "no_conversions"),
        (ProportionStatistic(100, 0), ProportionStatistic(100, 3), "zero_variance"),
        (SampleMeanStatistic(10, 20, 40), SampleMeanStatistic(10, 25, 70), "zero_variance"),
        (SampleMeanStatistic(10, 0, 10), SampleMeanStatistic(10, 5, 70), "zero_baseline"),
    ],
)
def test_degenerate_inputs_return_a_code(a, b, code) -> None:  # noqa: ANN001
    r = ttest(a, b)
    assert r.code == code and not r.ok and not r.significant
    assert r.to_dict()["p_value"] is None and r.to_dict()["message"]


def test_zero_baseline_is_fine_in_absolute() -> None:
    r = ttest(SampleMeanStatistic(10, 0, 10), SampleMeanStatistic(10, 5, 70), difference="absolute")
    assert r.ok and r.estimate == pytest.approx(0.5)


def _simulate(rng: np.random.Generator, sims: int, n: int, p_a: float, p_b: float, difference: str):
    ca, cb = rng.binomial(n, p_a, sims), rng.binomial(n, p_b, sims)
    ma, mb = ca / n, cb / n
    est, se, dof = moments_arrays(ma, ma * (1 - ma), n, mb, mb * (1 - mb), n, difference)
    return est, se, dof


def test_aa_false_positive_rate() -> None:
    rng = np.random.default_rng(20261001)
    est, se, dof = _simulate(rng, 20000, 2000, 0.1, 0.1, "relative")
    p, _, _ = ttest_arrays(est, se, dof)
    rate = float(np.mean(p < 0.05))
    assert 0.04 <= rate <= 0.06, rate


def test_confidence_interval_coverage() -> None:
    rng = np.random.default_rng(7)
    est, se, dof = _simulate(rng, 20000, 3000, 0.2, 0.22, "absolute")
    _, lo, hi = ttest_arrays(est, se, dof)
    coverage = float(np.mean((lo <= 0.02) & (0.02 <= hi)))
    assert 0.94 <= coverage <= 0.96, coverage


def test_relative_interval_coverage_delta_method() -> None:
    rng = np.random.default_rng(11)
    est, se, dof = _simulate(rng, 20000, 5000, 0.2, 0.22, "relative")
    _, lo, hi = ttest_arrays(est, se, dof)
    coverage = float(np.mean((lo <= 0.1) & (0.1 <= hi)))
    assert 0.94 <= coverage <= 0.96, coverage
