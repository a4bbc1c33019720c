"""The typed result of comparing one arm with the control on one metric (any engine)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from levier.analysis.experiments.moments import CODES, EffectMoments

__all__ = ["EffectResult", "clean_float"]


def clean_float(x: Any) -> Any:
    """NaN / ±inf → None so JSON stays valid; other values unchanged."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True)
class EffectResult:
    """Effect of ``arm`` over ``baseline`` on ``metric`` (in ``dimension`` = ``value``).

    ``estimate`` / ``ci_low`` / ``ci_high`` are on the scale of ``difference`` (relative lift
    as a fraction: 0.1 = +10 %, or absolute difference of means). Frequentist and sequential
    engines fill ``p_value``; the Bayesian engine fills ``chance_to_win`` and ``risk_*``
    (expected loss of choosing the control / the arm). ``code`` is ``ok`` or says why the
    comparison is undefined; then the numbers are ``None``/NaN.
    """

    engine: str
    difference: str
    alternative: str
    alpha: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    mean_a: float
    mean_b: float
    n_a: float
    n_b: float
    p_value: float | None = None
    chance_to_win: float | None = None
    risk_control: float | None = None
    risk_treatment: float | None = None
    dof: float | None = None
    theta: float | None = None
    code: str = "ok"
    metric: str = ""
    arm: str = ""
    baseline: str = ""
    dimension: str = ""
    value: str = ""
    p_adjusted: float | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    @property
    def message(self) -> str:
        return CODES.get(self.code, self.code)

    @property
    def significant(self) -> bool:
        """Frequentist/sequential: (adjusted) p < α; Bayesian: chance to win ≥ 1 - α or ≤ α."""
        if not self.ok:
            return False
        if self.p_value is not None:
            p = self.p_adjusted if self.p_adjusted is not None else self.p_value
            return p < self.alpha
        ctw = self.chance_to_win
        return ctw is not None and (ctw >= 1 - self.alpha or ctw <= self.alpha)

    def labelled(self, **labels: Any) -> EffectResult:
        return replace(self, **labels)

    def to_dict(self) -> dict[str, Any]:
        out = {k: clean_float(v) for k, v in asdict(self).items()}
        out["warnings"] = list(self.warnings)
        out["message"] = self.message
        out["significant"] = self.significant
        return out

    @classmethod
    def undefined(cls, m: EffectMoments, *, engine: str, alternative: str, alpha: float) -> EffectResult:
        nan = math.nan
        return cls(engine=engine, difference=m.difference, alternative=alternative, alpha=alpha, estimate=nan,
                   se=nan, ci_low=nan, ci_high=nan, mean_a=m.mean_a, mean_b=m.mean_b, n_a=m.n_a, n_b=m.n_b,
                   code=m.code, theta=m.theta)
