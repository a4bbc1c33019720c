"""Mid-experiment power: with the data so far, how much longer until the test can conclude?

The standard error of the effect shrinks as ``1/sqrt(n)``. To detect ``target`` (on the scale
of the result: relative lift or absolute difference) with the planned power, the standard
error must reach ``target / (z_{1-α/2} + z_{power})``; hence the units still needed and, with
the observed daily traffic, the days. This is the fixed-horizon answer; sequential intervals
are wider, so the estimate is optimistic for them (documented).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as sps

from levier.analysis.experiments.results import EffectResult, clean_float

__all__ = ["MidPower", "mid_experiment_power"]


@dataclass(frozen=True)
class MidPower:
    """Power now at ``target``, units needed in total and still to collect, days left."""

    target: float
    current_power: float
    n_current: float
    n_needed: float
    extra_units: float
    days_left: float | None
    code: str = "ok"  # ok | enough | undefined

    def to_dict(self) -> dict[str, Any]:
        return {k: clean_float(v) for k, v in asdict(self).items()}


def mid_experiment_power(result: EffectResult, target: float, *, power: float = 0.8,
                         daily_units: float | None = None) -> MidPower:
    """Power of the current test at ``target`` and the extra traffic needed to reach ``power``."""
    n = result.n_a + result.n_b
    if not result.ok or not result.se or not math.isfinite(result.se) or target == 0:
        return MidPower(target, math.nan, n, math.nan, math.nan, None, code="undefined")
    alpha = result.alpha
    two = result.alternative == "two-sided"
    z_a = sps.norm.isf(alpha / 2 if two else alpha)
    nc = abs(target) / result.se
    now = float(sps.norm.sf(z_a - nc) + (sps.norm.cdf(-z_a - nc) if two else 0.0))
    se_needed = abs(target) / (z_a + sps.norm.isf(1 - power))
    needed = n * (result.se / se_needed) ** 2
    extra = max(needed - n, 0.0)
    days = extra / daily_units if daily_units and daily_units > 0 else None
    return MidPower(target, now, n, needed, extra, days, code="enough" if extra == 0 else "ok")
