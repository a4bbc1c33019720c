"""Markov-chain attribution, exact: removal effects from the absorbing chain.

States of an order-``k`` chain are the last ``k`` channels seen (shorter at the start of a
journey: ``()`` → ``(A,)`` → ``(A, B)`` → ``(B, C)`` for ``A>B>C`` at order 2), plus the two
absorbing states *conversion* and *null*. Transition probabilities are the observed
transition counts normalised per state (the maximum-likelihood estimate).

The probability of conversion from the start is the absorption probability ``x[start]`` of
``(I − Q) x = r`` (``Q`` transient→transient, ``r`` transient→conversion). Removing channel
``c`` sends every state that contains ``c`` to *null*: the same system restricted to the
states without ``c``. So each removal effect ``1 − P₋c / P`` is one sparse LU solve — no
simulation, no sampling error. The conversion value is absorbed the same way, with each
state's reward = the value of the conversions observed leaving it, which gives value removal
effects. Attributed conversions (value) = total × removal effect / Σ removal effects.

For the fitted chain the expected visits equal the observed ones, so ``P`` equals the
observed conversion rate and the expected value the observed mean value per journey.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from levier.analysis.attribution.encode import EncodedPaths
from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.result import Attribution
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["MarkovChain", "MarkovDetails", "build_chain", "absorption", "removal_absorptions", "markov", "markov_from_chain"]

MAX_ORDER = 4
CONVERSION, NULL = "(conversion)", "(null)"
_MAX_EDGES_IN_DICT = 5000


def _state_name(state: tuple[str, ...]) -> str:
    return ",".join(state) if state else "(start)"


@dataclass(frozen=True, eq=False)
class MarkovChain:
    """Transition counts of an order-``k`` chain; column ``n`` = conversion, ``n+1`` = null."""

    order: int
    states: tuple[tuple[str, ...], ...]  # transient states, index 0 = start ()
    counts: sp.csr_matrix  # shape (n, n + 2)
    value_out: np.ndarray  # conversion value observed leaving each state
    member: np.ndarray | None = None  # (n, channels) bool: channel j is in state i (channels sorted)

    @property
    def n(self) -> int:
        return len(self.states)

    def probabilities(self) -> sp.csr_matrix:
        """Row-normalised transition matrix (same shape as ``counts``)."""
        totals = np.asarray(self.counts.sum(axis=1)).ravel()
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        return sp.diags(inv) @ self.counts

    def to_frame(self) -> pd.DataFrame:
        """One row per observed transition: from, to, count, probability."""
        names = [_state_name(s) for s in self.states] + [CONVERSION, NULL]
        coo = self.counts.tocoo()
        totals = np.asarray(self.counts.sum(axis=1)).ravel()
        return pd.DataFrame({
            "from": [names[i] for i in coo.row], "to": [names[j] for j in coo.col],
            "count": coo.data, "probability": coo.data / totals[coo.row],
        }).sort_values(["from", "to"], ignore_index=True)


_BLOCK_LIMIT = 200_000  # unknowns of the stacked removal systems solved by one sparse LU


def _state_keys(enc: EncodedPaths, order: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Mixed-radix key of the state after each step of each path, and the path of each state.

    Every path of ``L`` steps visits ``L + 1`` states (the start, then one per step), laid out
    path after path. A state is its last ``order`` channels: digit ``t`` = (channel code + 1)
    of the ``t``-th most recent step, 0 when the history is shorter (so the start is key 0 and
    prefixes stay distinct). Digits are shifted copies of one flat array: no Python loop.
    """
    base = len(enc.channels) + 1
    per_path = enc.lengths + 1
    path_of = np.repeat(np.arange(len(enc.lengths), dtype=np.int64), per_path)
    starts = np.cumsum(per_path) - per_path
    step = np.arange(len(path_of), dtype=np.int64) - np.repeat(starts, per_path)  # 0 … L
    flat = np.ones(len(path_of), dtype=bool)
    flat[starts] = False
    digit0 = np.zeros(len(path_of), dtype=np.int64)
    digit0[flat] = enc.codes + 1  # the channel just seen (0 at the start)
    digits = np.zeros((len(path_of), order), dtype=np.int64)
    for t in range(order):
        digits[t:, t] = digit0[:len(digit0) - t]
        digits[step < t + 1, t] = 0
    if float(base) ** order >= 2.0 ** 62:  # too many labels for one integer: unique rows
        _u, keys = np.unique(digits, axis=0, return_inverse=True)
        return keys.ravel().astype(np.int64), path_of, base
    return digits @ (base ** np.arange(order, dtype=np.int64)), path_of, base


