"""Markov attribution: the reference case, a dense brute-force solve, a random-walk simulation."""

from __future__ import annotations

import numpy as np
import pytest

from levier.analysis.attribution.markov import absorption, build_chain, markov
from levier.analysis.attribution.paths import PathCounts
from levier.errors import OptionError


def test_reference_order_1(reference: PathCounts) -> None:
    r = markov(reference, order=1)
    assert r.details.p_conversion == pytest.approx(0.4, abs=1e-12)
    re = r.details.removal_effects
    assert re["A"] == pytest.approx(83 / 176, abs=1e-12)
    assert re["B"] == pytest.approx(41 / 64, abs=1e-12)
    assert re["C"] == pytest.approx(1.0, abs=1e-12)
    assert r.conversions == pytest.approx((1.7861, 2.4264, 3.7875), abs=5e-5)
    assert sum(r.conversions) == pytest.approx(8.0)


def test_reference_order_2(reference: PathCounts) -> None:
    r = markov(reference, order=2)
    assert r.details.p_conversion == pytest.approx(0.4, abs=1e-12)
    re = r.details.removal_effects
    assert re["A"] == pytest.approx(0.5625, abs=1e-9)
    assert re["B"] == pytest.approx(0.708333, abs=1e-6)
    assert re["C"] == pytest.approx(1.0, abs=1e-12)


def test_order_bounds(reference: PathCounts) -> None:
    with pytest.raises(OptionError):
        markov(reference, order=5)
    for k in (3, 4):
        assert sum(markov(reference, order=k).conversions) == pytest.approx(8.0)


def _dense_order1(pc: PathCounts) -> tuple[list[str], np.ndarray]:
    """Independent dense transition matrix: states start, channels…, conv, null."""
    names = ["start", *pc.channels, "conv", "null"]
    ix = {n: i for i, n in enumerate(names)}
    m = np.zeros((len(names), len(names)))
    for path, c, n in zip(pc.paths, pc.conversions, pc.nulls, strict=False):
        seq = ["start", *path]
        for a, b in zip(seq, seq[1:], strict=False):
            m[ix[a], ix[b]] += c + n
        m[ix[seq[-1]], ix["conv"]] += c
        m[ix[seq[-1]], ix["null"]] += n
    m[ix["conv"], ix["conv"]] = m[ix["null"], ix["null"]] = 1
    return names, m / m.sum(axis=1, keepdims=True)


def _p_conv_power(p: np.ndarray, names: list[str], removed: str | None = None) -> float:
    p = p.copy()
    if removed is not None:
        r, nul = names.index(removed), names.index("null")
        p[:, nul] += p[:, r]
        p[:, r] = 0
    limit = np.linalg.matrix_power(p, 4096)
    return float(limit[0, names.index("conv")])


def _random_paths(seed: int, n_channels: int = 4, n_paths: int = 30) -> PathCounts:
    rng = np.random.default_rng(seed)
    chans = [f"c{i}" for i in range(n_channels)]
    recs = []
    for _ in range(n_paths):
        k = int(rng.integers(1, 5))
        recs.append((tuple(rng.choice(chans, size=k)), int(rng.integers(0, 6)), int(rng.integers(0, 6))))
    return PathCounts.from_records(recs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_dense_brute_force(seed: int) -> None:
    pc = _random_paths(seed)
    r = markov(pc, order=1)
    names, p = _dense_order1(pc)
    base = _p_conv_power(p, names)
    assert r.details.p_conversion == pytest.approx(base, abs=1e-10)
    assert r.details.p_conversion == pytest.approx(pc.total_conversions / pc.journeys, abs=1e-10)
    for ch in pc.channels:
        expected = 1 - _p_conv_power(p, names, ch) / base
        assert r.details.removal_effects[ch] == pytest.approx(expected, abs=1e-9)


def _simulate(p: np.ndarray, names: list[str], walks: int, rng: np.random.Generator, removed: str | None) -> float:
    conv, null = names.index("conv"), names.index("null")
    cum = np.cumsum(p, axis=1)
    state = np.zeros(walks, dtype=int)
    gone = names.index(removed) if removed else -1
    for _ in range(200):
        live = (state != conv) & (state != null)
        if not live.any():
            break
        u = rng.random(live.sum())
        nxt = (u[:, None] > cum[state[live]]).sum(axis=1)
        nxt = np.where(nxt == gone, null, nxt)
        state[live] = nxt
    return float((state == conv).mean())


def test_matches_long_random_walk(reference: PathCounts) -> None:
    rng = np.random.default_rng(20260701)
    names, p = _dense_order1(reference)
    r = markov(reference, order=1)
    walks = 200_000
    base = _simulate(p, names, walks, rng, None)
    assert base == pytest.approx(0.4, abs=4 * np.sqrt(0.24 / walks))
    for ch in ("A", "B"):
        sim = _simulate(p, names, walks, rng, ch)
        exact = 0.4 * (1 - r.details.removal_effects[ch])
        assert sim == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / walks))


def test_value_removal_and_totals() -> None:
    pc = PathCounts.from_records([("A>B", 2, 1, 300.0), ("B", 1, 3, 50.0), ("A", 1, 1, 200.0)])
    r = markov(pc)
    assert sum(r.value) == pytest.approx(550.0)
    chain = build_chain(pc)
    p, ev = absorption(chain)
    assert p == pytest.approx(4 / 9)
    assert ev == pytest.approx(550.0 / 9)
    assert r.details.value_removal_effects["A"] > r.details.removal_effects["A"]


def test_transition_frame(reference: PathCounts) -> None:
    frame = build_chain(reference).to_frame()
    row = frame[(frame["from"] == "(start)") & (frame["to"] == "A")]
    assert float(row["probability"].iloc[0]) == pytest.approx(11 / 20)
    assert frame.groupby("from")["probability"].sum().to_numpy() == pytest.approx(1.0)


def test_channel_on_paths_without_journeys_keeps_its_column() -> None:
    """A channel seen only on a path with no journey (0 conversions, 0 nulls) has no state: the
    other channels keep their own removal effects (found by Hypothesis: the member columns of
    the chain once shifted, giving b's credit to a)."""
    from levier.analysis.attribution.markov import markov
    from levier.analysis.attribution.paths import PathCounts

    r = markov(PathCounts.from_records([(("b",), 1, 0, 0.0), (("a",), 0, 0, 0.0)]), order=1)
    assert r.channels == ("a", "b")
    assert r.credit("b") == 1.0 and r.credit("a") == 0.0
    assert len(r.conversions) == len(r.channels)
