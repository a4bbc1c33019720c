"""Step 6 — the traffic light of a segment, with its reasons spelled out (fr/en).

Rules (thresholds configurable through :class:`DecisionThresholds`), first match wins:

1. **grey** — not enough data to decide (fewer than ``min_leads`` leads, or r undefined);
2. **red** — complaints rising vs the comparison period (two-proportion test, p < α), or
   r ≈ 0 (|r| < ``r_amber`` or its 95 % CI covers 0), or r ≤ −``r_amber`` (more touches, less
   conversion) → stop, revise content / TTF, test again;
3. **green** — r ≥ ``r_green`` and ΔCR ≥ ``delta_cr_points`` with complaints stable → deploy widely;
4. **amber** — otherwise (r in [r_amber, r_green), ΔCR too small or unknown, heterogeneous
   gains) → re-segment / adjust the cadence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from levier.analysis.stats import Correlation, TwoProportion
from levier.i18n import get_language
from levier.i18n import gettext as _

__all__ = ["DecisionThresholds", "Reason", "TrafficLight", "decide", "COLOURS"]

COLOURS = ("green", "amber", "red", "grey")


@dataclass(frozen=True)
class DecisionThresholds:
    """Configurable limits of the traffic light and guardrails."""

    r_green: float = 0.25
    r_amber: float = 0.10
    delta_cr_points: float = 2.0
    alpha: float = 0.05
    min_leads: int = 30
    complaint_guardrail: float = 0.002  # 0.2 % of touches
    unsubscribe_guardrail: float = 0.005  # 0.5 % of touches


@dataclass(frozen=True)
class Reason:
    """One reason: an English message id and its parameters (rendered in any language)."""

    code: str
    msgid: str
    params: dict = field(default_factory=dict)

    def text(self, lang: str | None = None) -> str:
        """The reason in ``lang``, numbers written the way that language writes them."""
        language = lang or get_language()
        return _(self.msgid, lang=lang, **{k: _local(v, language) for k, v in self.params.items()})


_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?$")


class _LocalNumber(float):
    """A float whose ``format()`` follows the language: ``0,11`` and ``−0,8`` in French."""

    language: str = "en"

    def __format__(self, spec: str) -> str:
        return _localise(format(float(self), spec or "g"), self.language)


def _localise(text: str, language: str) -> str:
    if language != "fr":
        return text
    text = text.replace(".", ",").replace("%", "\u00a0%")
    return "−" + text[1:] if text.startswith("-") else text


def _local(value: object, language: str) -> object:
    """Wrap numbers (and numeric strings) so a reason prints them in ``language``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        number = _LocalNumber(value)
        number.language = language
        return number
    if isinstance(value, str) and _NUMERIC.match(value):
        return _localise(value, language)
    return value


@dataclass(frozen=True)
class TrafficLight:
    colour: str
    reasons: tuple[Reason, ...]
    action_msgid: str

    def to_dict(self, lang: str | None = None) -> dict:
        return {
            "colour": self.colour,
            "reasons": [r.text(lang) for r in self.reasons],
            "reason_codes": [r.code for r in self.reasons],
            "action": _(self.action_msgid, lang=lang),
        }


ACTIONS = {
    "green": "deploy widely",
    "amber": "re-segment / adjust the cadence",
    "red": "stop, revise content / TTF, test again",
    "grey": "collect more data before deciding",
}


def _fmt(v: float) -> str:
    return f"{v:+.1f}"


def decide(
    corr: Correlation,
    *,
    n: int,
    delta_cr_points: float | None,
    complaint_test: TwoProportion | None,
    heterogeneous: bool = False,
    th: DecisionThresholds | None = None,
) -> TrafficLight:
    """Colour + reasons for one segment (see the module docstring for the rules)."""
    th = th or DecisionThresholds()
    if n < th.min_leads:
        return _light("grey", [Reason("too_few", "too few leads to decide (n = {n} < {min})", {"n": n, "min": th.min_leads})])
    if corr.code != "ok" or corr.r is None:
        return _light("grey", [Reason("r_undefined", "r is undefined ({code})", {"code": corr.code})])
    r = corr.r
    rising = complaint_test is not None and complaint_test.code == "ok" and complaint_test.p_value < th.alpha and (complaint_test.diff or 0) > 0
    red: list[Reason] = []
    if rising:
        red.append(Reason("complaints_rising", "complaints rising ({p1:.2%} vs {p2:.2%}, p = {p:.3f})", {"p1": complaint_test.p1, "p2": complaint_test.p2, "p": complaint_test.p_value}))
    covers = corr.r_ci is not None and corr.r_ci[0] <= 0 <= corr.r_ci[1]
    if r <= -th.r_amber:
        red.append(Reason("r_negative", "r = {r:.2f} ≤ −{lim}: more touches go with less conversion", {"r": r, "lim": th.r_amber}))
    elif abs(r) < th.r_amber or covers:
        red.append(Reason("r_zero", "r ≈ 0 (r = {r:.2f}, |r| < {lim} or its 95 % CI covers 0)", {"r": r, "lim": th.r_amber}))
    if red:
        return _light("red", red)
    reasons: list[Reason] = []
    ok_r = r >= th.r_green
    reasons.append(Reason("r_high", "r = {r:.2f} ≥ {lim}", {"r": r, "lim": th.r_green}) if ok_r else Reason("r_moderate", "r = {r:.2f} between {lo} and {hi}", {"r": r, "lo": th.r_amber, "hi": th.r_green}))
    if delta_cr_points is None:
        ok_cr = False
        reasons.append(Reason("delta_cr_unknown", "ΔCR unknown (no comparison period)"))
    else:
        ok_cr = delta_cr_points >= th.delta_cr_points
        msg = "ΔCR = {d} pts ≥ {lim:+g}" if ok_cr else "ΔCR = {d} pts < {lim:+g}"
        reasons.append(Reason("delta_cr_ok" if ok_cr else "delta_cr_low", msg, {"d": _fmt(delta_cr_points), "lim": th.delta_cr_points}))
    stable = complaint_test is not None and complaint_test.code in ("ok", "zero_variance")
    if stable:
        p = complaint_test.p_value
        falling = p is not None and p < th.alpha and (complaint_test.diff or 0) < 0
        msg = "complaints falling (p = {p})" if falling else "complaints stable (p = {p})"
        reasons.append(Reason("complaints_falling" if falling else "complaints_stable", msg, {"p": "n/a" if p is None else f"{p:.2f}"}))
    if heterogeneous:
        reasons.append(Reason("heterogeneous", "gains are heterogeneous across segments"))
    colour = "green" if ok_r and ok_cr and stable and not heterogeneous else "amber"
    return _light(colour, reasons)


def _light(colour: str, reasons: list[Reason]) -> TrafficLight:
    return TrafficLight(colour, tuple(reasons), ACTIONS[colour])
