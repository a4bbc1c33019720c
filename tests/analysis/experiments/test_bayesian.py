"""Bayesian engine: gbstats golden number, closed-form risk, priors, inverse metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from levier.analysis.experiments.bayesian import GaussianPrior, bayesian, expected_losses
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.statistics import ProportionStatistic

A = ProportionStatistic(n=10000, sum=1000)
B = ProportionStatistic(n=10000, sum=1100)


def test_reference_chance_to_win_improper_prior() -> None:
    r = bayesian(A, B)
    assert round(r.chance_to_win, 7) == 0.9860609
    assert r.estimate == pytest.approx(0.1)
    f = ttest(A, B)
    lo, hi = sps.norm.ppf([0.025, 0.975], f.estimate, f.se)
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert r.significant


def test_expected_losses_match_numerical_integration() -> None:
    mu, sigma = 0.1, 0.0454753
    ctrl, trt = expected_losses(mu, sigma)
    num_ctrl = integrate.quad(lambda x: x * sps.norm.pdf(x, mu, sigma), 0, np.inf)[0]
    num_trt = integrate.quad(lambda x: -x * sps.norm.pdf(x, mu, sigma), -np.inf, 0)[0]
    assert ctrl == pytest.approx(num_ctrl, rel=1e-7)
    assert trt == pytest.approx(num_trt, rel=1e-6)
    r = bayesian(A, B)
    assert r.risk_control == pytest.approx(ctrl, rel=1e-4) and r.risk_treatment == pytest.approx(trt, rel=1e-4)
    assert r.risk_control - r.risk_treatment == pytest.approx(r.estimate)  # E[X+] - E[X-] = E[X]


def test_proper_prior_shrinks_towards_prior_mean() -> None:
    flat = bayesian(A, B)
    prior = GaussianPrior(mean=0.0, variance=0.05**2, proper=True)
    shrunk = bayesian(A, B, prior=prior)
    post_var = 1 / (1 / flat.se**2 + 1 / 0.05**2)
    assert shrunk.se == pytest.approx(np.sqrt(post_var))
    assert shrunk.estimate == pytest.approx(post_var * flat.estimate / flat.se**2)
    assert 0 < shrunk.estimate < flat.estimate and shrunk.chance_to_win < flat.chance_to_win


def test_prior_on_relative_lift_is_rescaled_for_absolute() -> None:
    prior = GaussianPrior(mean=0.05, variance=0.1**2, proper=True)
    rel = bayesian(A, B, prior=prior)
    ab = bayesian(A, B, prior=prior, difference="absolute")
    assert ab.estimate / 0.1 == pytest.approx(rel.estimate, rel=0.01)


def test_inverse_metric_flips_chance_and_risk() -> None:
    r, inv = bayesian(A, B), bayesian(A, B, inverse=True)
    assert inv.chance_to_win == pytest.approx(1 - r.chance_to_win)
    assert (inv.risk_control, inv.risk_treatment) == (r.risk_treatment, r.risk_control)


def test_degenerate_returns_code() -> None:
    r = bayesian(ProportionStatistic(100, 0), ProportionStatistic(100, 0))
    assert r.code == "no_conversions" and r.to_dict()["chance_to_win"] is None
