"""Experiment design: units per arm, duration from observed traffic, MDE for a given n.

Power is computed for the test the analysis runs (Welch, unequal variances): the standard
error of the difference is ``sqrt(v_a/n_a + v_b/n_b)``, with ``v = p(1 - p)`` for proportions
(each arm at its own rate) and ``v = sd²`` for means. ``distribution="z"`` (default) solves
the normal power equation including both tails (as ``statsmodels``' ``NormalIndPower``);
``"t"`` uses the noncentral t with ``n_a + n_b - 2`` degrees of freedom (as
``tt_ind_solve_power``). The MDE is relative to the baseline by default (0.1 = +10 %).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scipy import optimize
from scipy import stats as sps

from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["DesignResult", "power_at", "sample_size", "minimum_detectable_effect", "design", "DESIGN_WARNINGS",
           "MIN_UNITS_PER_ARM", "MIN_DAYS", "MAX_DAYS", "PLAUSIBLE_LIFT"]

Kind = Literal["proportion", "mean"]
MIN_UNITS_PER_ARM = 200
MIN_DAYS = 7
MAX_DAYS = 42
PLAUSIBLE_LIFT = 0.30

DESIGN_WARNINGS = {
    "small_n": "Fewer than {n} units per arm: results will be fragile (aim for at least {n}).",
    "short": "Shorter than {days} days: weekly cycles (weekday/weekend) are not covered.",
    "long": "Longer than {days} days: leads age, seasons change and people talk; shorten or raise traffic.",
    "implausible_mde": "The detectable effect (±{mde}) is larger than any plausible effect (about ±{plausible}): "
                       "the test is unlikely to conclude.",
}


@dataclass(frozen=True)
class DesignResult:
    """Sample size per arm, total, duration and warnings of a planned experiment."""

    kind: str
    baseline: float
    sd: float | None
    mde_relative: float
    mde_absolute: float
    alpha: float
    power: float
    alternative: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    n_per_arm: tuple[int, ...]
    n_total: int
    daily_units: float | None = None
    days: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def warning_messages(self, lang: str | None = None) -> list[str]:
        params = {"n": MIN_UNITS_PER_ARM, "plausible": f"{PLAUSIBLE_LIFT:.0%}", "mde": f"{abs(self.mde_relative):.1%}"}
        out = []
        for w in self.warnings:
            days = MIN_DAYS if w == "short" else MAX_DAYS
            out.append(_(DESIGN_WARNINGS[w], lang=lang, days=days, **params))
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = [{"code": c, "message": m} for c, m in zip(self.warnings, self.warning_messages(), strict=True)]
        return d


def _variances(kind: Kind, baseline: float, delta: float, sd: float | None) -> tuple[float, float]:
    if kind == "proportion":
        p_b = baseline + delta
        if not (0 < baseline < 1) or not (0 < p_b < 1):
            raise OptionError(_("A conversion rate must lie strictly between 0 and 1 (baseline {b}, with the effect {p}).",
                                b=baseline, p=round(p_b, 6)))
        return baseline * (1 - baseline), p_b * (1 - p_b)
    if sd is None or sd <= 0:
        raise OptionError(_("A mean metric needs its standard deviation (--sd, > 0)."))
    return sd**2, sd**2


def power_at(n_a: float, delta: float, var_a: float, var_b: float, *, ratio: float = 1.0, alpha: float = 0.05,
             alternative: str = "two-sided", distribution: str = "z") -> float:
    """Power to detect ``delta`` with ``n_a`` control units and ``ratio · n_a`` treated units."""
    n_b = ratio * n_a
    se = math.sqrt(var_a / n_a + var_b / n_b)
    nc = abs(delta) / se
    two = alternative == "two-sided"
    if distribution == "t":
        df = n_a + n_b - 2
        crit = sps.t.isf(alpha / 2 if two else alpha, df)
        return float(sps.nct.sf(crit, df, nc) + (sps.nct.cdf(-crit, df, nc) if two else 0.0))
    crit = sps.norm.isf(alpha / 2 if two else alpha)
    return float(sps.norm.sf(crit - nc) + (sps.norm.cdf(-crit - nc) if two else 0.0))


def _absolute(baseline: float, mde: float, relative: bool) -> float:
    return mde * baseline if relative else mde


def sample_size(baseline: float, mde: float, *, kind: Kind = "proportion", sd: float | None = None,
                relative: bool = True, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                ratio: float = 1.0, distribution: str = "z") -> float:
    """Control units (continuous) needed; the other arm needs ``ratio`` times as many."""
    delta = _absolute(baseline, mde, relative)
    if delta == 0:
        raise OptionError(_("The minimum detectable effect must not be 0."))
    va, vb = _variances(kind, baseline, delta, sd)

    def f(n: float) -> float:
        return power_at(n, delta, va, vb, ratio=ratio, alpha=alpha, alternative=alternative,
                        distribution=distribution) - power

    lo = 2.0 + 1e-9
    if f(lo) >= 0:
        return lo
    hi = 10.0
    while f(hi) < 0:
        hi *= 4
        if hi > 1e13:
            raise OptionError(_("The effect is too small to detect with any realistic sample."))
    return float(optimize.brentq(f, lo, hi, xtol=1e-8))


def minimum_detectable_effect(n_a: float, baseline: float, *, kind: Kind = "proportion", sd: float | None = None,
                              alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                              ratio: float = 1.0, distribution: str = "z") -> float:
    """Smallest positive relative lift detectable with ``n_a`` control units (absolute: × baseline)."""
    upper = (1 - baseline) / baseline - 1e-9 if kind == "proportion" else 100.0

    def f(lift: float) -> float:
        va, vb = _variances(kind, baseline, lift * baseline, sd)
        return power_at(n_a, lift * baseline, va, vb, ratio=ratio, alpha=alpha, alternative=alternative,
                        distribution=distribution) - power

    if f(upper) < 0:
        return math.inf
    return float(optimize.brentq(f, 1e-9, upper, xtol=1e-10))


def _warnings(n_arm: float, days: int | None, mde_rel: float, plausible: float) -> tuple[str, ...]:
    out = []
    if n_arm < MIN_UNITS_PER_ARM:
        out.append("small_n")
    if days is not None and days < MIN_DAYS:
        out.append("short")
    if days is not None and days > MAX_DAYS:
        out.append("long")
    if abs(mde_rel) > plausible:
        out.append("implausible_mde")
    return tuple(out)


def design(baseline: float, *, mde: float | None = None, n_per_arm: int | None = None, kind: Kind = "proportion",
           sd: float | None = None, relative: bool = True, alpha: float = 0.05, power: float = 0.8,
           alternative: str = "two-sided", arms: tuple[str, ...] = ("control", "treatment"),
           weights: tuple[float, ...] | None = None, daily_units: float | None = None,
           plausible_lift: float = PLAUSIBLE_LIFT, distribution: str = "z") -> DesignResult:
    """Plan an experiment: give ``mde`` (→ n per arm) or ``n_per_arm`` (→ MDE)."""
    if (mde is None) == (n_per_arm is None):
        raise OptionError(_("Give either the minimum detectable effect (--mde) or the units per arm (--n), not both."))
    weights = tuple(weights or (1.0,) * len(arms))
    if len(weights) != len(arms) or len(arms) < 2 or min(weights) <= 0:
        raise OptionError(_("Give at least two arms and one positive weight per arm."))
    if not (0 < alpha < 1 and 0 < power < 1):
        raise OptionError(_("alpha and power must lie strictly between 0 and 1."))
    ratio = min(weights[1:]) / weights[0]  # the smallest treated arm decides
    opts = {"kind": kind, "sd": sd, "alpha": alpha, "power": power, "alternative": alternative, "ratio": ratio,
            "distribution": distribution}
    if mde is not None:
        n_a = sample_size(baseline, mde, relative=relative, **opts)  # type: ignore[arg-type]
        mde_rel = mde if relative else mde / baseline
    else:
        n_a = float(n_per_arm)  # type: ignore[arg-type]
        mde_rel = minimum_detectable_effect(n_a, baseline, **opts)  # type: ignore[arg-type]
    per_arm = tuple(int(math.ceil(n_a * w / weights[0] - 1e-9)) for w in weights)
    total = int(sum(per_arm))
    days = int(math.ceil(total / daily_units)) if daily_units and daily_units > 0 else None
    return DesignResult(kind=kind, baseline=baseline, sd=sd, mde_relative=mde_rel, mde_absolute=mde_rel * baseline,
                        alpha=alpha, power=power, alternative=alternative, arms=tuple(arms), weights=weights,
                        n_per_arm=per_arm, n_total=total, daily_units=daily_units, days=days,
                        warnings=_warnings(min(per_arm), days, mde_rel, plausible_lift))
