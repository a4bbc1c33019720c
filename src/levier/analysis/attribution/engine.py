"""Attribution sufficient statistics aggregated in the engine: bounded by channels, not data.

The path-based models need every distinct path on the driver, and distinct paths grow with
the data. On a workspace the engine instead numbers the touches of each journey (window
functions over journey order: ``row_number``, ``count``, ``lag``) and returns only

- :func:`journey_summary` / :func:`rule_credits`: one row per channel — the journeys,
  conversions and value (each journey counted at its first touch) and the credit of every
  rule model (first, last, last non-direct, linear, position-based) summed per channel;
- :func:`transition_counts`: one row per observed ``(k + 1)``-gram of channels — the
  transitions of the order-``k`` Markov chain, with the journeys that end there converted or
  not and their value — from which :func:`chain_from_transitions` builds the very
  :class:`~levier.analysis.attribution.markov.MarkovChain` that ``build_chain`` builds from
  path counts (same states, same order, same counts);
- :func:`first_touch_counts`: the first-touch sequences of ordered Shapley (bounded by the
  ordered subsets of channels); :func:`top_paths`: the ``n`` most frequent paths only.

Touches are ordered by time, then channel label (the order of ``path_counts``); a touch
without a label is skipped, as in a path string.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import scipy.sparse as sp

from levier.analysis.attribution.journeys import (
    JourneyOptions,
    _counts,
    _reduce_frame,
    journey_touches,
    part_list,
)
from levier.analysis.attribution.markov import MAX_ORDER, MarkovChain, _decode, markov_from_chain
from levier.analysis.attribution.paths import DIRECT, SEPARATOR, PathCounts
from levier.analysis.attribution.result import Attribution
from levier.analysis.attribution.rules import POSITION_SHARES, RULES, check_shares
from levier.data.parts import Part, add_frames, stacked
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = [
    "JourneySummary", "ordered_touches", "journey_summary", "summary_from_transitions", "rule_credits",
    "rules_from_transitions",
    "transition_table", "transition_counts",
    "chain_from_transitions", "markov_engine", "first_touch_counts", "top_paths",
]


@dataclass(frozen=True)
class JourneySummary:
    """Channels and totals of the journeys, without any path: what the driver holds."""

    channels: tuple[str, ...]
    journeys: float
    conversions: float
    value: float

    @property
    def nulls(self) -> float:
        return self.journeys - self.conversions

    def to_dict(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "journeys": self.journeys, "conversions": self.conversions,
                "nulls": self.nulls, "value": self.value}


def _labelled(ws: Any, opts: JourneyOptions | None, part: Part | None = None) -> ir.Table:
    """Journey touches with a label (a null label is skipped, as a path string skips it).

    Labels are not stripped here: imported text is already trimmed, empty text is null
    (``data.ingest.convert``) and web labels are built from stripped values — a ``strip()``
    over every touch would cost more than the whole window query.
    """
    jt = journey_touches(ws, opts, part)
    return jt.filter(jt.channel.notnull())


def ordered_touches(ws: Any, opts: JourneyOptions | None = None, *, converted_only: bool = False,
                    part: Part | None = None) -> ir.Table:
    """Journey touches with ``pos`` (1 … ``steps``) in journey order and ``steps`` per journey
    (``converted_only``: the converting journeys only; ``part``: one hash part of the journeys)."""
    jt = _labelled(ws, opts, part)
    if converted_only:
        jt = jt.filter(jt.converted == 1)
    order = ibis.window(group_by=jt.journey, order_by=[jt.at, jt.channel])
    whole = ibis.window(group_by=jt.journey, order_by=[jt.at, jt.channel], rows=(None, None))  # same sort
    return jt.mutate(pos=ibis.row_number().over(order) + 1, steps=jt.channel.count().over(whole))


def _position_weight(t: ir.Table, shares: tuple[float, float, float]) -> ir.FloatingValue:
    first, middle, last = (float(s) for s in shares)
    two = first + last
    return ibis.cases(
        (t.steps == 1, 1.0),
        (t.steps == 2, ibis.ifelse(t.pos == 1, first / two if two else 0.0, last / two if two else 0.0)),
        (t.pos == 1, first), (t.pos == t.steps, last),
        else_=middle / (t.steps - 2).cast("float64"),
    )


def journey_summary(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None) -> JourneySummary:
    """Channels (sorted) and journeys / conversions / value totals: two small engine aggregates
    per hash part of the journeys (``parts``; :func:`~.journeys.journey_parts` when not given)."""
    totals, chans = [], set()
    for part in part_list(ws, parts, opts):
        t = _labelled(ws, opts or JourneyOptions(), part)
        per = t.group_by("journey").agg(c=t.converted.max(), v=t.value.max())
        totals.append(per.agg(journeys=per.count(), conversions=per.c.sum(), value=(per.v * per.c).sum()).execute())
        chans.update(str(c) for c in t.select("channel").distinct().execute()["channel"])
    tot = add_frames(totals, [])
    row = tot.iloc[0]
    return JourneySummary(tuple(sorted(chans)), float(np.nan_to_num(row["journeys"])), float(np.nan_to_num(row["conversions"])),
                          float(np.nan_to_num(row["value"])))


def summary_from_transitions(df: pd.DataFrame) -> JourneySummary:
    """The same summary read off :func:`transition_counts` (each journey ends exactly once)."""
    conv = float(df["conversions"].sum()) if len(df) else 0.0
    return JourneySummary(tuple(sorted({str(c) for c in df["channel"]})), conv + (float(df["nulls"].sum()) if len(df) else 0.0),
                          conv, float(np.nan_to_num(df["value"].to_numpy(dtype=float)).sum()) if len(df) else 0.0)


def rule_credits(ws: Any, opts: JourneyOptions | None = None, models: Sequence[str] = RULES, *,
                 direct: Collection[str] = (DIRECT,), shares: tuple[float, float, float] = POSITION_SHARES,
                 summary: JourneySummary | None = None, parts: int | None = None) -> dict[str, Attribution]:
    """Each rule model's credits, summed in the engine (one query: the order-1 transition table).

    Equal to :func:`levier.analysis.attribution.rules.rule` on ``path_counts(ws, opts)``.
    ``summary`` (channels and totals) is queried when not given.
    """
    unknown = [m for m in models if m not in RULES]
    if unknown:
        raise OptionError(_("Unknown rule '{model}'; use one of: {rules}.", model=unknown[0], rules=", ".join(RULES)))
    check_shares(shares)
    df = transition_counts(ws, opts, 1, direct=direct, shares=shares, parts=parts)
    return rules_from_transitions(df, models, direct=direct, shares=shares, summary=summary)


def rules_from_transitions(df: pd.DataFrame, models: Sequence[str] = RULES, *, direct: Collection[str] = (DIRECT,),
                           shares: tuple[float, float, float] = POSITION_SHARES,
                           summary: JourneySummary | None = None) -> dict[str, Attribution]:
    """Rule credits per channel from the rule columns of :func:`transition_counts` (same
    ``direct`` / ``shares`` as the query): the sum over each channel's rows."""
    summary = summary or summary_from_transitions(df)
    cols = [f"{m}__{x}" for m in models for x in "cv"]
    per = df.groupby(df["channel"].astype(str))[cols].sum() if len(df) else pd.DataFrame(columns=cols)
    per = per.reindex(list(summary.channels)).fillna(0.0).astype(float)
    out: dict[str, Attribution] = {}
    for m in models:
        params: dict[str, object] = {}
        if m == "position":
            params["shares"] = list(shares)
        if m == "last_non_direct":
            params["direct"] = sorted(direct)
        out[m] = Attribution(m, summary.channels, tuple(per[f"{m}__c"].tolist()), tuple(per[f"{m}__v"].tolist()),
                             summary.conversions, summary.value, params)
    return out


