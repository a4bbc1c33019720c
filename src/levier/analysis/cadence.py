"""Step 4–5 — contacts ↔ conversion: correlation, quadrants, sensitivity, response curve.

Inputs are the sufficient-statistic frames of :mod:`levier.analysis.queries`:

- lead unit: ``cells`` (leads per (x, converted)) — every figure is exact, including Spearman
  (mid-ranks of tied cells) and medians (histogram quantiles);
- account / rep unit: ``entities`` (one row per entity: leads, Σ touches, conversions) with
  X = mean touches per lead and Y = conversion rate, one point per entity with ≥ ``min_leads``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from levier.analysis.curves import Curve, bin_counts, classify_shape
from levier.analysis.stats import Correlation, correlation, moments, spearman, weighted_quantile
from levier.i18n import gettext as _

__all__ = ["Points", "Quadrants", "Sensitivity", "lead_points", "entity_points", "correlate", "quadrants", "sensitivity", "response_curve", "contacts_summary"]

TRIM = 0.01  # share of the highest cadences dropped by the sensitivity check


@dataclass(frozen=True)
class Points:
    """Weighted scatter points: x, y and the weight (leads in a cell, or 1 per entity)."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @property
    def n(self) -> float:
        return float(self.w.sum())

    def subset(self, mask: np.ndarray) -> Points:
        return Points(self.x[mask], self.y[mask], self.w[mask])


def lead_points(cells: pd.DataFrame) -> Points:
    g = cells.groupby(["x", "converted"], as_index=False)["n"].sum() if len(cells) else cells
    return Points(g["x"].to_numpy(float), g["converted"].to_numpy(float), g["n"].to_numpy(float)) if len(cells) else Points(np.array([]), np.array([]), np.array([]))


def entity_points(ent: pd.DataFrame, min_leads: int) -> Points:
    e = ent[ent["leads"] >= min_leads]
    return Points((e["touches"] / e["leads"]).to_numpy(float), (e["conversions"] / e["leads"]).to_numpy(float), np.ones(len(e)))


def correlate(p: Points) -> Correlation:
    rho = spearman(p.x, p.y, p.w) if p.n >= 3 else None
    return correlation(moments(p.x, p.y, p.w), spearman_rho=rho)


@dataclass(frozen=True)
class Quadrants:
    """Counts around the means: Q1 high X/high Y, Q2 low X/high Y, Q3 low/low, Q4 high X/low Y.

    A point exactly on a mean line counts as *low* on that axis.
    """

    x_mean: float | None
    y_mean: float | None
    counts: dict[str, int]

    def to_dict(self) -> dict:
        total = sum(self.counts.values())
        return {"x_mean": self.x_mean, "y_mean": self.y_mean, "counts": dict(self.counts), "shares": {k: (v / total if total else None) for k, v in self.counts.items()}}


def quadrants(p: Points) -> Quadrants:
    if p.n == 0:
        return Quadrants(None, None, {"q1": 0, "q2": 0, "q3": 0, "q4": 0})
    xm, ym = float(p.w @ p.x / p.n), float(p.w @ p.y / p.n)
    hx, hy = p.x > xm, p.y > ym
    c = {"q1": p.w[hx & hy].sum(), "q2": p.w[~hx & hy].sum(), "q3": p.w[~hx & ~hy].sum(), "q4": p.w[hx & ~hy].sum()}
    return Quadrants(xm, ym, {k: int(round(v)) for k, v in c.items()})


@dataclass(frozen=True)
class Sensitivity:
    """The correlation recomputed without the top 1 % of cadences (X above its 99th percentile)."""

    trimmed_share: float
    cutoff: float | None
    r: float | None
    slope: float | None
    r2: float | None
    flag: bool
    code: str

    def to_dict(self, lang: str | None = None) -> dict:
        return {"trimmed_share": self.trimmed_share, "cutoff": self.cutoff, "r": self.r, "slope": self.slope, "r2": self.r2, "flag": self.flag, "code": self.code, "message": self.message(lang)}

    def message(self, lang: str | None = None) -> str:
        if self.code != "ok":
            return _("Sensitivity not computed ({code}).", lang=lang, code=self.code)
        if self.flag:
            return _("Without the top 1 % of cadences the relation changes materially (r = {r:.2f}): a few heavy cadences drive it.", lang=lang, r=self.r)
        return _("Without the top 1 % of cadences the relation holds (r = {r:.2f}).", lang=lang, r=self.r)


def sensitivity(p: Points, full: Correlation) -> Sensitivity:
    cutoff = weighted_quantile(p.x, p.w, 1 - TRIM) if p.n else None
    if cutoff is None or full.code != "ok":
        return Sensitivity(0.0, cutoff, None, None, None, False, full.code if full.code != "ok" else "empty")
    keep = p.x <= cutoff
    trimmed = float(p.w[~keep].sum() / p.n)
    c = correlate(p.subset(keep))
    if c.code != "ok":
        return Sensitivity(trimmed, cutoff, None, None, None, True, c.code)
    changed = abs(c.r - full.r) > 0.05 or np.sign(c.slope) != np.sign(full.slope) or abs(c.slope - full.slope) > 0.25 * abs(full.slope)
    return Sensitivity(trimmed, cutoff, c.r, c.slope, c.r2, bool(changed), "ok")


def response_curve(cells: pd.DataFrame, min_n: int = 20) -> Curve:
    """Conversion rate by number of touches per lead (integer bins, sparse tail merged)."""
    if len(cells):
        g = cells.groupby("x").apply(lambda d: pd.Series({"n": d["n"].sum(), "k": d.loc[d["converted"] == 1, "n"].sum()}), include_groups=False).reset_index()
    else:
        g = pd.DataFrame({"x": [], "n": [], "k": []})
    bins = bin_counts(g["x"], g["n"], g["k"], min_n=min_n)
    fit = classify_shape([b.x for b in bins], [b.n for b in bins], [b.conversions for b in bins])
    return Curve(bins, fit)


def contacts_summary(cells: pd.DataFrame) -> dict:
    """Median, quartiles and mean of contacts per lead, exact from the (x, n) histogram."""
    if not len(cells) or cells["n"].sum() == 0:
        return {"median": None, "q1": None, "q3": None, "mean": None}
    g = cells.groupby("x")["n"].sum()
    x, n = g.index.to_numpy(float), g.to_numpy(float)
    return {
        "median": weighted_quantile(x, n, 0.5),
        "q1": weighted_quantile(x, n, 0.25),
        "q3": weighted_quantile(x, n, 0.75),
        "mean": float((x * n).sum() / n.sum()),
    }
