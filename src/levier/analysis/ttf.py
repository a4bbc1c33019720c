"""Time to first contact (TTF): median, p90, share within the SLA, and the TTF ↔ conversion curve.

Input: the TTF histogram of :func:`levier.analysis.queries.ttf_histogram` (contacted leads per
(TTF minute bucket, converted)). Percentiles are exact at 1-minute resolution up to 48 h and
1-hour resolution beyond (the same on every engine: no approximate quantile functions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from levier.analysis.curves import Curve, ShapeFit, bin_counts, classify_shape
from levier.analysis.stats import TwoProportion, two_proportion, weighted_quantile

__all__ = ["TtfSummary", "ttf_summary", "ttf_curve", "TTF_EDGES_HOURS"]

TTF_EDGES_HOURS = [0, 1, 2, 4, 8, 24, 72]


@dataclass(frozen=True)
class TtfSummary:
    """TTF figures of one segment; ``sla_effect`` compares conversion within vs beyond the SLA."""

    median_hours: float | None
    p90_hours: float | None
    share_within_sla: float | None
    n_contacted: int
    sla_effect: TwoProportion
    cr_within_sla: float | None
    cr_beyond_sla: float | None

    def to_dict(self) -> dict:
        ratio = (self.cr_within_sla / self.cr_beyond_sla) if self.cr_within_sla is not None and self.cr_beyond_sla else None
        return {
            "median_hours": self.median_hours,
            "p90_hours": self.p90_hours,
            "share_within_sla": self.share_within_sla,
            "n_contacted": self.n_contacted,
            "sla_effect": {"cr_within_sla": self.cr_within_sla, "cr_beyond_sla": self.cr_beyond_sla, "ratio": ratio, "p_value": self.sla_effect.p_value, "code": self.sla_effect.code},
        }


def _hours(hist: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    g = hist.groupby("ttf_min")["n"].sum()
    return g.index.to_numpy(float) / 60.0, g.to_numpy(float)


def ttf_summary(hist: pd.DataFrame, sla_hours: float) -> TtfSummary:
    if not len(hist) or hist["n"].sum() == 0:
        return TtfSummary(None, None, None, 0, two_proportion(0, 0, 0, 0), None, None)
    h, n = _hours(hist)
    total = float(n.sum())
    # ttf_min is floor(seconds / 60): "< SLA" is exact for whole-minute SLAs.
    within = hist["ttf_min"] < sla_hours * 60
    n_in = float(hist.loc[within, "n"].sum())
    k_in = float(hist.loc[within & (hist["converted"] == 1), "n"].sum())
    n_out = total - n_in
    k_out = float(hist.loc[~within & (hist["converted"] == 1), "n"].sum())
    return TtfSummary(
        median_hours=_round(weighted_quantile(h, n, 0.5)),
        p90_hours=_round(weighted_quantile(h, n, 0.9)),
        share_within_sla=n_in / total,
        n_contacted=int(total),
        sla_effect=two_proportion(k_in, n_in, k_out, n_out),
        cr_within_sla=k_in / n_in if n_in else None,
        cr_beyond_sla=k_out / n_out if n_out else None,
    )


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def ttf_curve(hist: pd.DataFrame) -> Curve:
    """Conversion by TTF band (0–1 h, 1–2 h, 2–4 h, 4–8 h, 8–24 h, 24–72 h, ≥ 72 h), shape on log2(1 + h)."""
    if not len(hist):
        return Curve((), ShapeFit("none", None, None, code="empty"))
    g = hist.assign(k=hist["n"] * (hist["converted"] == 1)).groupby("ttf_min")[["n", "k"]].sum().reset_index()
    bins = bin_counts(g["ttf_min"] / 60.0, g["n"], g["k"], edges=TTF_EDGES_HOURS, unit="h")
    fit = classify_shape([math.log2(1 + b.x) for b in bins], [b.n for b in bins], [b.conversions for b in bins], min_bins=3)
    def back(v: float | None) -> float | None:
        return None if v is None else round(2**v - 1, 2)

    fit = ShapeFit(fit.shape, back(fit.knee), back(fit.optimum), fit.bic, fit.params, fit.monotone_share, fit.code)
    return Curve(bins, fit, method="binomial BIC over flat/linear/plateau/S/U fits on log2(1 + hours) (ADR 0040)")
