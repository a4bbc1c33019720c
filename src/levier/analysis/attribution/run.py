"""One entry point: attribute a workspace (or path counts) with several models side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from levier.analysis.attribution.engine import (
    first_touch_counts,
    journey_summary,
    markov_engine,
    rules_from_transitions,
    summary_from_transitions,
    transition_counts,
)
from levier.analysis.attribution.journeys import (
    JourneyOptions,
    journey_parts,
    set_counts,
    time_decay,
)
from levier.analysis.attribution.markov import markov
from levier.analysis.attribution.paths import PathCounts, read_paths_csv
from levier.analysis.attribution.result import MODELS, Attribution, Comparison
from levier.analysis.attribution.rules import RULES, rule
from levier.analysis.attribution.shapley import shapley
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["attribute", "attribute_paths", "check_models"]


def check_models(models: Sequence[str]) -> tuple[str, ...]:
    """Validate model names (``position`` also accepted as ``position_based``)."""
    out = []
    for m in models:
        name = "position" if m == "position_based" else m.strip().lower()
        if name not in MODELS:
            raise OptionError(_("Unknown attribution model '{model}'; use one of: {models}.", model=m, models=", ".join(MODELS)))
        out.append(name)
    if not out:
        raise OptionError(_("Choose at least one attribution model."))
    return tuple(dict.fromkeys(out))


def _one(pc: PathCounts, model: str, *, order: int, ordered: bool, sets: PathCounts | None = None) -> Attribution:
    if model in RULES:
        return rule(pc, model)
    if model == "markov":
        return markov(pc, order=order)
    if model == "shapley":
        return shapley(sets if (sets is not None and not ordered) else pc, ordered=ordered)
    raise OptionError(_("Time-decay needs touch times: run it on a workspace, not on path counts."),
                      hint=_("Use another model with --paths, or drop --paths to read the workspace."))


def attribute_paths(paths: PathCounts | str | Path, models: Sequence[str] = ("markov",), *, order: int = 1,
                    ordered_shapley: bool = False) -> Comparison:
    """Attribute path counts (or a path-level CSV file) with each model in ``models``."""
    pc = paths if isinstance(paths, PathCounts) else read_paths_csv(paths)
    names = check_models(models)
    results = tuple(_one(pc, m, order=order, ordered=ordered_shapley) for m in names)
    source: dict[str, Any] = {"kind": "paths", **pc.to_dict()}
    if not isinstance(paths, PathCounts):
        source["file"] = str(paths)
    return Comparison(results, source)


def attribute(ws: Any, models: Sequence[str] = ("markov",), *, options: JourneyOptions | None = None, order: int = 1,
              half_life_days: float = 7.0, ordered_shapley: bool = False, parts: int | None = None) -> Comparison:
    """Attribute the workspace's journeys with each model in ``models``, from engine aggregates.

    No path reaches the driver: rule credits and totals come back per channel, the Markov
    chain as transition counts per state pair, Shapley as channel sets (or first-touch
    sequences) — all bounded by the channels, not the data (:mod:`.engine`). Same results as
    :func:`attribute_paths` on ``path_counts(ws, options)``. Every engine query runs on the same
    hash parts of the journeys (``parts``, counted once here when not given: decision 0206).
    """
    opts = options or JourneyOptions()
    names = check_models(models)
    parts = journey_parts(ws, opts) if parts is None else parts
    wanted = [m for m in names if m in RULES]
    need = "markov" in names or wanted
    transitions = transition_counts(ws, opts, order if "markov" in names else 1, parts=parts) if need else None
    summary = journey_summary(ws, opts, parts=parts) if transitions is None else summary_from_transitions(transitions)
    if summary.journeys == 0:
        raise OptionError(_("No journey in the period: nothing to attribute."),
                          hint=_("Import web_events or touches, or widen --period / --lookback."))
    rules = rules_from_transitions(transitions, wanted, summary=summary) if wanted else {}
    results = []
    for m in names:
        if m in rules:
            results.append(rules[m])
        elif m == "time_decay":
            results.append(time_decay(ws, opts, half_life_days, channels=summary.channels, parts=parts))
        elif m == "markov":
            results.append(markov_engine(ws, opts, order, transitions=transitions))
        else:
            sets = first_touch_counts(ws, opts, parts=parts) if ordered_shapley else set_counts(ws, opts, parts=parts)
            results.append(shapley(sets, ordered=ordered_shapley))
    source = {"kind": "workspace", "options": opts.to_dict(), **summary.to_dict()}
    return Comparison(tuple(results), source)
