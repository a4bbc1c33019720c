"""Vectorised path parsing and chain build: same answers as the one-path-at-a-time code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levier.analysis.attribution.encode import encode_tuples, parse_many
from levier.analysis.attribution.markov import build_chain, markov, removal_absorptions
from levier.analysis.attribution.paths import PathCounts, parse_path

TRICKY = ["A > B>C", " A", "A>>B", "> A >", "", "   ", "B\t>  C ", "A> \t >B", "A \t>B", "é > ü ", "C", "A>B>C",
          "x\u00a0> y", "paid search>email"]


def test_parse_many_matches_parse_path() -> None:
    inverse, paths, enc = parse_many(TRICKY)
    expected = list(dict.fromkeys(p for p in (parse_path(s) for s in TRICKY) if p))
    assert paths == expected
    for s, i in zip(TRICKY, inverse, strict=True):
        assert (paths[i] if i >= 0 else ()) == parse_path(s)
    assert enc.channels == tuple(sorted({c for p in paths for c in p}))
    for p, off, n in zip(paths, enc.offsets, enc.lengths, strict=True):
        assert tuple(enc.channels[c] for c in enc.codes[off:off + n]) == p


def test_other_separator_and_encode_tuples() -> None:
    _inv, paths, enc = parse_many(["a | b", "b|c|", "a|b"], sep="|")
    assert paths == [("a", "b"), ("b", "c")]
    again = encode_tuples(paths)
    assert again.channels == enc.channels and np.array_equal(again.codes, enc.codes)


def test_from_arrays_equals_from_records() -> None:
    rng = np.random.default_rng(5)
    chans = ["a", "b", "c", "d", "direct"]
    rows = [(" > ".join(rng.choice(chans, size=int(rng.integers(1, 6)))), int(rng.integers(0, 5)), int(rng.integers(0, 5)),
             float(rng.integers(0, 900))) for _ in range(300)]
    df = pd.DataFrame(rows, columns=["path", "conversions", "nulls", "value"])
    fast, slow = PathCounts.from_frame(df), PathCounts.from_records(rows)
    assert fast.paths == slow.paths and fast.channels == slow.channels
    for a, b in ((fast.conversions, slow.conversions), (fast.nulls, slow.nulls), (fast.value, slow.value)):
        np.testing.assert_allclose(a, b)


def _history_chain(pc: PathCounts, order: int) -> tuple[dict, dict]:
    """The old loop: states = last ``order`` channels (shorter at the start)."""
    counts: dict = {}
    ends: dict = {}
    for path, c, n in zip(pc.paths, pc.conversions, pc.nulls, strict=True):
        states = [path[max(0, j - order):j] for j in range(len(path) + 1)]
        for a, b in zip(states, states[1:], strict=False):
            counts[(a, b)] = counts.get((a, b), 0.0) + c + n
        ends[(states[-1], "conv")] = ends.get((states[-1], "conv"), 0.0) + c
        ends[(states[-1], "null")] = ends.get((states[-1], "null"), 0.0) + n
    return counts, ends


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_vectorised_chain_equals_loop(order: int, reference: PathCounts) -> None:
    chain = build_chain(reference, order)
    counts, ends = _history_chain(reference, order)
    dense = chain.counts.toarray()
    ix = {s: i for i, s in enumerate(chain.states)}
    assert chain.states[0] == () and len(ix) == chain.n
    for (a, b), w in counts.items():
        assert dense[ix[a], ix[b]] == pytest.approx(w)
    for (a, kind), w in ends.items():
        assert dense[ix[a], chain.n + (kind == "null")] == pytest.approx(w)
    assert dense.sum() == pytest.approx(sum(counts.values()) + sum(ends.values()))
    for j, ch in enumerate(reference.channels):
        assert np.array_equal(chain.member[:, j], [ch in s for s in chain.states])


def _ca_windows(pc: PathCounts, order: int) -> float:
    """Removal effects with ChannelAttribution's states (independent dense solve)."""
    # CA: start → first window of ``order`` consecutive channels (the whole path when shorter)
    # → next window …; consecutive equal windows collapsed (no self-loops).
    counts: dict = {}
    for path, c, n in zip(pc.paths, pc.conversions, pc.nulls, strict=True):
        wins = [path[i:i + order] for i in range(max(1, len(path) - order + 1))]
        wins = [w for i, w in enumerate(wins) if i == 0 or w != wins[i - 1]]
        seq = ["start", *wins]
        for a, b in zip(seq, seq[1:], strict=False):
            counts[(a, b)] = counts.get((a, b), 0.0) + c + n
        counts[(seq[-1], "conv")] = counts.get((seq[-1], "conv"), 0.0) + c
        counts[(seq[-1], "null")] = counts.get((seq[-1], "null"), 0.0) + n
    names = sorted({k for pair in counts for k in pair} - {"conv", "null"}, key=str)
    names.remove("start")
    names = ["start", *names]
    ix = {s: i for i, s in enumerate(names)}
    m = np.zeros((len(names), len(names) + 2))
    for (a, b), w in counts.items():
        m[ix[a], ix[b] if b in ix else len(names) + (b == "null")] += w
    p = m / m.sum(axis=1, keepdims=True)
    effects = {}

    def solve(keep: list[int]) -> float:
        q = p[np.ix_(keep, keep)]
        x = np.linalg.solve(np.eye(len(keep)) - q, p[keep, len(names)])
        return float(x[0])

    base = solve(list(range(len(names))))
    for ch in pc.channels:
        keep = [i for i, s in enumerate(names) if s == "start" or ch not in s]
        effects[ch] = 1 - solve(keep) / base
    return effects


