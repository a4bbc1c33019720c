"""Attribution: which channels really produced the conversions and the revenue.

On a workspace (:func:`attribute`), the engine returns only aggregates bounded by the channels
(Markov transition counts per state pair with every rule model's credit, channel sets for
Shapley: :mod:`levier.analysis.attribution.engine`, decision 0180). The path models work on
:class:`PathCounts` (distinct channel paths with conversions, nulls and value) that a user
brings as a CSV file (:func:`read_paths_csv`, :func:`attribute_paths`) or that
:func:`levier.analysis.attribution.journeys.path_counts` exports; both give the same numbers.
Time-decay needs touch times and runs in the engine.

    from levier.analysis.attribution import PathCounts, markov, shapley, rule
    pc = PathCounts.from_records([("A>B>C", 3, 2), ("A", 0, 4)])
    markov(pc, order=2).to_frame()
"""

from __future__ import annotations

from levier.analysis.attribution.engine import JourneySummary, top_paths, transition_counts
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
    "JourneySummary",
    "top_paths",
    "transition_counts",
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
