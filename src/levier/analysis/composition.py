"""Composition effects (Simpson's paradox) and clusters (VIP, flagged leads, very large accounts)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from levier.i18n import gettext as _

__all__ = ["Composition", "composition", "clusters_from", "large_cut", "LARGE_ACCOUNTS"]


@dataclass(frozen=True)
class Composition:
    """Pooled slope vs per-segment slopes; ``warning`` when they disagree in sign or strongly in size."""

    warning: bool
    pooled_slope: float | None
    weighted_segment_slope: float | None
    segment_slopes: dict
    reason: str  # none | sign | size | insufficient

    def to_dict(self, lang: str | None = None) -> dict:
        msgs = {
            "none": "The pooled slope agrees with the per-segment slopes.",
            "sign": "Composition effect: the pooled slope and some per-segment slopes have opposite signs; read the segments, not the total.",
            "size": "Composition effect: the pooled slope differs strongly from the average per-segment slope; the segment mix drives the total.",
            "insufficient": "Too few segments with a defined slope to check for composition effects.",
        }
        return {"warning": self.warning, "pooled_slope": self.pooled_slope, "weighted_segment_slope": self.weighted_segment_slope, "segment_slopes": dict(self.segment_slopes), "reason": self.reason, "message": _(msgs[self.reason], lang=lang)}


def composition(overall, segments, alpha: float = 0.05, ratio: float = 2.0) -> Composition:  # noqa: ANN001
    """Warn when a significant segment slope has the opposite sign of the pooled slope, or when the
    pooled slope and the lead-weighted mean of segment slopes differ by more than ``ratio``×."""
    pooled = overall.correlation.slope
    ok = [s for s in segments if s.correlation.code == "ok"]
    slopes = {s.label: s.correlation.slope for s in ok}
    if pooled is None or len(ok) < 2:
        return Composition(False, pooled, None, slopes, "insufficient")
    w = np.array([s.n for s in ok], dtype=float)
    mean = float(np.dot(w, [s.correlation.slope for s in ok]) / w.sum())
    opposite = any(np.sign(s.correlation.slope) != np.sign(pooled) and s.correlation.p_value < alpha for s in ok)
    if opposite or (np.sign(mean) != np.sign(pooled) and abs(mean) > 1e-9):
        return Composition(True, pooled, mean, slopes, "sign")
    big, small = max(abs(mean), abs(pooled)), min(abs(mean), abs(pooled))
    if small == 0 or big / small > ratio:
        return Composition(True, pooled, mean, slopes, "size")
    return Composition(False, pooled, mean, slopes, "none")


#: the large accounts the clusters list at most
LARGE_ACCOUNTS = 10

FLAGS = (("vip", "VIP leads"), ("litigation", "Leads in litigation"), ("do_not_contact", "Do-not-contact leads"), ("opted_out", "Opted-out leads"))


def large_cut(moments: dict) -> float | None:
    """The large-account cut: max(10, mean + 3 sd) of the leads per known account; None for ≤ 3 accounts.

    ``moments``: ``accounts``, ``leads``, ``leads_sq`` (count, Σ and Σ² of the leads per account).
    """
    n = int(moments["accounts"])
    if n <= 3:
        return None
    mean = float(moments["leads"]) / n
    sd = math.sqrt(max(float(moments["leads_sq"]) / n - mean * mean, 0.0))
    return max(10.0, mean + 3 * sd)


def clusters_from(flags: pd.DataFrame, accounts: pd.DataFrame, moments: dict | None = None, lang: str | None = None) -> tuple[dict, ...]:
    """Flagged groups and very large accounts (≥ 10 leads and > mean + 3 sd), with CR and touches.

    ``moments`` (``accounts``, ``leads``, ``leads_sq``: count, Σ and Σ² of the leads per known
    account) give the mean and sd when ``accounts`` holds only some accounts (the audit passes
    the largest ones above :func:`large_cut`, reduced in the engine); without them they come
    from ``accounts``.
    """
    out = []
    for col, label in FLAGS:
        g = flags[flags[col] == 1]
        n = int(g["n"].sum())
        if n:
            out.append({"kind": col, "label": label, "id": None, "n": n, "conversion_rate": float(g["conversions"].sum()) / n, "mean_touches": float(g["touches"].sum()) / n})
    acc = accounts.groupby("account_id", as_index=False)[["leads", "touches", "conversions", "vip"]].sum()
    acc = acc[acc["account_id"] != "unknown"]
    if moments is None:
        moments = {"accounts": len(acc), "leads": acc["leads"].sum(), "leads_sq": (acc["leads"].astype(float) ** 2).sum()}
    cut = large_cut(moments)
    if cut is not None:
        big = acc[acc["leads"] > cut].sort_values(["leads", "account_id"], ascending=[False, True], kind="mergesort").head(LARGE_ACCOUNTS)
        for row in big.itertuples(index=False):
            out.append({"kind": "large_account", "label": "Large account", "id": str(row.account_id), "n": int(row.leads), "conversion_rate": row.conversions / row.leads, "mean_touches": row.touches / row.leads, "vip": bool(row.vip)})
    return tuple(out)
