"""Attribution: which channels really produced the conversions and the revenue.

Every model works on :class:`PathCounts` (distinct channel paths with conversions, nulls and
value), which the engine reduces raw touches and web events to
(:func:`levier.analysis.attribution.journeys.path_counts`) or which a user brings as a CSV
file (:func:`read_paths_csv`). Time-decay needs touch times and runs in the engine.

    from levier.analysis.attribution import PathCounts, markov, shapley, rule
    pc = PathCounts.from_records([("A>B>C", 3, 2), ("A", 0, 4)])
    markov(pc, order=2).to_frame()
"""

from __future__ import annotations

from levier.analysis.attribution.journeys import (
    JourneyOptions,
    path_counts,
    set_counts,
    time_decay,
    time_to_conversion,
)
from levier.analysis.attribution.markov import MarkovChain, MarkovDetails, build_chain, markov
from levier.analysis.attribution.paths import PathCounts, parse_path, read_paths_csv
from levier.analysis.attribution.result import MODELS, Attribution, Comparison
from levier.analysis.attribution.rules import RULES, rule, time_decay_weights
from levier.analysis.attribution.run import attribute, attribute_paths
from levier.analysis.attribution.shapley import ShapleyDetails, shapley
from levier.analysis.attribution.value import ValueTable, channel_value, spend_by_channel

__all__ = [
    "JourneyOptions",
    "MODELS",
    "ValueTable",
    "attribute",
    "attribute_paths",
    "channel_value",
    "path_counts",
    "set_counts",
    "spend_by_channel",
    "time_decay",
    "time_to_conversion",
    "Attribution",
    "Comparison",
    "MarkovChain",
    "MarkovDetails",
    "PathCounts",
    "RULES",
    "ShapleyDetails",
    "build_chain",
    "markov",
    "parse_path",
    "read_paths_csv",
    "rule",
    "shapley",
    "time_decay_weights",
]
