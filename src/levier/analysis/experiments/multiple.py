"""Several arms and several metrics: family-wise (Holm) and false-discovery (BH) corrections.

:func:`holm` and :func:`benjamini_hochberg` return adjusted p-values (same definitions as
``statsmodels.stats.multitest.multipletests`` with ``holm`` and ``fdr_bh``);
:func:`adjust_results` applies one of them to every frequentist result of a family and fills
``p_adjusted``. Bayesian results have no p-value and are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from levier.analysis.experiments.results import EffectResult

__all__ = ["holm", "benjamini_hochberg", "adjust", "adjust_results", "Correction"]

Correction = Literal["none", "holm", "bh"]


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = (m - np.arange(m)) * p[order]
    adj = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (controls the false discovery rate)."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)[::-1]
    scaled = p[order] * m / (m - np.arange(m))
    adj = np.minimum(np.minimum.accumulate(scaled), 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def adjust(p: Sequence[float], method: Correction) -> np.ndarray:
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    return np.asarray(p, dtype=float)


def adjust_results(results: Sequence[EffectResult], method: Correction = "holm") -> list[EffectResult]:
    """Fill ``p_adjusted`` on the results that have a p-value (one family)."""
    idx = [i for i, r in enumerate(results) if r.ok and r.p_value is not None]
    out = list(results)
    if method == "none" or not idx:
        return out
    adj = adjust([results[i].p_value for i in idx], method)  # type: ignore[misc]
    for i, q in zip(idx, adj, strict=True):
        out[i] = replace(results[i], p_adjusted=float(q))
    return out