def _prev(k: int) -> list[str]:
    return [f"prev_{i}" for i in range(1, k + 1)]


def transition_table(ws: Any, opts: JourneyOptions | None = None, order: int = 1, *,
                     direct: Collection[str] = (DIRECT,), shares: tuple[float, float, float] = POSITION_SHARES,
                     part: Part | None = None) -> ir.Table:
    """Ibis expression of :func:`transition_counts` (nothing executed; ``part``: one hash part of the journeys)."""
    if not 1 <= int(order) <= MAX_ORDER:
        raise OptionError(_("--order must be between 1 and {max}, not {order}.", max=MAX_ORDER, order=order))
    check_shares(shares)
    t = _labelled(ws, opts, part)
    win = ibis.window(group_by=t.journey, order_by=[t.at, t.channel])  # one sort for every window below
    whole = ibis.window(group_by=t.journey, order_by=[t.at, t.channel], rows=(None, None))
    upto = ibis.window(group_by=t.journey, order_by=[t.at, t.channel], rows=(None, 0))
    nd = ibis.ifelse(t.channel.isin(tuple(direct)), 0, 1)
    t = t.mutate(**{name: t.channel.lag(i).over(win) for i, name in enumerate(_prev(int(order)), start=1)},
                 pos=ibis.row_number().over(win) + 1, steps=t.channel.count().over(whole),
                 nd=nd, nd_all=nd.sum().over(whole), nd_upto=nd.sum().over(upto))
    end = (t.pos == t.steps).cast("int64")
    cv = t.converted.cast("float64")
    one, zero = ibis.literal(1.0), ibis.literal(0.0)
    last_nd = ibis.ifelse(t.nd_all > 0, (t.nd == 1) & (t.nd_upto == t.nd_all), t.pos == t.steps)
    weights = {
        "first": ibis.ifelse(t.pos == 1, one, zero), "last": ibis.ifelse(t.pos == t.steps, one, zero),
        "last_non_direct": ibis.ifelse(last_nd, one, zero),
        "linear": one / t.steps.cast("float64"), "position": _position_weight(t, shares),
    }
    aggs: dict[str, Any] = {"n": t.count(), "conversions": (end * t.converted).sum(),
                            "nulls": (end * (1 - t.converted)).sum(), "value": (end.cast("float64") * cv * t.value).sum()}
    for name, w in weights.items():
        aggs[f"{name}__c"] = (w * cv).sum()
        aggs[f"{name}__v"] = (w * cv * t.value).sum()
    return t.group_by([*_prev(int(order)), "channel"]).agg(**aggs)


