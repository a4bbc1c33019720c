"""Response curves: conversion rate by bins of X with Wilson intervals, and their shape.

Shape classification (see docs/decisions/0040-response-curve-shape.md): five binomial models
are fitted to the binned counts — flat, linear, plateau (piecewise linear with a knee, flat
after it), S (logistic with a floor) and U (quadratic with an interior optimum) — and the one
with the lowest BIC (computed on the binomial log-likelihood of the leads, not of the bins)
wins. ``none`` means the flat model wins: no detectable relation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import isotonic_regression

from levier.analysis.stats import wilson

__all__ = ["Bin", "Curve", "ShapeFit", "bin_counts", "classify_shape", "SHAPES"]

SHAPES = ("linear", "plateau", "u", "s", "none")
EPS = 1e-6
TIE = 2.0


@dataclass(frozen=True)
class Bin:
    """One bin of a response curve."""

    label: str
    lo: float
    hi: float | None
    x: float  # representative X (mean of the leads in the bin)
    n: int
    conversions: int
    rate: float | None
    ci: tuple[float, float] | None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci"] = list(self.ci) if self.ci else None
        return d


@dataclass(frozen=True)
class ShapeFit:
    """The winning model: shape, knee (end of the rise) or optimum, BIC of each candidate."""

    shape: str
    knee: float | None
    optimum: float | None
    bic: dict[str, float] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    monotone_share: float | None = None  # share of the variance the isotonic fit explains
    code: str = "ok"


@dataclass(frozen=True)
class Curve:
    """Binned curve plus its shape."""

    bins: tuple[Bin, ...]
    fit: ShapeFit
    method: str = "binomial BIC over flat/linear/plateau/S/U fits (ADR 0040)"

    def to_dict(self) -> dict:
        return {
            "bins": [b.to_dict() for b in self.bins],
            "shape": self.fit.shape,
            "knee": self.fit.knee,
            "optimum": self.fit.optimum,
            "method": self.method,
            "bic": self.fit.bic,
            "params": self.fit.params,
            "code": self.fit.code,
            "monotone_share": self.fit.monotone_share,
        }


def bin_counts(x: np.ndarray, n: np.ndarray, k: np.ndarray, edges: list[float] | None = None, *, min_n: int = 20, unit: str = "") -> tuple[Bin, ...]:
    """Bins of X: one per integer value (``edges`` None) merged so each tail bin has ≥ ``min_n``.

    ``x`` distinct values, ``n`` leads and ``k`` conversions per value.
    """
    x, n, k = (np.asarray(a, dtype=float) for a in (x, n, k))
    order = np.argsort(x)
    x, n, k = x[order], n[order], k[order]
    if edges is None:
        groups = _integer_groups(x, n, min_n)
    else:
        idx = np.searchsorted(np.asarray(edges, dtype=float), x, side="right") - 1
        groups = [(edges[i], edges[i + 1] if i + 1 < len(edges) else None, idx == i) for i in range(len(edges))]
    bins = []
    for lo, hi, mask in groups:
        nn, kk = float(n[mask].sum()), float(k[mask].sum())
        if nn == 0:
            continue
        rep = float((x[mask] * n[mask]).sum() / nn)
        bins.append(Bin(_label(lo, hi, unit, edges is None), float(lo), None if hi is None else float(hi), rep, int(nn), int(kk), kk / nn, wilson(kk, nn)))
    return tuple(bins)


def _integer_groups(x: np.ndarray, n: np.ndarray, min_n: int) -> list[tuple[float, float | None, np.ndarray]]:
    if len(x) == 0:
        return []
    values = list(x)
    # Merge the upper tail until its bin holds at least min_n leads.
    cut = len(values)
    tail = 0.0
    while cut > 1 and tail + n[cut - 1] < min_n:
        tail += n[cut - 1]
        cut -= 1
    groups = [(v, v, x == v) for v in values[: cut - 1]]
    last = values[cut - 1]
    groups.append((last, None if cut < len(values) else last, x >= last))
    return groups


def _label(lo: float, hi: float | None, unit: str, integer: bool) -> str:
    def f(v: float) -> str:
        return f"{v:g}"

    if hi is None:
        return f"≥{f(lo)}{unit}"
    if integer and lo == hi:
        return f"{f(lo)}{unit}"
    return f"{f(lo)}–{f(hi)}{unit}"


# -- shape models --------------------------------------------------------------------------

def _loglik(p: np.ndarray, n: np.ndarray, k: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float((k * np.log(p) + (n - k) * np.log(1 - p)).sum())


def _wls(design: np.ndarray, rate: np.ndarray, n: np.ndarray) -> np.ndarray:
    w = np.sqrt(n)
    beta, *_ = np.linalg.lstsq(design * w[:, None], rate * w, rcond=None)
    return beta


def _fit_flat(x, n, k):  # noqa: ANN001, ANN202
    p = np.full_like(x, k.sum() / n.sum())
    return p, {"p": float(p[0])}


def _fit_linear(x, n, k):  # noqa: ANN001, ANN202
    a, b = _wls(np.column_stack([np.ones_like(x), x]), k / n, n)
    return a + b * x, {"a": float(a), "b": float(b)}


def _fit_plateau(x, n, k):  # noqa: ANN001, ANN202
    best = None
    lo, hi = x.min(), x.max()
    for knee in np.unique(np.concatenate([x, (x[:-1] + x[1:]) / 2]))[1:-1]:
        if not lo < knee < hi:
            continue
        z = np.minimum(x, knee)
        a, b = _wls(np.column_stack([np.ones_like(x), z]), k / n, n)
        p = a + b * z
        ll = _loglik(p, n, k)
        if best is None or ll > best[0]:
            best = (ll, p, {"a": float(a), "b": float(b), "knee": float(knee)})
    if best is None:
        return None
    return best[1], best[2]


def _logistic(x, c, d, s, m):  # noqa: ANN001, ANN202
    return c + d / (1 + np.exp(-s * (x - m)))


def _fit_s(x, n, k):  # noqa: ANN001, ANN202
    """Logistic with a floor, c + d / (1 + exp(-s (x - m))): a grid over (s, m); for each pair
    the model is linear in (c, d), solved by weighted least squares (vectorised)."""
    rate = k / n
    span = max(x.max() - x.min(), 1.0)
    ms = np.linspace(x.min() + 0.5, x.max(), 60)
    ss = np.geomspace(0.5 / span, 10.0, 24)
    sg, mg = np.meshgrid(ss, ms, indexing="ij")
    z = 1 / (1 + np.exp(-sg[..., None] * (x[None, None, :] - mg[..., None])))  # (S, M, bins)
    w = n / n.sum()
    zbar = (z * w).sum(-1)
    rbar = float((rate * w).sum())
    var = ((z - zbar[..., None]) ** 2 * w).sum(-1)
    cov = ((z - zbar[..., None]) * (rate - rbar) * w).sum(-1)
    d = np.where(var > 1e-12, cov / np.maximum(var, 1e-12), 0.0)
    c = rbar - d * zbar
    p = np.clip(c[..., None] + d[..., None] * z, EPS, 1 - EPS)
    ll = (k * np.log(p) + (n - k) * np.log(1 - p)).sum(-1)
    ll = np.where(var > 1e-12, ll, -np.inf)
    i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)
    if not np.isfinite(ll[i, j]):
        return None
    c, d, s, m = float(c[i, j]), float(d[i, j]), float(sg[i, j]), float(mg[i, j])
    # An S needs its lower (or upper) shoulder inside the data: the curve at the first bin
    # must be close to the floor, otherwise the logistic is only a concave rise (a plateau).
    first = abs(_logistic(x.min(), c, d, s, m) - c)
    if abs(d) < EPS or first > 0.25 * abs(d) or m <= x.min() + 0.5:
        return None
    return np.clip(_logistic(x, c, d, s, m), 0, 1), {"c": c, "d": d, "s": s, "m": m}


def _fit_u(x, n, k):  # noqa: ANN001, ANN202
    a, b, c = _wls(np.column_stack([np.ones_like(x), x, x * x]), k / n, n)
    if c >= 0:
        return None  # only an inverted U has an optimum worth reporting
    opt = -b / (2 * c)
    if not (x.min() + 0.5 <= opt <= x.max() - 0.5):
        return None
    return a + b * x + c * x * x, {"a": float(a), "b": float(b), "c": float(c), "optimum": float(opt)}


_MODELS = {"none": (_fit_flat, 1), "linear": (_fit_linear, 2), "plateau": (_fit_plateau, 3), "s": (_fit_s, 4), "u": (_fit_u, 3)}


def classify_shape(x: np.ndarray, n: np.ndarray, k: np.ndarray, *, min_bins: int = 4, min_n: int = 30) -> ShapeFit:
    """Classify the curve given by bins (representative x, leads n, conversions k)."""
    x, n, k = (np.asarray(a, dtype=float) for a in (x, n, k))
    keep = n > 0
    x, n, k = x[keep], n[keep], k[keep]
    if len(x) < min_bins or n.sum() < min_n:
        return ShapeFit("none", None, None, code="too_few")
    if k.sum() == 0 or k.sum() == n.sum():
        return ShapeFit("none", None, None, code="zero_variance")
    total = n.sum()
    bic, fits = {}, {}
    for name, (fn, n_params) in _MODELS.items():
        out = fn(x, n, k)
        if out is None:
            continue
        p, params = out
        bic[name] = n_params * math.log(total) - 2 * _loglik(p, n, k)
        fits[name] = params
    shape = min(bic, key=bic.get)
    # A U claims a decline: on a near tie (ΔBIC < 2, "not worth more than a bare mention")
    # with a monotone reading, the monotone reading wins.
    monotone = {m: bic[m] for m in ("linear", "plateau", "s") if m in bic}
    if shape == "u" and monotone and min(monotone.values()) <= bic["u"] + TIE:
        shape = min(monotone, key=monotone.get)
    params = fits[shape]
    knee = optimum = None
    if shape == "plateau":
        knee = params["knee"]
    elif shape == "s":
        knee = params["m"] + math.log(9) / params["s"]  # 90 % of the rise reached
    elif shape == "u":
        optimum = params["optimum"]
    return ShapeFit(shape, _r(knee), _r(optimum), {key: round(v, 2) for key, v in bic.items()}, params, _monotone_share(x, n, k))


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 2)


def _monotone_share(x: np.ndarray, n: np.ndarray, k: np.ndarray) -> float | None:
    """Share of the weighted variance of the bin rates that an increasing isotonic fit explains."""
    rate = k / n
    mean = (rate * n).sum() / n.sum()
    total = float(((rate - mean) ** 2 * n).sum())
    if total <= 0:
        return None
    fit = isotonic_regression(rate, weights=n, increasing=True).x
    return round(1 - float(((rate - fit) ** 2 * n).sum()) / total, 3)
