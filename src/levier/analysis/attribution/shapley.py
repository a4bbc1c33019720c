"""Simplified Shapley value (Zhao, Mahboobi & Bagheri 2018), exact.

The worth of a coalition S of channels is the conversions of the journeys whose channel set
is included in S: ``v(S) = Σ_{T ⊆ S} R(T)``, with ``R(T)`` the conversions of journeys whose
set of distinct channels is exactly ``T``. ``v`` is then a sum of unanimity games with
Harsanyi dividends ``R(T)``, and the Shapley value has the closed form

    φ_j = Σ_{T ∋ j} R(T) / |T|

so it needs only the observed channel-set counts (aggregated in the engine), never the
2^n coalitions: linear in the number of distinct observed sets, whatever the number of
channels. The same holds for value. The *ordered* variant (Zhao et al., §3.2) keeps the
order of first touches: the credit R(S)/|S| of channel j is also reported by the position
at which j first appeared in the journey.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.result import Attribution

__all__ = ["ShapleyDetails", "shapley", "first_occurrences", "channel_sets"]


def first_occurrences(path: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct channels in the order of their first touch: ``A>B>A>C`` → ``A, B, C``."""
    return tuple(dict.fromkeys(path))


def channel_sets(pc: PathCounts, ordered: bool = False) -> dict[tuple[str, ...], tuple[float, float]]:
    """Conversions and value per channel set (sorted) or first-touch sequence (ordered)."""
    out: dict[tuple[str, ...], list[float]] = {}
    for path, c, v in zip(pc.paths, pc.conversions, pc.value, strict=False):
        key = first_occurrences(path) if ordered else tuple(sorted(set(path)))
        cell = out.setdefault(key, [0.0, 0.0])
        cell[0] += c
        cell[1] += v
    return {k: (a, b) for k, (a, b) in out.items()}


@dataclass(frozen=True)
class ShapleyDetails:
    """Observed coalitions and, for the ordered variant, credit by first-touch position."""

    coalitions: int
    ordered: bool
    by_position: tuple[tuple[str, int, float], ...] = ()  # (channel, position from 1, conversions)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.by_position), columns=["channel", "position", "conversions"])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"coalitions": self.coalitions, "ordered": self.ordered}
        if self.ordered:
            out["by_position"] = [{"channel": c, "position": p, "conversions": x} for c, p, x in self.by_position]
        return out


def _shapley_bitmask(pc: PathCounts) -> Attribution:
    """Unordered variant, vectorised: each path's channel set as a bit mask (≤ 62 channels)."""
    enc = pc.encoded()
    k = len(enc.channels)
    bits = np.left_shift(np.int64(1), enc.codes)
    masks = np.bitwise_or.reduceat(bits, enc.offsets) if len(bits) else np.zeros(0, dtype=np.int64)
    sets, inverse = np.unique(masks, return_inverse=True)
    inverse = inverse.ravel()
    conv_t = np.bincount(inverse, weights=pc.conversions, minlength=len(sets))
    val_t = np.bincount(inverse, weights=pc.value, minlength=len(sets))
    has = ((sets[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(float)  # (sets, channels)
    size = has.sum(axis=1)
    conv = (conv_t / size) @ has
    val = (val_t / size) @ has
    return Attribution("shapley", enc.channels, tuple(conv.tolist()), tuple(val.tolist()),
                       pc.total_conversions, pc.total_value, {"ordered": False}, ShapleyDetails(len(sets), False))


def shapley(pc: PathCounts, ordered: bool = False) -> Attribution:
    """Exact simplified Shapley attribution of ``pc`` (repeated touches count once)."""
    if not ordered and len(pc) and len(pc.encoded().channels) <= 62:
        return _shapley_bitmask(pc)
    channels = pc.channels
    ix = {c: i for i, c in enumerate(channels)}
    conv, val = np.zeros(len(channels)), np.zeros(len(channels))
    positions: dict[tuple[str, int], float] = {}
    sets = channel_sets(pc, ordered=ordered)
    for members, (c, v) in sets.items():
        size = len(members)
        for pos, ch in enumerate(members, start=1):
            conv[ix[ch]] += c / size
            val[ix[ch]] += v / size
            if ordered:
                positions[(ch, pos)] = positions.get((ch, pos), 0.0) + c / size
    by_position = tuple((ch, pos, x) for (ch, pos), x in sorted(positions.items()))
    details = ShapleyDetails(len(sets), ordered, by_position)
    return Attribution("shapley", channels, tuple(conv.tolist()), tuple(val.tolist()),
                       pc.total_conversions, pc.total_value, {"ordered": ordered}, details)
