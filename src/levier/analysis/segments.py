"""One segment (or the whole population) of the audit: every figure of the SEGMENT shape."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from levier.analysis import cadence
from levier.analysis.cadence import Points, Quadrants, Sensitivity
from levier.analysis.curves import Curve
from levier.analysis.decision import TrafficLight
from levier.analysis.stats import Correlation, TwoProportion, two_proportion
from levier.analysis.ttf import TtfSummary, ttf_curve, ttf_summary

__all__ = ["SegmentResult", "Previous", "segment_result", "previous_stats", "subset", "label_of"]

OVERALL = "all"


def label_of(key: dict) -> str:
    return "/".join(str(v) for v in key.values()) or OVERALL


def subset(frame: pd.DataFrame, key: dict) -> pd.DataFrame:
    """Rows of ``frame`` in segment ``key`` (``{}`` = everything)."""
    if not key or not len(frame):
        return frame
    mask = pd.Series(True, index=frame.index)
    for col, val in key.items():
        mask &= frame[f"seg_{col}"] == val
    return frame[mask]


@dataclass(frozen=True)
class Previous:
    """The same segment in the comparison period."""

    label: str
    n: int
    conversions: int
    out_touches: int
    complaints: int
    unsubscribes: int
    quality: int  # replies + meetings
    correlation: Correlation
    quadrants: Quadrants

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.n if self.n else None

    def to_dict(self) -> dict:
        return {"label": self.label, "n": self.n, "conversions": self.conversions, "conversion_rate": self.conversion_rate, "r": self.correlation.r, "slope": self.correlation.slope, "quadrants": self.quadrants.to_dict(), "complaint_rate": self.complaints / self.out_touches if self.out_touches else None}


def _sums(cells: pd.DataFrame) -> dict[str, int]:
    cols = ["n", "out_touches", "complaints", "unsubscribes", "replies", "meetings", "effective", "censored", "contacted"]
    s = {c: int(cells[c].sum()) if len(cells) else 0 for c in cols}
    s["conversions"] = int(cells.loc[cells["converted"] == 1, "n"].sum()) if len(cells) else 0
    s["x"] = int((cells["x"] * cells["n"]).sum()) if len(cells) else 0
    return s


def _points(cells: pd.DataFrame, ent: pd.DataFrame | Points | None, unit: str, min_leads: int) -> Points:
    """The scatter points: lead cells, or the entities (a frame, or points reduced in the engine)."""
    if unit == "lead" or ent is None:
        return cadence.lead_points(cells)
    return ent if isinstance(ent, Points) else cadence.entity_points(ent, min_leads)


def previous_stats(label: str, cells: pd.DataFrame, ent: pd.DataFrame | Points | None, unit: str, min_leads: int) -> Previous:
    s = _sums(cells)
    p = _points(cells, ent, unit, min_leads)
    return Previous(label, s["n"], s["conversions"], s["out_touches"], s["complaints"], s["unsubscribes"], s["replies"] + s["meetings"], cadence.correlate(p), cadence.quadrants(p))


@dataclass(frozen=True)
class SegmentResult:
    """Every figure of one segment; ``light`` is set by the decision step."""

    key: dict
    label: str
    n: int
    conversions: int
    contacts: dict
    ttf: TtfSummary
    effective_contacts: int
    touches: int
    out_touches: int
    complaints: int
    unsubscribes: int
    quality: int
    censored: int
    correlation: Correlation
    quadrants: Quadrants
    sensitivity: Sensitivity
    response_curve: Curve
    ttf_curve: Curve
    previous: Previous | None = None
    light: TrafficLight | None = None

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.n if self.n else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.out_touches if self.out_touches else None

    @property
    def delta_cr_points(self) -> float | None:
        if self.previous is None or self.previous.conversion_rate is None or self.conversion_rate is None:
            return None
        return 100 * (self.conversion_rate - self.previous.conversion_rate)

    def cr_test(self) -> TwoProportion | None:
        return None if self.previous is None else two_proportion(self.conversions, self.n, self.previous.conversions, self.previous.n)

    def complaint_test(self) -> TwoProportion | None:
        return None if self.previous is None else two_proportion(self.complaints, self.out_touches, self.previous.complaints, self.previous.out_touches)

    def quality_test(self) -> TwoProportion | None:
        return None if self.previous is None else two_proportion(self.quality, self.out_touches, self.previous.quality, self.previous.out_touches)

    @property
    def code(self) -> str:
        return "empty" if self.n == 0 else ("too_few" if self.n < 30 else "ok")

    def to_dict(self, lang: str | None = None) -> dict:
        cmp = None
        if self.previous is not None:
            crt, cpt = self.cr_test(), self.complaint_test()
            cmp = {**self.previous.to_dict(), "delta_cr_points": self.delta_cr_points, "cr_test_p": crt.p_value, "complaint_test_p": cpt.p_value}
        return {
            "key": dict(self.key),
            "label": self.label,
            "code": self.code,
            "n": self.n,
            "conversions": self.conversions,
            "conversion_rate": self.conversion_rate,
            "censored_leads": self.censored,
            "contacts": dict(self.contacts),
            "ttf": self.ttf.to_dict(),
            "effective_contact_rate": self.effective_contacts / self.touches if self.touches else None,
            "correlation": self.correlation.to_dict(),
            "quadrants": self.quadrants.to_dict(),
            "sensitivity": self.sensitivity.to_dict(lang),
            "response_curve": self.response_curve.to_dict(),
            "ttf_curve": self.ttf_curve.to_dict(),
            "complaints": {
                "touches": self.out_touches,
                "complaints": self.complaints,
                "rate": self.complaint_rate,
                "unsubscribes": self.unsubscribes,
                "unsubscribe_rate": self.unsubscribes / self.out_touches if self.out_touches else None,
            },
            "quality": {"replies_meetings": self.quality, "per_touch": self.quality / self.out_touches if self.out_touches else None},
            "comparison": cmp,
            "traffic_light": self.light.to_dict(lang) if self.light else None,
        }


def segment_result(key: dict, cells: pd.DataFrame, ttf_hist: pd.DataFrame, ent: pd.DataFrame | Points | None, *, unit: str, min_leads: int, sla_hours: float, previous: Previous | None) -> SegmentResult:
    """Compute one segment from its slices of the sufficient-statistic frames."""
    s = _sums(cells)
    pts = _points(cells, ent, unit, min_leads)
    corr = cadence.correlate(pts)
    return SegmentResult(
        key=dict(key),
        label=label_of(key),
        n=s["n"],
        conversions=s["conversions"],
        contacts=cadence.contacts_summary(cells),
        ttf=ttf_summary(ttf_hist, sla_hours),
        effective_contacts=s["effective"],
        touches=s["x"],
        out_touches=s["out_touches"],
        complaints=s["complaints"],
        unsubscribes=s["unsubscribes"],
        quality=s["replies"] + s["meetings"],
        censored=s["censored"],
        correlation=corr,
        quadrants=cadence.quadrants(pts),
        sensitivity=cadence.sensitivity(pts, corr),
        response_curve=cadence.response_curve(cells),
        ttf_curve=ttf_curve(ttf_hist),
        previous=previous,
    )
