"""Ship / iterate / stop, with reasons, mapped to the method's traffic light.

- **red → stop**: a guardrail is breached, or the primary KPI is significantly worse;
- **green → ship**: the primary KPI is significantly better by at least the target, with
  every guardrail safe, no sample ratio mismatch and no heterogeneity across segments;
- **amber → iterate**: anything else (inconclusive, below target, heterogeneous, SRM).

The decision carries a *learning draft* (a plain dict) that the loop stores as a learning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from levier.analysis.experiments.protocol import Protocol
from levier.analysis.experiments.readout import ExperimentResult
from levier.analysis.experiments.results import EffectResult, clean_float
from levier.i18n import gettext as _

__all__ = ["Decision", "decide", "REASONS", "ACTIONS"]

ACTIONS = {"green": "ship", "amber": "iterate", "red": "stop"}

REASONS = {
    "guardrail_breach": "Guardrail {metric} breached in {arm} ({detail}).",
    "harm": "The primary KPI is significantly worse in {arm} ({effect}).",
    "win": "The primary KPI is significantly better in {arm} ({effect}), at least the target {target}.",
    "below_target": "{arm} is significantly better ({effect}) but below the target {target}.",
    "inconclusive": "No significant difference yet for {arm} ({effect}); about {days} more days needed.",
    "inconclusive_no_traffic": "No significant difference yet for {arm} ({effect}).",
    "heterogeneous": "The effect differs between segments of {dimension} (heterogeneity p = {p}).",
    "srm": "Sample ratio mismatch (p = {p}): the split is not the planned one; fix the randomisation before trusting results.",
    "undefined": "The primary KPI cannot be compared for {arm}: {message}",
    "guardrail_watch": "Guardrail {metric} trends the wrong way in {arm} (not significant).",
}


@dataclass(frozen=True)
class Decision:
    """Traffic light, action, the arm concerned and the reasons (codes + sentences)."""

    light: str
    action: str
    arm: str | None
    reasons: tuple[tuple[str, str], ...]
    learning: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"light": self.light, "action": self.action, "arm": self.arm,
                "reasons": [{"code": c, "message": m} for c, m in self.reasons], "learning": self.learning}


def _fmt_effect(e: EffectResult) -> str:
    if not e.ok:
        return "n/a"
    scale = "%" if e.difference == "relative" else ""
    k = 100 if scale else 1
    return f"{e.estimate * k:+.2f}{scale} [{e.ci_low * k:+.2f}; {e.ci_high * k:+.2f}]"


def _better(e: EffectResult, inverse: bool) -> bool:
    if not e.significant:
        return False
    if e.engine == "bayesian":
        return (e.chance_to_win or 0) >= 1 - e.alpha
    return (e.estimate < 0) if inverse else (e.estimate > 0)


def _worse(e: EffectResult, inverse: bool) -> bool:
    if not e.significant:
        return False
    if e.engine == "bayesian":
        return (e.chance_to_win or 1) <= e.alpha
    return (e.estimate > 0) if inverse else (e.estimate < 0)


def decide(result: ExperimentResult, protocol: Protocol | None = None, *, target: float | None = None,
           inverse: bool = False, lang: str | None = None) -> Decision:
    """The decision for ``result`` (target: relative effect needed to ship; default the protocol's)."""
    tgt = target if target is not None else (protocol.ship_target if protocol else result.options.target)
    if protocol is not None:
        inverse = protocol.primary.inverse
    reasons: list[tuple[str, str]] = []

    def add(code: str, **kw: Any) -> None:
        reasons.append((code, _(REASONS[code], lang=lang, **kw)))

    for g in result.guardrails:
        if g.status == "breach":
            add("guardrail_breach", metric=g.metric, arm=g.arm, detail=", ".join(g.reasons))
    primary = result.primary_effects()
    red_arms = [e for e in primary if _worse(e, inverse)]
    for e in red_arms:
        add("harm", arm=e.arm, effect=_fmt_effect(e))
    if reasons:
        arm = red_arms[0].arm if red_arms else next(g.arm for g in result.guardrails if g.status == "breach")
        return _finish("red", arm, reasons, result, protocol, lang)
    if result.srm.mismatch:
        add("srm", p=f"{result.srm.p_value:.2g}")
    for arm_dim, p in result.heterogeneity.items():
        if p is not None and p < result.options.alpha:
            add("heterogeneous", dimension=arm_dim.split(":", 1)[1], p=f"{p:.3g}")
    wins = sorted((e for e in primary if _better(e, inverse)), key=lambda e: -abs(e.estimate))
    meets = [e for e in wins if _meets(e, tgt)]
    for g in result.guardrails:
        if g.status == "watch":
            add("guardrail_watch", metric=g.metric, arm=g.arm)
    if meets and not any(c in ("srm", "heterogeneous") for c, _m in reasons):
        add("win", arm=meets[0].arm, effect=_fmt_effect(meets[0]), target=f"{tgt:+.0%}")
        return _finish("green", meets[0].arm, reasons, result, protocol, lang)
    for e in wins:
        if e not in meets:
            add("below_target", arm=e.arm, effect=_fmt_effect(e), target=f"{tgt:+.0%}")
    for e in primary:
        if not e.ok:
            add("undefined", arm=e.arm, message=e.message)
        elif e not in wins:
            mp = result.mid_power.get(e.arm)
            days = mp.days_left if mp and mp.days_left is not None and math.isfinite(mp.days_left) else None
            if days is not None:
                add("inconclusive", arm=e.arm, effect=_fmt_effect(e), days=math.ceil(days))
            else:
                add("inconclusive_no_traffic", arm=e.arm, effect=_fmt_effect(e))
    arm = (meets or wins or primary or [None])[0]
    return _finish("amber", arm.arm if arm else None, reasons, result, protocol, lang)


def _meets(e: EffectResult, target: float) -> bool:
    if e.difference == "relative":
        return abs(e.estimate) >= abs(target) - 1e-9
    return e.mean_a != 0 and abs(e.estimate / e.mean_a) >= abs(target) - 1e-9


def _finish(light: str, arm: str | None, reasons: list[tuple[str, str]], result: ExperimentResult,
            protocol: Protocol | None, lang: str | None) -> Decision:
    primary = next((e for e in result.primary_effects() if e.arm == arm), None)
    learning = {
        "kind": "experiment",
        "experiment_key": result.key,
        "protocol_version": protocol.version if protocol else None,
        "title": (protocol.title if protocol else "") or result.key,
        "observation": protocol.observation if protocol else "",
        "hypothesis": protocol.hypothesis if protocol else "",
        "variable": protocol.variable if protocol else "",
        "light": light,
        "action": ACTIONS[light],
        "arm": arm,
        "metric": result.primary,
        "effect": {k: clean_float(getattr(primary, k)) for k in ("estimate", "ci_low", "ci_high", "p_value",
                                                                  "chance_to_win", "difference", "engine")}
        if primary else None,
        "guardrails": {f"{g.metric}:{g.arm}": g.status for g in result.guardrails},
        "context": {"unit": protocol.unit if protocol else None, "dimensions": sorted({b.dimension for b in result.breakdowns})},
        "summary": " ".join(m for _c, m in reasons),
    }
    return Decision(light, ACTIONS[light], arm, tuple(reasons), learning)