@pytest.mark.parametrize(("order", "seed"), [(1, 1), (2, 2), (3, 3), (3, 4), (4, 5)])
def test_same_removal_effects_as_channelattribution_states(order: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chans = ["a", "b", "c", "d"]
    recs = [(tuple(rng.choice(chans, size=int(rng.integers(1, 7)))), int(rng.integers(0, 6)), int(rng.integers(1, 6)))
            for _ in range(60)]
    pc = PathCounts.from_records(recs)
    ours = markov(pc, order=order).details.removal_effects
    theirs = _ca_windows(pc, order)
    for ch in pc.channels:
        assert ours[ch] == pytest.approx(theirs[ch], abs=1e-9)


def test_joint_solve_equals_one_solve_per_removal(reference: PathCounts) -> None:
    from levier.analysis.attribution.markov import absorption

    for order in (1, 2, 3):
        chain = build_chain(reference, order)
        joint = removal_absorptions(chain)
        assert joint[0] == pytest.approx(absorption(chain), abs=1e-12)
        for j in range(chain.member.shape[1]):
            assert joint[j + 1] == pytest.approx(absorption(chain, ~chain.member[:, j]), abs=1e-12)


def test_bitmask_shapley_equals_set_loop() -> None:
    from levier.analysis.attribution.shapley import channel_sets, shapley

    rng = np.random.default_rng(11)
    chans = [f"c{i}" for i in range(9)]
    pc = PathCounts.from_records([(tuple(rng.choice(chans, size=int(rng.integers(1, 6)))), int(rng.integers(0, 5)),
                                   int(rng.integers(0, 5)), float(rng.integers(0, 500))) for _ in range(200)])
    fast = shapley(pc)
    conv = dict.fromkeys(pc.channels, 0.0)
    val = dict.fromkeys(pc.channels, 0.0)
    for members, (c, v) in channel_sets(pc).items():
        for ch in members:
            conv[ch] += c / len(members)
            val[ch] += v / len(members)
    assert fast.channels == pc.channels
    assert fast.conversions == pytest.approx([conv[c] for c in pc.channels], abs=1e-9)
    assert fast.value == pytest.approx([val[c] for c in pc.channels], abs=1e-9)
    assert fast.details.coalitions == len(channel_sets(pc))
