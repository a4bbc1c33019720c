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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.result import Attribution
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["MarkovChain", "MarkovDetails", "build_chain", "absorption", "markov"]

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


def _history(path: tuple[str, ...], order: int) -> list[tuple[str, ...]]:
    return [path[max(0, j - order):j] for j in range(len(path) + 1)]


def build_chain(pc: PathCounts, order: int = 1) -> MarkovChain:
    """Count transitions of every path (weighted by its journeys) into a sparse matrix."""
    if not 1 <= int(order) <= MAX_ORDER:
        raise OptionError(_("--order must be between 1 and {max}, not {order}.", max=MAX_ORDER, order=order))
    index: dict[tuple[str, ...], int] = {(): 0}
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    ends: list[tuple[int, float, float, float]] = []
    for path, conv, null, val in zip(pc.paths, pc.conversions, pc.nulls, pc.value, strict=False):
        w = conv + null
        if w <= 0:
            continue
        if order == 1:
            ids = [0, *[index.setdefault((c,), len(index)) for c in path]]
        else:
            ids = [index.setdefault(s, len(index)) for s in _history(path, order)]
        rows.extend(ids[:-1])
        cols.extend(ids[1:])
        weights.extend([w] * (len(ids) - 1))
        ends.append((ids[-1], conv, null, val))
    n = len(index)
    end = np.array(ends, dtype=float).reshape(-1, 4)
    e_rows = end[:, 0].astype(int)
    all_rows = np.concatenate([rows, e_rows, e_rows]).astype(int)
    all_cols = np.concatenate([cols, np.full(len(e_rows), n), np.full(len(e_rows), n + 1)]).astype(int)
    all_w = np.concatenate([weights, end[:, 1], end[:, 2]])
    counts = sp.coo_matrix((all_w, (all_rows, all_cols)), shape=(n, n + 2)).tocsr()
    counts.eliminate_zeros()
    value_out = np.bincount(e_rows, weights=end[:, 3], minlength=n)
    states = tuple(sorted(index, key=index.__getitem__))
    return MarkovChain(int(order), states, counts, value_out)


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


def markov(pc: PathCounts, order: int = 1) -> Attribution:
    """Exact Markov attribution of order ``order`` (1–4) over the path counts ``pc``."""
    chain = build_chain(pc, order)
    channels = pc.channels
    system = _system(chain)
    p, ev = absorption(chain, system=system)
    members = [set(s) for s in chain.states]
    re_conv, re_val = np.zeros(len(channels)), np.zeros(len(channels))
    for i, ch in enumerate(channels):
        keep = np.array([ch not in m for m in members])
        p_c, ev_c = absorption(chain, keep, system)
        re_conv[i] = max(0.0, 1.0 - p_c / p) if p > 0 else 0.0
        re_val[i] = max(0.0, 1.0 - ev_c / ev) if ev > 0 else 0.0
    details = MarkovDetails(chain, p, ev, dict(zip(channels, re_conv.tolist(), strict=False)), dict(zip(channels, re_val.tolist(), strict=False)))
    return Attribution(
        "markov", channels, tuple(_shares(re_conv, pc.total_conversions).tolist()),
        tuple(_shares(re_val, pc.total_value).tolist()), pc.total_conversions, pc.total_value,
        {"order": int(order)}, details,
    )
