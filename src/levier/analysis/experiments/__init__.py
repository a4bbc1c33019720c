"""Experiments: protocol, design, assignment, analysis (frequentist, Bayesian, sequential), decision.

Pure statistics work on sufficient statistics (:mod:`.statistics`); the engine computes those
from assignments + facts (:mod:`.analysis`). See docs/experiments.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Names are loaded on first use (PEP 562): a web worker that only serves variants imports the
# hashing module, not SciPy and the statistics (a worker starts seconds faster).
_WHERE: dict[str, str] = {
    "collect_statistics": "analysis",
    "AssignmentPlan": "assignment",
    "assign_batch": "assignment",
    "assign_variant": "assignment",
    "bucket": "assignment",
    "plan_assignments": "assignment",
    "split_units": "assignment",
    "UnitSplit": "assignment",
    "GaussianPrior": "bayesian",
    "bayesian": "bayesian",
    "ExperimentData": "data",
    "Decision": "decision",
    "plan_in_engine": "engine",
    "read_unit_file": "unit_files",
    "decide": "decision",
    "DesignResult": "design",
    "design": "design",
    "minimum_detectable_effect": "design",
    "sample_size": "design",
    "ttest": "frequentist",
    "MetricSpec": "metrics",
    "EffectMoments": "moments",
    "effect_moments": "moments",
    "adjust_results": "multiple",
    "benjamini_hochberg": "multiple",
    "holm": "multiple",
    "MidPower": "power",
    "mid_experiment_power": "power",
    "Arm": "protocol",
    "Protocol": "protocol",
    "ProtocolStore": "protocol",
    "render_protocol": "protocol",
    "ExperimentResult": "readout",
    "ReadoutOptions": "readout",
    "read_out": "readout",
    "EffectResult": "results",
    "sequential": "sequential",
    "SrmResult": "srm",
    "srm_check": "srm",
    "ProportionStatistic": "statistics",
    "RatioStatistic": "statistics",
    "RegressionAdjustedStatistic": "statistics",
    "SampleMeanStatistic": "statistics",
    "parse_summary": "summary",
    "read_summary": "summary",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
    "split_units",
    "UnitSplit",
    "AssignmentPlan",
    "plan_in_engine",
    "read_unit_file",
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
