"""SRM check against SciPy's chi-square goodness of fit."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from levier.analysis.experiments.srm import srm_check


def test_matches_scipy_chisquare() -> None:
    r = srm_check({"control": 5100, "treatment": 4900})
    ref = sps.chisquare([5100, 4900])
    assert r.chi2 == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert not r.mismatch


def test_weights_and_mismatch() -> None:
    r = srm_check({"a": 5000, "b": 2700, "c": 2300}, {"a": 0.5, "b": 0.25, "c": 0.25})
    ref = sps.chisquare([5000, 2700, 2300], [5000, 2500, 2500])
    assert r.p_value == pytest.approx(ref.pvalue) and r.mismatch


def test_not_applicable() -> None:
    assert srm_check({"a": 10}).code == "not_applicable"
    assert not srm_check({"a": 0, "b": 0}).mismatch
