"""Mid-experiment power: closed form and consistency with design."""

from __future__ import annotations

import pytest

from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.power import mid_experiment_power
from levier.analysis.experiments.statistics import ProportionStatistic


def test_how_much_longer() -> None:
    r = ttest(ProportionStatistic(2000, 200), ProportionStatistic(2000, 215), distribution="z")
    mp = mid_experiment_power(r, 0.1, daily_units=400)
    assert mp.current_power < 0.8 and mp.code == "ok"
    # at n_needed the standard error is target / (z_.975 + z_.8)
    assert r.se * (mp.n_current / mp.n_needed) ** 0.5 == pytest.approx(0.1 / (1.959964 + 0.841621), rel=1e-5)
    assert mp.days_left == pytest.approx(mp.extra_units / 400)


def test_enough_data_and_undefined() -> None:
    r = ttest(ProportionStatistic(100000, 10000), ProportionStatistic(100000, 11000))
    assert mid_experiment_power(r, 0.1).code == "enough"
    bad = ttest(ProportionStatistic(0, 0), ProportionStatistic(10, 1))
    assert mid_experiment_power(bad, 0.1).code == "undefined"
