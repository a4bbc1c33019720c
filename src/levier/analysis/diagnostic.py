"""The express diagnostic: the method's ten questions, answered yes / no / unknown with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from levier.analysis.stats import two_proportion
from levier.i18n import gettext as _

__all__ = ["Answer", "express", "QUESTIONS"]

QUESTIONS = {
    "median_ttf_on_target": "Is the median time to first contact on target (within the SLA)?",
    "slope_significant": "Is the contacts → conversion slope significant?",
    "slope_stable": "Is the slope stable across segments and without the top 1 % of cadences?",
    "curve_shape": "Does the response curve have a readable shape (linear, plateau, S or U)?",
    "quadrants_shifted": "Did the quadrants shift versus the previous cycle (share in Q1)?",
    "clusters_present": "Are there clusters (VIP, flagged or very large accounts) that convert differently?",
    "outliers_explain_effect": "Do a few extreme cadences explain the effect?",
    "touch_quality_improving": "Is touch quality (replies and meetings per touch) improving?",
    "guardrails_ok": "Are complaints and unsubscribes under the guardrails?",
    "composition_consistent": "Do the segments tell the same story as the total (no composition effect)?",
}


@dataclass(frozen=True)
class Answer:
    key: str
    answer: str  # yes | no | unknown
    evidence_msgid: str
    params: dict = field(default_factory=dict)

    def to_dict(self, lang: str | None = None) -> dict:
        return {"key": self.key, "question": _(QUESTIONS[self.key], lang=lang), "answer": self.answer, "evidence": _(self.evidence_msgid, lang=lang, **self.params)}


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def _ttf(o, f) -> Answer:  # noqa: ANN001
    m = o.ttf.median_hours
    if m is None:
        return Answer("median_ttf_on_target", "unknown", "no contacted lead in the period")
    return Answer("median_ttf_on_target", _yn(m <= f.ttf_sla_hours), "median TTF {m:.2f} h vs SLA {sla:g} h; {share:.0%} of contacted leads within the SLA", {"m": m, "sla": f.ttf_sla_hours, "share": o.ttf.share_within_sla})


def _slope(o, th) -> Answer:  # noqa: ANN001
    c = o.correlation
    if c.code != "ok":
        return Answer("slope_significant", "unknown", "slope undefined ({code})", {"code": c.code})
    return Answer("slope_significant", _yn(c.p_value < th.alpha), "m = {m:.4f} per touch, 95 % CI [{lo:.4f}, {hi:.4f}], p = {p:.3g}", {"m": c.slope, "lo": c.slope_ci[0], "hi": c.slope_ci[1], "p": c.p_value})


def _stable(o, segs) -> Answer:  # noqa: ANN001
    ok = [s for s in segs if s.correlation.code == "ok"]
    if o.correlation.code != "ok" or len(ok) < 2:
        return Answer("slope_stable", "unknown", "too few segments with a defined slope")
    signs = {int(np.sign(s.correlation.slope)) for s in ok}
    same = len(signs) == 1 and not o.sensitivity.flag
    return Answer("slope_stable", _yn(same), "{pos} of {n} segment slopes are positive; sensitivity flag: {flag}", {"pos": sum(s.correlation.slope > 0 for s in ok), "n": len(ok), "flag": _yn(o.sensitivity.flag)})


def _shape(o, segs) -> Answer:  # noqa: ANN001
    shapes = {s.label: s.response_curve.fit.shape for s in (segs or [o])}
    readable = [k for k, v in shapes.items() if v != "none"]
    text = ", ".join(f"{k}: {v}" for k, v in shapes.items())
    return Answer("curve_shape", _yn(bool(readable)), "shapes by segment: {shapes}", {"shapes": text})


def _quadrants(o, th) -> Answer:  # noqa: ANN001
    if o.previous is None:
        return Answer("quadrants_shifted", "unknown", "no comparison period")
    cur, prev = o.quadrants.counts, o.previous.quadrants.counts
    t = two_proportion(cur["q1"], sum(cur.values()), prev["q1"], sum(prev.values()))
    if t.code != "ok":
        return Answer("quadrants_shifted", "unknown", "share in Q1 not comparable ({code})", {"code": t.code})
    return Answer("quadrants_shifted", _yn(t.p_value < th.alpha), "share in Q1 {a:.1%} vs {b:.1%} (p = {p:.3g})", {"a": t.p1, "b": t.p2, "p": t.p_value})


def _clusters(o, clusters, th) -> Answer:  # noqa: ANN001
    hits = []
    for c in clusters:
        t = two_proportion(c["conversion_rate"] * c["n"], c["n"], o.conversions, o.n)
        if t.code == "ok" and t.p_value < th.alpha:
            hits.append(f"{c['kind']}{'=' + c['id'] if c.get('id') else ''} (n = {c['n']}, CR {c['conversion_rate']:.0%})")
    if not clusters:
        return Answer("clusters_present", "no", "no flagged lead and no very large account")
    return Answer("clusters_present", _yn(bool(hits)), "clusters converting differently: {list}", {"list": "; ".join(hits[:5]) or "—"})


def _outliers(o) -> Answer:  # noqa: ANN001
    s = o.sensitivity
    if s.code != "ok":
        return Answer("outliers_explain_effect", "unknown", "sensitivity not computed ({code})", {"code": s.code})
    return Answer("outliers_explain_effect", _yn(s.flag), "r = {r:.3f} with all leads, {r2:.3f} without the top {share:.1%} (X > {cut:g})", {"r": o.correlation.r, "r2": s.r, "share": s.trimmed_share, "cut": s.cutoff})


def _quality(o, th) -> Answer:  # noqa: ANN001
    t = o.quality_test()
    if t is None or t.code != "ok":
        return Answer("touch_quality_improving", "unknown", "no comparison period or no touches")
    return Answer("touch_quality_improving", _yn(t.p_value < th.alpha and t.diff > 0), "replies + meetings per touch {a:.2%} vs {b:.2%} (p = {p:.3g})", {"a": t.p1, "b": t.p2, "p": t.p_value})


def _guardrails(o, th) -> Answer:  # noqa: ANN001
    if not o.out_touches:
        return Answer("guardrails_ok", "unknown", "no outbound touch in the period")
    c, u = o.complaints / o.out_touches, o.unsubscribes / o.out_touches
    return Answer("guardrails_ok", _yn(c <= th.complaint_guardrail and u <= th.unsubscribe_guardrail), "complaints {c:.3%} (guardrail {gc:.2%}), unsubscribes {u:.3%} (guardrail {gu:.2%})", {"c": c, "gc": th.complaint_guardrail, "u": u, "gu": th.unsubscribe_guardrail})


def _composition(comp) -> Answer:  # noqa: ANN001
    if comp.reason == "insufficient":
        return Answer("composition_consistent", "unknown", "too few segments with a defined slope")
    return Answer("composition_consistent", _yn(not comp.warning), "pooled slope {p:.4f} vs lead-weighted segment slope {s:.4f}", {"p": comp.pooled_slope, "s": comp.weighted_segment_slope})


def express(overall, segments, comp, clusters, outliers, th, framing) -> list[Answer]:  # noqa: ANN001
    """The ten answers, in the order of :data:`QUESTIONS`."""
    return [
        _ttf(overall, framing),
        _slope(overall, th),
        _stable(overall, segments),
        _shape(overall, segments),
        _quadrants(overall, th),
        _clusters(overall, clusters, th),
        _outliers(overall),
        _quality(overall, th),
        _guardrails(overall, th),
        _composition(comp),
    ]
