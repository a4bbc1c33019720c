"""Sufficient statistics of one arm (× metric × dimension cell), as frozen dataclasses.

The engine returns counts, sums, sums of squares and cross-products; these classes turn them
into means and variances. Names and definitions follow GrowthBook's ``gbstats``
(``ProportionStatistic``, ``SampleMeanStatistic``, ``RatioStatistic``,
``RegressionAdjustedStatistic``) so results can be compared number for number:

- ``variance`` is the per-unit variance (not the variance of the mean);
- a proportion's variance is ``p (1 - p)`` (no n - 1 correction), a sample mean's uses n - 1;
- a ratio's variance is the delta-method variance of ``mean(m) / mean(d)`` per unit;
- a regression-adjusted (CUPED) statistic's mean is ``mean(post) - θ mean(pre)``.

Statistics of the same kind add (``a + b``): cells of a breakdown sum to the overall arm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "ProportionStatistic",
    "SampleMeanStatistic",
    "RatioStatistic",
    "RegressionAdjustedStatistic",
    "Statistic",
    "BaseStatistic",
    "covariance",
    "variance_of_ratios",
    "compute_theta",
    "statistic_from_dict",
]


def variance_of_ratios(mean_m: Any, var_m: Any, mean_d: Any, var_d: Any, cov_md: Any) -> Any:
    """Delta-method variance of M / D given the means, variances and covariance of M and D.

    Floats or NumPy arrays; 0 where ``mean_d`` is 0 (gbstats convention).
    """
    if np.ndim(mean_d) == 0:
        if mean_d == 0:
            return 0.0
        return var_m / mean_d**2 + var_d * mean_m**2 / mean_d**4 - 2 * cov_md * mean_m / mean_d**3
    d = np.where(mean_d == 0, np.nan, mean_d)
    out = var_m / d**2 + var_d * mean_m**2 / d**4 - 2 * cov_md * mean_m / d**3
    return np.where(mean_d == 0, 0.0, out)


@dataclass(frozen=True)
class BaseStatistic:
    """Common behaviour: ``n``, ``mean``, ``variance``, ``stddev``; JSON-safe ``to_dict``."""

    n: float

    kind = "base"

    @property
    def mean(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def unadjusted_mean(self) -> float:
        return self.mean

    @property
    def stddev(self) -> float:
        v = self.variance
        return math.sqrt(v) if v > 0 else 0.0

    @property
    def has_zero_variance(self) -> bool:
        return not self.variance > 1e-300

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, **asdict(self)}
        out.update(mean=self.mean, variance=self.variance)
        return out


@dataclass(frozen=True)
class ProportionStatistic(BaseStatistic):
    """Binary metric: ``sum`` = number of units that converted among ``n``."""

    sum: float = 0.0

    kind = "proportion"

    @property
    def sum_squares(self) -> float:
        return self.sum

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        p = self.mean
        return p * (1 - p)

    def __add__(self, other: ProportionStatistic) -> ProportionStatistic:
        if not isinstance(other, ProportionStatistic):
            return NotImplemented
        return ProportionStatistic(n=self.n + other.n, sum=self.sum + other.sum)


@dataclass(frozen=True)
class SampleMeanStatistic(BaseStatistic):
    """Numeric metric per unit: Σx and Σx² over ``n`` units (zeros included)."""

    sum: float = 0.0
    sum_squares: float = 0.0

    kind = "mean"

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n <= 1:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)

    def __add__(self, other: SampleMeanStatistic) -> SampleMeanStatistic:
        if not isinstance(other, SampleMeanStatistic):
            return NotImplemented
        return SampleMeanStatistic(self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares)


Component = ProportionStatistic | SampleMeanStatistic


def covariance(n: float, a: Component, b: Component, sum_of_products: float) -> float:
    """Per-unit covariance of two components from their sums and Σab (gbstats convention)."""
    if n <= 1:
        return 0.0
    if isinstance(a, ProportionStatistic) and isinstance(b, ProportionStatistic):
        return sum_of_products / n - a.sum * b.sum / n**2
    return (sum_of_products - a.sum * b.sum / n) / (n - 1)


@dataclass(frozen=True)
class RatioStatistic(BaseStatistic):
    """Ratio metric Σm / Σd (e.g. complaints per touch, revenue per deal); delta-method variance."""

    m: Component = ProportionStatistic(0)
    d: Component = ProportionStatistic(0)
    m_d_sum_of_products: float = 0.0

    kind = "ratio"

    @property
    def mean(self) -> float:
        return self.m.sum / self.d.sum if self.d.sum else 0.0

    @property
    def covariance(self) -> float:
        return covariance(self.n, self.m, self.d, self.m_d_sum_of_products)

    @property
    def variance(self) -> float:
        if self.d.mean == 0 or self.n <= 1:
            return 0.0
        return variance_of_ratios(self.m.mean, self.m.variance, self.d.mean, self.d.variance, self.covariance)

    def __add__(self, other: RatioStatistic) -> RatioStatistic:
        if not isinstance(other, RatioStatistic):
            return NotImplemented
        return RatioStatistic(self.n + other.n, self.m + other.m, self.d + other.d,
                              self.m_d_sum_of_products + other.m_d_sum_of_products)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "m": self.m.to_dict(), "d": self.d.to_dict(),
                "m_d_sum_of_products": self.m_d_sum_of_products, "mean": self.mean, "variance": self.variance}


@dataclass(frozen=True)
class RegressionAdjustedStatistic(BaseStatistic):
    """CUPED: the metric (``post``) adjusted on a pre-period covariate (``pre``) with slope θ."""

    post: Component = SampleMeanStatistic(0)
    pre: Component = SampleMeanStatistic(0)
    post_pre_sum_of_products: float = 0.0
    theta: float | None = None

    kind = "cuped"

    @property
    def mean(self) -> float:
        return self.post.mean - (self.theta or 0.0) * self.pre.mean

    @property
    def unadjusted_mean(self) -> float:
        return self.post.mean

    @property
    def covariance(self) -> float:
        return covariance(self.n, self.post, self.pre, self.post_pre_sum_of_products)

    @property
    def variance(self) -> float:
        if self.n <= 1:
            return 0.0
        t = self.theta or 0.0
        return max(self.post.variance + t**2 * self.pre.variance - 2 * t * self.covariance, 0.0)

    def with_theta(self, theta: float) -> RegressionAdjustedStatistic:
        return replace(self, theta=theta)

    def __add__(self, other: RegressionAdjustedStatistic) -> RegressionAdjustedStatistic:
        if not isinstance(other, RegressionAdjustedStatistic):
            return NotImplemented
        return RegressionAdjustedStatistic(self.n + other.n, self.post + other.post, self.pre + other.pre,
                                           self.post_pre_sum_of_products + other.post_pre_sum_of_products, None)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "post": self.post.to_dict(), "pre": self.pre.to_dict(),
                "post_pre_sum_of_products": self.post_pre_sum_of_products, "theta": self.theta,
                "mean": self.mean, "variance": self.variance}


Statistic = ProportionStatistic | SampleMeanStatistic | RatioStatistic | RegressionAdjustedStatistic


def _joint(a: Component, b: Component) -> Component:
    return a + b  # type: ignore[operator]


def compute_theta(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic) -> float:
    """CUPED slope θ = cov(post, pre) / var(pre), pooled over both arms (gbstats convention)."""
    n = a.n + b.n
    post, pre = _joint(a.post, b.post), _joint(a.pre, b.pre)
    pre = replace(pre, n=n)
    post = replace(post, n=n)
    if pre.variance <= 0 or post.variance <= 0:
        return 0.0
    cov = covariance(n, post, pre, a.post_pre_sum_of_products + b.post_pre_sum_of_products)
    return cov / pre.variance


_COMPONENTS = {"proportion": ProportionStatistic, "mean": SampleMeanStatistic}


def _component(d: dict[str, Any]) -> Component:
    cls = _COMPONENTS[d.get("kind", "mean")]
    keys = ("n", "sum") if cls is ProportionStatistic else ("n", "sum", "sum_squares")
    return cls(**{k: float(d.get(k, 0.0)) for k in keys})


def statistic_from_dict(d: dict[str, Any]) -> Statistic:
    """Rebuild a statistic from :meth:`to_dict` output (round trip for JSON files)."""
    kind = d.get("kind")
    if kind in _COMPONENTS:
        return _component(d)
    if kind == "ratio":
        return RatioStatistic(float(d["n"]), _component(d["m"]), _component(d["d"]), float(d["m_d_sum_of_products"]))
    if kind == "cuped":
        return RegressionAdjustedStatistic(float(d["n"]), _component(d["post"]), _component(d["pre"]),
                                           float(d["post_pre_sum_of_products"]), d.get("theta"))
    raise ValueError(f"unknown statistic kind {kind!r}")
