"""Experiments: protocol, design, assignment, analysis (frequentist, Bayesian, sequential), decision.

Pure statistics work on sufficient statistics (:mod:`.statistics`); the engine computes those
from assignments + facts (:mod:`.analysis`). See docs/experiments.md.
"""

from __future__ import annotations

from levier.analysis.experiments.analysis import collect_statistics
from levier.analysis.experiments.assignment import (
    AssignmentPlan,
    assign_batch,
    assign_variant,
    bucket,
    plan_assignments,
)
from levier.analysis.experiments.bayesian import GaussianPrior, bayesian
from levier.analysis.experiments.data import ExperimentData
from levier.analysis.experiments.decision import Decision, decide
from levier.analysis.experiments.design import (
    DesignResult,
    design,
    minimum_detectable_effect,
    sample_size,
)
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.moments import EffectMoments, effect_moments
from levier.analysis.experiments.multiple import adjust_results, benjamini_hochberg, holm
from levier.analysis.experiments.power import MidPower, mid_experiment_power
from levier.analysis.experiments.protocol import Arm, Protocol, ProtocolStore, render_protocol
from levier.analysis.experiments.readout import ExperimentResult, ReadoutOptions, read_out
from levier.analysis.experiments.results import EffectResult
from levier.analysis.experiments.sequential import sequential
from levier.analysis.experiments.srm import SrmResult, srm_check
from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from levier.analysis.experiments.summary import parse_summary, read_summary

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
    "bucket",
    "assign_variant",
    "assign_batch",
    "plan_assignments",
    "AssignmentPlan",
    "MetricSpec",
    "Arm",
    "Protocol",
    "ProtocolStore",
    "render_protocol",
    "ExperimentData",
    "collect_statistics",
    "read_summary",
    "parse_summary",
    "ReadoutOptions",
    "ExperimentResult",
    "read_out",
    "Decision",
    "decide",
]
