"""Pure statistics on sufficient statistics (weighted cells), finished with NumPy/SciPy.

Every function takes *cells*: distinct values with a count (weight), exactly what an engine
``GROUP BY`` returns. Nothing here touches a database. Results that can be undefined carry a
``code`` (``ok``, ``too_few``, ``zero_variance``, ``empty``) instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

__all__ = [
    "Moments",
    "Correlation",
    "moments",
    "correlation",
    "spearman",
    "weighted_quantile",
    "wilson",
    "two_proportion",
    "TwoProportion",
]

MIN_N = 3  # fewer points than this: no correlation


@dataclass(frozen=True)
class Moments:
    """Weighted sums: n, Σx, Σy, Σx², Σy², Σxy."""

    n: float
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float

    def __add__(self, other: Moments) -> Moments:
        return Moments(*(a + b for a, b in zip(astuple_m(self), astuple_m(other), strict=True)))


def astuple_m(m: Moments) -> tuple[float, ...]:
    return (m.n, m.sx, m.sy, m.sxx, m.syy, m.sxy)


def moments(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> Moments:
    """Moments of weighted points (``w`` = count of each (x, y) cell; default 1)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    return Moments(float(w.sum()), float(w @ x), float(w @ y), float(w @ (x * x)), float(w @ (y * y)), float(w @ (x * y)))


@dataclass(frozen=True)
class Correlation:
    """Pearson r (Fisher-z CI), OLS slope/intercept (t CIs), R², p-value; ``code`` if undefined."""

    n: int
    r: float | None
    r_ci: tuple[float, float] | None
    slope: float | None
    slope_ci: tuple[float, float] | None
    intercept: float | None
    intercept_ci: tuple[float, float] | None
    r2: float | None
    p_value: float | None
    spearman: float | None
    code: str

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("r_ci", "slope_ci", "intercept_ci"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d


def _empty(n: int, code: str, spearman: float | None = None) -> Correlation:
    return Correlation(n, None, None, None, None, None, None, None, None, spearman, code)


def correlation(m: Moments, *, spearman_rho: float | None = None, level: float = 0.95) -> Correlation:
    """Pearson/OLS figures from moments; same numbers as ``scipy.stats.linregress``."""
    n = int(round(m.n))
    if n < MIN_N:
        return _empty(n, "too_few" if n else "empty")
    xbar, ybar = m.sx / m.n, m.sy / m.n
    sxx = max(m.sxx - m.n * xbar * xbar, 0.0)
    syy = max(m.syy - m.n * ybar * ybar, 0.0)
    sxy = m.sxy - m.n * xbar * ybar
    if sxx <= 1e-12 * max(1.0, m.sxx) or syy <= 1e-12 * max(1.0, m.syy):
        return _empty(n, "zero_variance", spearman_rho)
    r = float(np.clip(sxy / math.sqrt(sxx * syy), -1.0, 1.0))
    slope = sxy / sxx
    intercept = ybar - slope * xbar
    df = n - 2
    sse = max(syy - slope * sxy, 0.0)
    s2 = sse / df if df > 0 else float("nan")
    se_slope = math.sqrt(s2 / sxx) if df > 0 else float("nan")
    se_int = math.sqrt(s2 * (1.0 / m.n + xbar * xbar / sxx)) if df > 0 else float("nan")
    tcrit = float(sps.t.ppf(0.5 + level / 2, df)) if df > 0 else float("nan")
    if abs(r) >= 1.0:
        p = 0.0
    else:
        tstat = r * math.sqrt(df / ((1.0 - r) * (1.0 + r)))
        p = float(2 * sps.t.sf(abs(tstat), df))
    return Correlation(
        n=n,
        r=r,
        r_ci=_fisher_ci(r, n, level),
        slope=float(slope),
        slope_ci=(slope - tcrit * se_slope, slope + tcrit * se_slope),
        intercept=float(intercept),
        intercept_ci=(intercept - tcrit * se_int, intercept + tcrit * se_int),
        r2=r * r,
        p_value=p,
        spearman=spearman_rho,
        code="ok",
    )


def _fisher_ci(r: float, n: int, level: float) -> tuple[float, float] | None:
    if n <= 3:
        return None
    if abs(r) >= 1.0:
        return (r, r)
    z = math.atanh(r)
    half = float(sps.norm.ppf(0.5 + level / 2)) / math.sqrt(n - 3)
    return (math.tanh(z - half), math.tanh(z + half))


def _midranks(values: np.ndarray, w: np.ndarray) -> dict[float, float]:
    """Average rank (1-based, ties share the mid rank) of each distinct value."""
    order = np.unique(values)
    totals = np.array([w[values == v].sum() for v in order])
    ends = np.cumsum(totals)
    starts = ends - totals
    return {float(v): float((s + 1 + e) / 2) for v, s, e in zip(order, starts, ends, strict=True)}


def spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float | None:
    """Spearman ρ of weighted cells (Pearson r of mid-ranks), equal to ``scipy.stats.spearmanr``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    keep = w > 0
    x, y, w = x[keep], y[keep], w[keep]
    if w.sum() < MIN_N:
        return None
    rx, ry = _midranks(x, w), _midranks(y, w)
    ranks_x = np.array([rx[float(v)] for v in x])
    ranks_y = np.array([ry[float(v)] for v in y])
    c = correlation(moments(ranks_x, ranks_y, w))
    return c.r


def weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """Quantile of a histogram, identical to ``numpy.quantile`` (linear) on the expanded data."""
    values = np.asarray(values, dtype=float)
    counts = np.asarray(counts, dtype=float)
    keep = counts > 0
    values, counts = values[keep], counts[keep]
    if counts.sum() == 0:
        return None
    order = np.argsort(values)
    values, counts = values[order], counts[order]
    n = counts.sum()
    h = (n - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    cum = np.cumsum(counts)  # value i covers positions [cum[i-1], cum[i]-1]

    def at(pos: float) -> float:
        return float(values[int(np.searchsorted(cum, pos, side="right"))])

    return float(at(lo) + (h - lo) * (at(hi) - at(lo)))


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval; equal to statsmodels ``proportion_confint(method="wilson")``."""
    if n <= 0:
        return None
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class TwoProportion:
    """Two-proportion z-test (pooled), as ``statsmodels.stats.proportion.proportions_ztest``."""

    p1: float | None
    p2: float | None
    diff: float | None
    z: float | None
    p_value: float | None
    code: str

    def to_dict(self) -> dict:
        return asdict(self)


def two_proportion(k1: float, n1: float, k2: float, n2: float) -> TwoProportion:
    """Test p1 = p2 where p1 = k1/n1 (current) and p2 = k2/n2 (reference)."""
    if n1 <= 0 or n2 <= 0:
        return TwoProportion(None, None, None, None, None, "empty")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return TwoProportion(p1, p2, p1 - p2, None, None, "zero_variance")
    z = (p1 - p2) / math.sqrt(var)
    return TwoProportion(p1, p2, p1 - p2, z, float(2 * sps.norm.sf(abs(z))), "ok")
