"""Step 6 — proposed thresholds per segment, each with the evidence behind it.

- minimum touches: the knee of the response curve (plateau / S: 90 % of the rise) or the
  optimum of an inverted U; none for a linear or flat curve (no saturation seen);
- window (days): the day by which 75 % of the converted, contacted leads had their last touch;
- TTF target: the SLA when contacting within it converts significantly better, else the knee of
  the TTF curve, else the SLA;
- max touches per day (and per channel): the largest daily count k such that the touches sent
  on lead-days with 1..k touches keep complaints and unsubscribes under the guardrails;
- exceptions: VIP, litigation, opt-out, do-not-contact leads are outside the cadence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from levier.analysis.decision import DecisionThresholds
from levier.analysis.stats import weighted_quantile
from levier.i18n import gettext as _

__all__ = ["Threshold", "propose", "EXCEPTIONS"]

EXCEPTIONS = ("vip", "litigation", "opt_out", "do_not_contact")
MIN_TOUCHES_FOR_CAP = 100
DEFAULT_CAP = 2


@dataclass(frozen=True)
class Threshold:
    segment: str
    min_touches: int | None
    window_days: int | None
    ttf_target_hours: float
    max_per_day: int
    channel_caps: dict
    evidence: dict = field(default_factory=dict)  # key -> (msgid, params)
    exceptions: tuple[str, ...] = EXCEPTIONS

    def to_dict(self, lang: str | None = None) -> dict:
        return {
            "segment": self.segment,
            "min_touches": self.min_touches,
            "window_days": self.window_days,
            "ttf_target_hours": self.ttf_target_hours,
            "max_per_day": self.max_per_day,
            "channel_caps": dict(self.channel_caps),
            "evidence": {k: _(msg, lang=lang, **p) for k, (msg, p) in self.evidence.items()},
            "exceptions": list(self.exceptions),
        }


def _min_touches(seg) -> tuple[int | None, tuple[str, dict]]:  # noqa: ANN001
    fit = seg.response_curve.fit
    rising = fit.params.get("b", fit.params.get("d", 0)) > 0
    if fit.shape in ("plateau", "s") and fit.knee is not None and rising:
        return max(1, math.ceil(fit.knee)), ("response curve shape {shape}: conversion stops rising after about {knee} touches", {"shape": fit.shape, "knee": fit.knee})
    if fit.shape == "u" and fit.optimum is not None:
        return max(1, round(fit.optimum)), ("response curve peaks at {opt} touches (inverted U): more touches lower conversion", {"opt": fit.optimum})
    if fit.shape in ("plateau", "s"):
        return None, ("conversion falls as touches grow (shape {shape}): review content before adding touches", {"shape": fit.shape})
    if fit.shape == "linear":
        return None, ("conversion keeps rising with touches (linear): no minimum found; test a longer cadence", {})
    return None, ("no relation between touches and conversion in the response curve ({code})", {"code": fit.code})


def _window(last_day: pd.DataFrame, default: int) -> tuple[int | None, tuple[str, dict]]:
    if not len(last_day) or last_day["n"].sum() < 10:
        return None, ("too few converted leads to set a window", {})
    p75 = weighted_quantile(last_day["last_day"].to_numpy(float), last_day["n"].to_numpy(float), 0.75)
    days = min(default, int(math.floor(p75)) + 1)
    return days, ("75 % of converted leads had their last touch by day {d}", {"d": days})


def _ttf_target(seg, sla: float) -> tuple[float, tuple[str, dict]]:  # noqa: ANN001
    t = seg.ttf
    e = t.sla_effect
    if e.code == "ok" and e.p_value < 0.05 and (e.diff or 0) > 0:
        return sla, ("leads contacted within {sla} h convert at {a:.1%} vs {b:.1%} beyond (p = {p:.3g})", {"sla": sla, "a": t.cr_within_sla, "b": t.cr_beyond_sla, "p": e.p_value})
    knee = seg.ttf_curve.fit.knee
    if seg.ttf_curve.fit.shape in ("plateau", "s") and knee is not None and (seg.ttf_curve.fit.params.get("b", -1) < 0 or seg.ttf_curve.fit.params.get("d", -1) < 0):
        return round(knee, 1), ("conversion stops falling after a TTF of about {k} h", {"k": round(knee, 1)})
    return sla, ("no clear TTF effect in the data; the SLA of {sla} h is kept", {"sla": sla})


def _cap(rows: pd.DataFrame, th: DecisionThresholds) -> tuple[int, bool]:
    """Largest k whose cumulative touches (days with 1..k touches) stay under both guardrails."""
    cap, found = DEFAULT_CAP, False
    rows = rows.groupby("k")[["touches", "complaints", "unsubscribes"]].sum().sort_index()
    cum = rows.cumsum()
    for k, r in cum.iterrows():
        if r["touches"] < MIN_TOUCHES_FOR_CAP:
            continue
        if r["complaints"] / r["touches"] <= th.complaint_guardrail and r["unsubscribes"] / r["touches"] <= th.unsubscribe_guardrail:
            cap, found = int(k), True
        else:
            break
    return cap, found


def propose(seg, last_day: pd.DataFrame, daily: pd.DataFrame, framing, th: DecisionThresholds) -> Threshold:  # noqa: ANN001
    """The proposed thresholds of one segment."""
    ev: dict = {}
    mt, ev["min_touches"] = _min_touches(seg)
    win, ev["window_days"] = _window(last_day, framing.window_days)
    ttf, ev["ttf_target_hours"] = _ttf_target(seg, framing.ttf_sla_hours)
    all_ch = daily[daily["channel"] == "*"] if len(daily) else daily
    cap, found = _cap(all_ch, th) if len(all_ch) else (DEFAULT_CAP, False)
    ev["max_per_day"] = (
        ("lead-days with up to {k} touches keep complaints ≤ {c:.2%} and unsubscribes ≤ {u:.2%} of touches", {"k": cap, "c": th.complaint_guardrail, "u": th.unsubscribe_guardrail})
        if found else ("not enough touches to measure the guardrails; default cap of {k} per day", {"k": cap})
    )
    caps = {}
    if len(daily):
        for ch, rows in daily[daily["channel"] != "*"].groupby("channel"):
            c, ok = _cap(rows, th)
            if ok:
                caps[str(ch)] = c
    return Threshold(seg.label, mt, win, ttf, cap, caps, ev)
