"""Multiple-testing corrections against statsmodels' multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.multiple import adjust_results, benjamini_hochberg, holm
from levier.analysis.experiments.statistics import ProportionStatistic


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_holm_and_bh_match_statsmodels(seed: int) -> None:
    p = np.random.default_rng(seed).uniform(0, 0.2, 17)
    p[3] = p[5]  # ties
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])


def test_adjust_results_fills_p_adjusted_and_significance() -> None:
    a = ProportionStatistic(10000, 1000)
    results = [ttest(a, ProportionStatistic(10000, s)) for s in (1100, 1040, 1000)]
    results.append(ttest(ProportionStatistic(0, 0), a))  # undefined, left alone
    adj = adjust_results(results, "holm")
    ref = multipletests([r.p_value for r in results[:3]], method="holm")[1]
    assert [r.p_adjusted for r in adj[:3]] == pytest.approx(ref)
    assert adj[3].p_adjusted is None
    assert results[0].significant and adj[0].significant == (ref[0] < 0.05)
