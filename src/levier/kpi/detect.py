"""Anomaly and threshold detection on KPI series (pure NumPy; ADR 0110).

Seasonal-naive robust detector: the expected value of day *t* is the median of the same
weekday over the previous ``weeks`` weeks; the scale is 1.4826 × the median absolute
residual of the last ``scale_days`` days (pooled over weekdays, so it is stable), floored by
``min_scale``. Counts are judged on the square-root scale (``transform="sqrt"``), where a
Poisson-like noise has the same spread on a busy Monday and a quiet Sunday. A point is anomalous when ``|x − expected| > z × scale``. Only the past is
used, so an anomaly cannot hide itself, and a spike never contaminates the median of later
days by more than one value in ``weeks``. For weekly or monthly series use ``season=1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Anomaly", "DetectorOptions", "detect_anomalies", "threshold_breaches"]

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class DetectorOptions:
    season: int = 7  # period of the seasonality, in points (7 for daily data)
    weeks: int = 6  # how many past seasons the expected value uses
    scale_days: int = 56  # residuals pooled for the robust scale
    z: float = 4.0  # threshold in robust standard deviations
    min_history: int = 3  # seasons needed before a point is judged
    min_scale: float = 1e-9  # absolute floor of the scale
    rel_scale: float = 0.02  # scale floor as a share of |expected|
    transform: str = "none"  # "sqrt" for counts: stabilises Poisson-like variance across weekdays


@dataclass(frozen=True)
class Anomaly:
    index: int
    value: float
    expected: float
    scale: float
    z: float

    @property
    def direction(self) -> str:
        return "spike" if self.value > self.expected else "drop"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "value": self.value, "expected": self.expected, "scale": self.scale, "z": self.z, "direction": self.direction}


def _lagged(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Matrix M[t, j] = x[t − lags[j]] (NaN before the start)."""
    out = np.full((len(x), len(lags)), np.nan)
    for j, lag in enumerate(lags):
        out[lag:, j] = x[: len(x) - lag] if lag < len(x) else []
    return out


def _nanmedian_rows(m: np.ndarray, min_count: int) -> np.ndarray:
    ok = (~np.isnan(m)).sum(axis=1) >= min_count
    out = np.full(m.shape[0], np.nan)
    if ok.any():
        out[ok] = np.nanmedian(m[ok], axis=1)
    return out


def detect_anomalies(values: Sequence[float | None], options: DetectorOptions | None = None) -> list[Anomaly]:
    """Anomalous points of ``values`` (None / NaN are skipped)."""
    o = options or DetectorOptions()
    raw = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    x = np.sqrt(np.clip(raw, 0, None)) if o.transform == "sqrt" else raw
    expected = _nanmedian_rows(_lagged(x, o.season * np.arange(1, o.weeks + 1)), o.min_history)
    absres = np.abs(x - expected)
    spread = _nanmedian_rows(_lagged(absres, np.arange(1, o.scale_days + 1)), 2 * o.season)
    scale = np.maximum(np.maximum(MAD_TO_SIGMA * spread, o.min_scale), o.rel_scale * np.abs(expected))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - expected) / scale
    out = []
    for t in np.flatnonzero(np.abs(np.nan_to_num(z)) > o.z):
        exp = float(expected[t]) ** 2 if o.transform == "sqrt" else float(expected[t])
        out.append(Anomaly(int(t), float(raw[t]), exp, float(scale[t]), float(z[t])))
    return out


def threshold_breaches(values: Sequence[float | None], *, above: float | None = None, below: float | None = None) -> list[int]:
    """Indices of the values above ``above`` or below ``below``."""
    out = []
    for i, v in enumerate(values):
        if v is None or v != v:
            continue
        if (above is not None and v > above) or (below is not None and v < below):
            out.append(i)
    return out
