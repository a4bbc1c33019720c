"""Design: sample size and MDE against statsmodels power, duration and warnings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power

from levier.analysis.experiments.design import design, minimum_detectable_effect, sample_size
from levier.errors import OptionError


def test_proportion_sample_size_matches_normal_ind_power() -> None:
    es = 0.01 / np.sqrt((0.1 * 0.9 + 0.11 * 0.89) / 2)
    ref = NormalIndPower().solve_power(es, power=0.8, alpha=0.05, ratio=1)
    assert sample_size(0.1, 0.1) == pytest.approx(ref, rel=1e-6)


def test_mean_sample_size_matches_t_test_power_with_ratio() -> None:
    ref = tt_ind_solve_power(effect_size=0.25, power=0.9, alpha=0.01, ratio=2.0)
    n = sample_size(40, 0.25 * 8 / 40, kind="mean", sd=8, power=0.9, alpha=0.01, ratio=2.0, distribution="t")
    assert n == pytest.approx(ref, rel=1e-5)


def test_one_sided_needs_fewer_units() -> None:
    ref = NormalIndPower().solve_power(0.2, power=0.8, alpha=0.05, alternative="larger")
    assert sample_size(10, 0.2, kind="mean", sd=10, alternative="greater") == pytest.approx(ref, rel=1e-6)


def test_mde_inverts_sample_size() -> None:
    n = sample_size(0.08, 0.15)
    assert minimum_detectable_effect(n, 0.08) == pytest.approx(0.15, rel=1e-6)


def test_design_with_traffic_and_warnings() -> None:
    d = design(0.1, mde=0.1, daily_units=500)
    assert d.n_per_arm == (14749, 14749) and d.days == math.ceil(29498 / 500)
    assert d.warnings == ("long",)
    small = design(0.3, mde=0.5, daily_units=1000)
    assert set(small.warnings) == {"small_n", "short", "implausible_mde"}
    assert "200" in small.to_dict()["warnings"][0]["message"]


def test_design_from_n_gives_mde_and_unequal_weights() -> None:
    d = design(0.1, n_per_arm=1000, arms=("control", "a", "b"), weights=(2, 1, 1))
    assert d.n_per_arm == (1000, 500, 500)
    assert d.mde_relative == pytest.approx(minimum_detectable_effect(1000, 0.1, ratio=0.5))
    assert "implausible_mde" in d.warnings


def test_bad_inputs_raise_option_errors() -> None:
    with pytest.raises(OptionError):
        design(0.9, mde=0.5)
    with pytest.raises(OptionError):
        design(10, mde=0.1, kind="mean")
    with pytest.raises(OptionError):
        design(0.1)
