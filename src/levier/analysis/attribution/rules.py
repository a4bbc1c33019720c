"""Rule-based attribution from path counts: first, last, last non-direct, linear, position.

Each rule gives every touch of a path a weight (the weights of a path sum to 1); a channel
receives Σ over paths of conversions × weight (and value × weight). Repeated channels in a
path are separate touches. Time-decay needs the touch times: it runs in the engine
(:func:`levier.analysis.attribution.journeys.time_decay`) with the weights of
:func:`time_decay_weights`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from levier.analysis.attribution.paths import DIRECT, PathCounts
from levier.analysis.attribution.result import Attribution
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["RULES", "rule", "rule_weights", "time_decay_weights", "check_shares", "POSITION_SHARES"]

POSITION_SHARES = (0.4, 0.2, 0.4)  # first, middle (spread), last
RULES = ("first", "last", "last_non_direct", "linear", "position")


def _first(path: tuple[str, ...], **_kw: object) -> np.ndarray:
    w = np.zeros(len(path))
    w[0] = 1.0
    return w


def _last(path: tuple[str, ...], **_kw: object) -> np.ndarray:
    w = np.zeros(len(path))
    w[-1] = 1.0
    return w


def _last_non_direct(path: tuple[str, ...], direct: Collection[str] = (DIRECT,), **_kw: object) -> np.ndarray:
    w = np.zeros(len(path))
    idx = [i for i, c in enumerate(path) if c not in direct]
    w[idx[-1] if idx else -1] = 1.0
    return w


def _linear(path: tuple[str, ...], **_kw: object) -> np.ndarray:
    return np.full(len(path), 1.0 / len(path))


def _position(path: tuple[str, ...], shares: tuple[float, float, float] = POSITION_SHARES, **_kw: object) -> np.ndarray:
    n = len(path)
    if n == 1:
        return np.ones(1)
    first, middle, last = shares
    if n == 2:
        return np.array([first, last]) / (first + last)
    w = np.full(n, middle / (n - 2))
    w[0], w[-1] = first, last
    return w


_WEIGHTS: dict[str, Callable[..., np.ndarray]] = {
    "first": _first, "last": _last, "last_non_direct": _last_non_direct, "linear": _linear, "position": _position,
}


def rule_weights(model: str, path: tuple[str, ...], **options: object) -> np.ndarray:
    """The weight of each touch of ``path`` under rule ``model`` (sums to 1)."""
    try:
        fn = _WEIGHTS[model]
    except KeyError:
        raise OptionError(_("Unknown rule '{model}'; use one of: {rules}.", model=model, rules=", ".join(RULES))) from None
    return fn(path, **options)


def time_decay_weights(ages_days: np.ndarray, half_life_days: float = 7.0) -> np.ndarray:
    """Weights ∝ 2^(−age / half-life), age = days from the touch to the conversion; sum to 1."""
    if half_life_days <= 0:
        raise OptionError(_("The half-life must be positive, not {value}.", value=half_life_days))
    raw = np.exp2(-np.asarray(ages_days, dtype=float) / half_life_days)
    return raw / raw.sum()


def check_shares(shares: tuple[float, float, float]) -> None:
    """Position-based shares: three non-negative numbers (first, middle, last) summing to 1."""
    if len(shares) != 3 or abs(sum(shares) - 1) > 1e-9 or min(shares) < 0:
        raise OptionError(_("Position shares must be three non-negative numbers summing to 1, not {shares}.", shares=shares))


def rule(pc: PathCounts, model: str, *, direct: Collection[str] = (DIRECT,),
         shares: tuple[float, float, float] = POSITION_SHARES) -> Attribution:
    """Attribute ``pc`` with the rule ``model`` (first, last, last_non_direct, linear, position)."""
    if model == "time_decay":
        raise OptionError(_("Time-decay needs touch times: run it on a workspace, not on path counts."),
                          hint=_("Use another model with --paths, or drop --paths to read the workspace."))
    if model == "position":
        check_shares(shares)
    channels = pc.channels
    ix = {c: i for i, c in enumerate(channels)}
    conv, val = np.zeros(len(channels)), np.zeros(len(channels))
    for path, c, v in zip(pc.paths, pc.conversions, pc.value, strict=False):
        if c <= 0 and v <= 0:
            continue
        w = rule_weights(model, path, direct=direct, shares=shares)
        idx = np.fromiter((ix[ch] for ch in path), dtype=int, count=len(path))
        np.add.at(conv, idx, c * w)
        np.add.at(val, idx, v * w)
    params: dict[str, object] = {}
    if model == "position":
        params["shares"] = list(shares)
    if model == "last_non_direct":
        params["direct"] = sorted(direct)
    return Attribution(model, channels, tuple(conv.tolist()), tuple(val.tolist()),
                       pc.total_conversions, pc.total_value, params)