def _compact(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted; 0 = start first) and each key's index among them."""
    top = int(keys.max()) if len(keys) else 0
    if top > 8 * len(keys) + 1_000_000:
        uniq, idx = np.unique(np.concatenate([[0], keys]), return_inverse=True)
        return uniq, idx.ravel()[1:]
    seen = np.zeros(top + 1, dtype=bool)
    seen[0] = True
    seen[keys] = True
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[keys]


def _decode(keys: np.ndarray, order: int, base: int, channels: tuple[str, ...]) -> tuple[tuple[tuple[str, ...], ...], np.ndarray]:
    """State tuples (oldest channel first) and channel membership (states × channels)."""
    digits = np.stack([(keys // base ** t) % base for t in range(order)], axis=1) if len(keys) else np.zeros((0, order), dtype=np.int64)
    member = np.zeros((len(keys), base), dtype=bool)
    member[np.repeat(np.arange(len(keys)), order), digits.ravel()] = True
    states = tuple(tuple(channels[d - 1] for d in row[::-1] if d) for row in digits.tolist())
    return states, member[:, 1:]


def build_chain(pc: PathCounts, order: int = 1) -> MarkovChain:
    """Count transitions of every path (weighted by its journeys) into a sparse matrix.

    Vectorised: states are integer keys computed from the paths' channel codes for all
    steps at once; transitions are aggregated by one sparse ``coo → csr`` sum of duplicates.
    """
    if not 1 <= int(order) <= MAX_ORDER:
        raise OptionError(_("--order must be between 1 and {max}, not {order}.", max=MAX_ORDER, order=order))
    order = int(order)
    enc = pc.encoded()
    w = pc.conversions + pc.nulls
    live = w > 0
    if not live.all():
        if not live.any():
            return MarkovChain(order, ((),), sp.csr_matrix((1, 3)), np.zeros(1), np.zeros((1, len(enc.channels)), dtype=bool))
        sub = PathCounts(tuple(p for p, k in zip(pc.paths, live, strict=True) if k), pc.conversions[live], pc.nulls[live], pc.value[live])
        chain = build_chain(sub, order)
        # member columns stay those of every channel of ``pc``: a channel seen only on paths
        # with no journey has no state (its removal effect is 0)
        member = np.zeros((chain.n, len(enc.channels)), dtype=bool)
        member[:, [enc.channels.index(c) for c in sub.encoded().channels]] = chain.member
        return replace(chain, member=member)
    keys, path_of, base = _state_keys(enc, order)
    is_last = np.zeros(len(keys), dtype=bool)
    is_last[np.cumsum(enc.lengths + 1) - 1] = True
    uniq, idx = _compact(keys)  # key 0 (the start) → index 0
    n = len(uniq)
    src = np.flatnonzero(~is_last)
    ends = idx[is_last]
    rows = np.concatenate([idx[src], ends, ends])
    cols = np.concatenate([idx[src + 1], np.full(len(ends), n), np.full(len(ends), n + 1)])
    data = np.concatenate([w[path_of[src]], pc.conversions, pc.nulls])
    counts = sp.coo_matrix((data, (rows, cols)), shape=(n, n + 2)).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    value_out = np.bincount(ends, weights=pc.value, minlength=n)
    if base ** order >= 2 ** 62:  # keys are row numbers, not mixed-radix: decode from the paths
        states, member = _states_from_paths(pc, order, idx, n, len(enc.channels))
    else:
        states, member = _decode(uniq, order, base, enc.channels)
    return MarkovChain(order, states, counts, value_out, member)


def _states_from_paths(pc: PathCounts, order: int, idx: np.ndarray, n: int, n_channels: int) -> tuple[tuple[tuple[str, ...], ...], np.ndarray]:
    states: list[tuple[str, ...] | None] = [None] * n
    pos = 0
    for path in pc.paths:
        for j in range(len(path) + 1):
            states[idx[pos + j]] = path[max(0, j - order):j]
        pos += len(path) + 1
    ix = {c: i for i, c in enumerate(pc.encoded().channels)}
    member = np.zeros((n, n_channels), dtype=bool)
    for i, s in enumerate(states):
        member[i, [ix[c] for c in s or ()]] = True
    return tuple(s or () for s in states), member


def _system(chain: MarkovChain) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row-normalised transitions (CSR) and the (conversion, value) reward of each state."""
    totals = np.asarray(chain.counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    probs = (sp.diags(inv) @ chain.counts).tocsr()
    rewards = np.column_stack([probs[:, chain.n].toarray().ravel(), chain.value_out * inv])
    return probs, rewards


def absorption(chain: MarkovChain, keep: np.ndarray | None = None,
               system: tuple[sp.csr_matrix, np.ndarray] | None = None) -> tuple[float, float]:
    """(P(conversion), expected value) from the start, using only the states in ``keep``."""
    if chain.n == 0 or chain.counts[0].sum() <= 0:
        return 0.0, 0.0
    probs, rewards = system or _system(chain)
    keep_idx = np.arange(chain.n) if keep is None else np.flatnonzero(keep)
    q = probs[keep_idx][:, keep_idx]
    rhs = rewards[keep_idx]
    system = (sp.identity(len(keep_idx), format="csc") - q.tocsc()).tocsc()
    x = splu(system).solve(rhs)
    start = int(np.flatnonzero(keep_idx == 0)[0])
    return float(x[start, 0]), float(x[start, 1])


@dataclass(frozen=True, eq=False)
class MarkovDetails:
    """What the chain says: P(conversion), removal effects, the transition matrix."""

    chain: MarkovChain
    p_conversion: float
    expected_value: float
    removal_effects: dict[str, float]
    value_removal_effects: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "order": self.chain.order, "states": self.chain.n, "p_conversion": self.p_conversion,
            "expected_value": self.expected_value, "removal_effects": dict(self.removal_effects),
            "value_removal_effects": dict(self.value_removal_effects),
        }
        if self.chain.counts.nnz <= _MAX_EDGES_IN_DICT:
            out["transitions"] = self.chain.to_frame().to_dict("records")
        return out


def _shares(effects: np.ndarray, total: float) -> np.ndarray:
    s = effects.sum()
    return total * effects / s if s > 0 else np.zeros_like(effects)


def removal_absorptions(chain: MarkovChain, system: tuple[sp.csr_matrix, np.ndarray] | None = None) -> np.ndarray:
    """``(P(conversion), expected value)`` from the start, first with every state, then with
    each channel removed in turn (row ``1 + j`` = channel ``j``): shape ``(channels + 1, 2)``.

    Removing a channel sends its states to *null*: the system restricted to the other states,
    i.e. the full system ``(I − Q) x = r`` whose removed rows and columns are replaced by the
    identity (their unknowns are then 0). All ``channels + 1`` systems are stacked into one
    block-diagonal sparse matrix and solved by a single sparse LU (one call, no Python loop
    per removal); very large chains fall back to one LU per removal to bound memory. Direct
    solves: exact to rounding, no sampling.
    """
    member = chain.member if chain.member is not None else np.zeros((chain.n, 0), dtype=bool)
    n, k = chain.n, member.shape[1]
    out = np.zeros((k + 1, 2))
    if n == 0 or chain.counts[0].sum() <= 0:
        return out
    probs, rewards = system or _system(chain)
    if (k + 1) * n > _BLOCK_LIMIT:
        out[0] = absorption(chain, None, (probs, rewards))
        for j in range(k):
            out[j + 1] = absorption(chain, ~member[:, j], (probs, rewards))
        return out
    q = probs[:, :n].tocoo()
    gone = np.vstack([np.zeros((1, n), dtype=bool), member.T])  # (k + 1, n)
    kept = ~(gone[:, q.row] | gone[:, q.col])  # (k + 1, nnz)
    block, entry = np.nonzero(kept)
    size = (k + 1) * n
    rows = np.concatenate([q.row[entry] + block * n, np.arange(size)])
    cols = np.concatenate([q.col[entry] + block * n, np.arange(size)])
    data = np.concatenate([-q.data[entry], np.ones(size)])
    a = sp.csc_matrix((data, (rows, cols)), shape=(size, size))
    rhs = np.where(gone.reshape(-1, 1), 0.0, np.tile(rewards, (k + 1, 1)))
    x = splu(a).solve(rhs)
    return x.reshape(k + 1, n, 2)[:, 0, :]


def markov_from_chain(chain: MarkovChain, channels: tuple[str, ...], total_conversions: float, total_value: float,
                      order: int) -> Attribution:
    """Removal effects of ``chain`` (member columns = ``channels``) shared out over the totals."""
    solved = removal_absorptions(chain)
    p, ev = float(solved[0, 0]), float(solved[0, 1])
    re_conv = np.clip(1.0 - solved[1:, 0] / p, 0.0, None) if p > 0 else np.zeros(len(channels))
    re_val = np.clip(1.0 - solved[1:, 1] / ev, 0.0, None) if ev > 0 else np.zeros(len(channels))
    details = MarkovDetails(chain, p, ev, dict(zip(channels, re_conv.tolist(), strict=False)), dict(zip(channels, re_val.tolist(), strict=False)))
    return Attribution(
        "markov", channels, tuple(_shares(re_conv, total_conversions).tolist()),
        tuple(_shares(re_val, total_value).tolist()), total_conversions, total_value,
        {"order": int(order)}, details,
    )


def markov(pc: PathCounts, order: int = 1) -> Attribution:
    """Exact Markov attribution of order ``order`` (1–4) over the path counts ``pc``."""
    chain = build_chain(pc, order)
    return markov_from_chain(chain, pc.encoded().channels, pc.total_conversions, pc.total_value, order)