def transition_counts(ws: Any, opts: JourneyOptions | None = None, order: int = 1, *,
                      direct: Collection[str] = (DIRECT,), shares: tuple[float, float, float] = POSITION_SHARES,
                      parts: int | None = None) -> pd.DataFrame:
    """One row per observed transition of the order-``order`` chain, aggregated in the engine.

    Columns ``prev_1 … prev_k`` (the ``k`` channels before, most recent first, null before the
    journey's start), ``channel`` (the touch), ``n`` (journeys making that step),
    ``conversions`` / ``nulls`` / ``value`` (journeys ending on that touch, converted or not,
    and their value), and ``<rule>__c`` / ``<rule>__v``: the credit of each rule model given
    to these touches (converting journeys only). Rows ≤ observed ``(k + 1)``-grams of
    channels, whatever the data size: one pass (one sort per journey) feeds every model but
    Shapley and time-decay. On an embedded DuckDB engine with more than
    :data:`~levier.data.parts.PART_ROWS` touches, one query per hash part of
    the journeys, their rows added (every column is a count or a sum over journeys); ``parts``
    gives their number when the caller has counted it (:func:`~.journeys.journey_parts`).
    """
    frames = [transition_table(ws, opts, order, direct=direct, shares=shares, part=part).execute()
              for part in part_list(ws, parts, opts)]
    return add_frames(frames, [*_prev(int(order)), "channel"])


def _codes(col: pd.Series, index: dict[str, int]) -> np.ndarray:
    return col.map(lambda x: index.get(x, 0) if isinstance(x, str) else 0).to_numpy(dtype=np.int64)


