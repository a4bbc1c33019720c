"""Sample ratio mismatch (SRM): are units split across arms as the weights say?

Chi-square goodness-of-fit of the observed units per arm against the planned weights (as in
``gbstats.utils.check_srm``). A p-value below :data:`SRM_THRESHOLD` (0.001) means the
randomisation or the data pipeline is broken: the results should not be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

__all__ = ["SrmResult", "srm_check", "SRM_THRESHOLD"]

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Observed and expected units per arm, χ², p-value; ``mismatch`` when p < threshold."""

    arms: tuple[str, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float
    code: str = "ok"

    @property
    def mismatch(self) -> bool:
        return self.code == "ok" and self.p_value < self.threshold

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mismatch"] = self.mismatch
        return out


def srm_check(
    observed: Mapping[str, float],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SrmResult:
    """χ² test of ``observed`` units per arm against ``weights`` (default: equal split)."""
    arms = tuple(observed)
    obs = np.array([float(observed[a]) for a in arms])
    if weights is None:
        w = np.ones(len(arms))
    elif isinstance(weights, Mapping):
        w = np.array([float(weights.get(a, 0.0)) for a in arms])
    else:
        w = np.asarray(weights, dtype=float)
    total = obs.sum()
    if len(arms) < 2 or total <= 0 or w.sum() <= 0 or np.any(w <= 0):
        return SrmResult(arms, tuple(obs), tuple(obs), 0.0, 1.0, threshold, code="not_applicable")
    exp = total * w / w.sum()
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    p = float(sps.chi2.sf(chi2, len(arms) - 1))
    return SrmResult(arms, tuple(obs.tolist()), tuple(exp.tolist()), chi2, p, threshold)
