"""Simplified Shapley value against brute-force coalition enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.shapley import channel_sets, shapley


def _brute_force(pc: PathCounts) -> dict[str, float]:
    """Classic Shapley formula over all 2^n coalitions with v(S) = conversions of sets ⊆ S."""
    sets = {frozenset(k): c for k, (c, _v) in channel_sets(pc).items()}
    players = pc.channels
    n = len(players)

    def v(s: frozenset[str]) -> float:
        return sum(c for t, c in sets.items() if t <= s)

    out = {}
    for j in players:
        others = [p for p in players if p != j]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in itertools.combinations(others, size):
                fs = frozenset(s)
                total += weight * (v(fs | {j}) - v(fs))
        out[j] = total
    return out


def test_reference_case(reference: PathCounts) -> None:
    r = shapley(reference)
    assert r.conversions == pytest.approx((4 / 3 + 0.5, 4 / 3 + 1, 4 / 3 + 1 + 0.5 + 1))


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chans = [f"ch{i}" for i in range(6)]
    recs = [(tuple(rng.choice(chans, size=int(rng.integers(1, 5)))), int(rng.integers(0, 9)), int(rng.integers(0, 9)))
            for _ in range(25)]
    pc = PathCounts.from_records(recs)
    r = shapley(pc)
    bf = _brute_force(pc)
    for ch, credit in zip(r.channels, r.conversions, strict=False):
        assert credit == pytest.approx(bf[ch], abs=1e-9)


def test_ordered_variant_by_position(reference: PathCounts) -> None:
    r = shapley(reference, ordered=True)
    frame = r.details.to_frame()
    assert frame["conversions"].sum() == pytest.approx(8.0)
    got = {(c, p): x for c, p, x in r.details.by_position}
    # B>A>C (1 conversion): B first, A second, C third, 1/3 each; A>B>C (3): A first.
    assert got[("A", 1)] == pytest.approx(1.0 + 0.5)
    assert got[("A", 2)] == pytest.approx(1 / 3)
    assert got[("B", 1)] == pytest.approx(1.0 + 1 / 3)
    assert r.conversions == pytest.approx(shapley(reference).conversions)


def test_twenty_channels_is_fast() -> None:
    rng = np.random.default_rng(7)
    chans = [f"c{i:02d}" for i in range(20)]
    recs = [(tuple(rng.choice(chans, size=int(rng.integers(1, 12)))), int(rng.integers(0, 3)), 1) for _ in range(20_000)]
    pc = PathCounts.from_records(recs)
    r = shapley(pc)
    assert sum(r.conversions) == pytest.approx(pc.total_conversions)