def chain_from_transitions(df: pd.DataFrame, order: int) -> tuple[MarkovChain, tuple[str, ...]]:
    """The chain ``build_chain`` gives on the same journeys, from :func:`transition_counts`.

    The state entered by a touch is ``(prev_{k-1} … prev_1, channel)`` and the one it leaves
    ``(prev_k … prev_1)`` (nulls dropped: shorter states at a journey's start, ``()`` = start);
    states are numbered in the mixed-radix key order of ``markov._state_keys``.
    """
    k = int(order)
    channels = tuple(sorted({str(c) for c in df["channel"]}))
    index = {c: i + 1 for i, c in enumerate(channels)}
    base = len(channels) + 1
    prev = [_codes(df[c], index) for c in _prev(k)]
    cur = _codes(df["channel"].astype(str), index)
    to_digits = np.column_stack([cur, *prev[:k - 1]]) if len(df) else np.zeros((0, k), dtype=np.int64)
    from_digits = np.column_stack(prev) if len(df) else np.zeros((0, k), dtype=np.int64)
    rows = np.vstack([np.zeros((1, k), dtype=np.int64), from_digits, to_digits])
    if float(base) ** k < 2.0 ** 62:
        keys = rows @ (base ** np.arange(k, dtype=np.int64))
        uniq, inv = np.unique(keys, return_inverse=True)
        states, member = _decode(uniq, k, base, channels)
    else:  # too many labels for one integer: distinct digit rows
        urows, inv = np.unique(rows, axis=0, return_inverse=True)
        states = tuple(tuple(channels[d - 1] for d in r[::-1] if d) for r in urows.tolist())
        member = np.zeros((len(urows), base), dtype=bool)
        member[np.repeat(np.arange(len(urows)), k), urows.ravel()] = True
        member = member[:, 1:]
    inv = np.asarray(inv).ravel()
    m = len(df)
    src, dst = inv[1:1 + m], inv[1 + m:]
    n = len(states)
    conv = df["conversions"].to_numpy(dtype=float) if m else np.zeros(0)
    nulls = df["nulls"].to_numpy(dtype=float) if m else np.zeros(0)
    counts = sp.coo_matrix(
        (np.concatenate([df["n"].to_numpy(dtype=float) if m else np.zeros(0), conv, nulls]),
         (np.concatenate([src, dst, dst]), np.concatenate([dst, np.full(m, n), np.full(m, n + 1)]))),
        shape=(n, n + 2)).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    value = np.nan_to_num(df["value"].to_numpy(dtype=float)) if m else np.zeros(0)
    value_out = np.bincount(dst, weights=value, minlength=n)
    return MarkovChain(k, states, counts, value_out, member), channels


def markov_engine(ws: Any, opts: JourneyOptions | None = None, order: int = 1, *,
                  transitions: pd.DataFrame | None = None) -> Attribution:
    """Exact Markov attribution of the workspace's journeys, from engine transition counts."""
    df = transition_counts(ws, opts, order) if transitions is None else transitions
    chain, channels = chain_from_transitions(df, order)
    total = summary_from_transitions(df)
    return markov_from_chain(chain, channels, total.conversions, total.value, order)


def first_touch_counts(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None) -> PathCounts:
    """Distinct channels in first-touch order per journey (ordered Shapley's input), counted: one
    query per hash part of the journeys (``parts``; :func:`~.journeys.journey_parts` when not given)."""
    frames = []
    for part in part_list(ws, parts, opts):
        t = ordered_touches(ws, opts, part=part)
        first = t.group_by(["journey", "channel"]).agg(first=t.pos.min(), converted=t.converted.max(), value=t.value.max())
        seq = ibis.struct({"pos": first.first, "channel": first.channel}).collect().sort().map(lambda s: s.channel)
        per = first.group_by("journey").agg(path=seq.join(SEPARATOR), converted=first.converted.max(), value=first.value.max())
        frames.append(_reduce_frame(per))
    return _counts(frames)


def top_paths(ws: Any, opts: JourneyOptions | None = None, n: int = 20, *, parts: int | None = None) -> pd.DataFrame:
    """The ``n`` most frequent paths (journeys DESC): only ``n`` rows reach the driver.

    By hash parts of the journeys (DuckDB above PART_ROWS): a path's journeys may sit in every
    part, so each part's counts per path are stacked in an engine table and added there before
    the top ``n`` (``levier.data.parts.stacked``).
    """
    per_part = []
    for part in part_list(ws, parts, opts):
        t = ordered_touches(ws, opts, part=part)
        seq = ibis.struct({"pos": t.pos, "channel": t.channel}).collect().sort().map(lambda s: s.channel)
        per = t.group_by("journey").agg(path=seq.join(SEPARATOR), converted=t.converted.max(), value=t.value.max())
        per_part.append(per.group_by("path").agg(journeys=per.count(), conversions=per.converted.sum(),
                                                 value=(per.value * per.converted).sum()))
    with stacked(ws, per_part) as agg:
        if len(per_part) > 1:
            agg = agg.group_by("path").agg(journeys=agg.journeys.sum(), conversions=agg.conversions.sum(), value=agg.value.sum())
        return agg.order_by([ibis.desc("journeys"), "path"]).limit(int(n)).execute()
