"""Experiments: protocol, design, assignment, analysis (frequentist, Bayesian, sequential), decision.

Pure statistics work on sufficient statistics (:mod:`.statistics`); the engine computes those
from assignments + facts (:mod:`.analysis`). See docs/experiments.md.
"""

from __future__ import annotations

from levier.analysis.experiments.bayesian import GaussianPrior, bayesian
from levier.analysis.experiments.design import (
    DesignResult,
    design,
    minimum_detectable_effect,
    sample_size,
)
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.moments import EffectMoments, effect_moments
from levier.analysis.experiments.multiple import adjust_results, benjamini_hochberg, holm
from levier.analysis.experiments.power import MidPower, mid_experiment_power
from levier.analysis.experiments.results import EffectResult
from levier.analysis.experiments.sequential import sequential
from levier.analysis.experiments.srm import SrmResult, srm_check
from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

__all__ = [
    "ProportionStatistic",
    "SampleMeanStatistic",
    "RatioStatistic",
    "RegressionAdjustedStatistic",
    "EffectMoments",
    "effect_moments",
    "EffectResult",
    "ttest",
    "bayesian",
    "GaussianPrior",
    "sequential",
    "srm_check",
    "SrmResult",
    "holm",
    "benjamini_hochberg",
    "adjust_results",
    "design",
    "DesignResult",
    "sample_size",
    "minimum_detectable_effect",
    "mid_experiment_power",
    "MidPower",
]
