"""The stage funnel: conversion per step and cumulative, drop-off, median time between steps.

Population: leads created in ``[start, end)``. A lead *reached* stage ``i`` when it has a
``stage_events`` row for stage ``i`` or for any later stage of the workspace's ordered list
(CRMs skip stages); every lead reached the first stage. Exit stages (``lost`` …) are not
funnel steps. Step conversion = reached(i) / reached(i − 1); cumulative = reached(i) /
reached(first); drop-off = reached(i − 1) − reached(i). The time between steps is measured on
leads with both times known (first event of each stage; the first stage defaults to
``created_at``), from an engine histogram at one-minute resolution, so medians are exact to
the minute and identical on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.analysis.stats import weighted_quantile
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["EXIT_STAGES", "FunnelStep", "FunnelSegment", "Funnel", "funnel", "funnel_stages", "stage_times"]

EXIT_STAGES = ("lost", "closed_lost", "disqualified", "churned", "unqualified")
SEGMENTABLE = ("channel", "company_size", "source", "campaign_id", "owner", "team", "country")
UNKNOWN = "unknown"


def funnel_stages(stages: Sequence[str]) -> tuple[str, ...]:
    """The workspace's ordered stages without the exit stages."""
    return tuple(s for s in stages if s not in EXIT_STAGES)


@dataclass(frozen=True)
class FunnelStep:
    """One stage of the funnel within one segment."""

    stage: str
    reached: int
    step_rate: float | None  # reached / reached at the previous stage
    cumulative_rate: float | None  # reached / reached at the first stage
    drop_off: int  # leads lost since the previous stage
    median_hours_from_previous: float | None
    timed_leads: int  # leads whose time from the previous stage is known

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FunnelSegment:
    key: dict[str, str]
    label: str
    steps: tuple[FunnelStep, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"key": dict(self.key), "label": self.label, "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class Funnel:
    """The overall funnel followed by one funnel per segment."""

    stages: tuple[str, ...]
    segment_by: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    overall: FunnelSegment
    segments: tuple[FunnelSegment, ...]

    def rate(self, stage_from: str, stage_to: str) -> float | None:
        """Overall conversion from one stage to a later one (e.g. mql → sql)."""
        got = {s.stage: s.reached for s in self.overall.steps}
        a, b = got.get(stage_from), got.get(stage_to)
        return b / a if a else None

    def to_frame(self) -> pd.DataFrame:
        rows = [{"segment": seg.label, **st.to_dict()} for seg in (self.overall, *self.segments) for st in seg.steps]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "segment_by": list(self.segment_by),
                "period": {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None},
                "overall": self.overall.to_dict(), "segments": [s.to_dict() for s in self.segments]}


def stage_times(ws: Any, stages: Sequence[str], start: datetime | None = None, end: datetime | None = None,
                segment_by: Sequence[str] = ()) -> ir.Table:
    """One row per lead of the period: segment columns ``seg_*`` and ``t0..tn`` (first time per stage)."""
    leads = ws.table("leads")
    if start:
        leads = leads.filter(leads.created_at >= start)
    if end:
        leads = leads.filter(leads.created_at < end)
    se = ws.table("stage_events")
    if end:
        se = se.filter(se.at < end)
    firsts = se.group_by("lead_id").agg(**{f"t{i}": se.at.min(where=se.stage == s) for i, s in enumerate(stages)})
    base = leads.select(lid=leads.lead_id, created_at=leads.created_at,
                        **{f"seg_{c}": leads[c].cast("string").fill_null(UNKNOWN) for c in segment_by})
    j = base.left_join(firsts, base.lid == firsts.lead_id)
    cols = {f"t{i}": j[f"t{i}"] for i in range(len(stages))}
    cols["t0"] = j.t0.coalesce(j.created_at)
    return j.select("lid", *[f"seg_{c}" for c in segment_by], **cols)


def _check(segment_by: Sequence[str], stages: Sequence[str]) -> None:
    bad = [c for c in segment_by if c not in SEGMENTABLE]
    if bad:
        raise OptionError(_("Unknown segment column(s) in --segment-by: {bad}.", bad=", ".join(bad)),
                          hint=_("Use columns of leads among: {allowed} (comma-separated), or leave it empty.", allowed=", ".join(SEGMENTABLE)))
    if len(stages) < 2:
        raise OptionError(_("A funnel needs at least two ordered stages; the workspace has {stages}.", stages=", ".join(stages) or "∅"))


def _reached(t: ir.Table, n: int) -> dict[str, ir.Value]:
    out = {}
    for i in range(n):
        cond = t[f"t{i}"].notnull()
        for j in range(i + 1, n):
            cond = cond | t[f"t{j}"].notnull()
        out[f"r{i}"] = cond.cast("int64").sum()
    return out


def _durations(t: ir.Table, n: int, segs: list[str]) -> ir.Table:
    parts = []
    for i in range(1, n):
        a, b = t[f"t{i - 1}"], t[f"t{i}"]
        sel = t.filter(a.notnull() & b.notnull() & (b >= a))
        minutes = ((sel[f"t{i}"].epoch_seconds() - sel[f"t{i - 1}"].epoch_seconds()) / 60).floor().cast("int64")
        parts.append(sel.select(*segs, step=ibis.literal(i, "int64"), m=minutes))
    u = parts[0] if len(parts) == 1 else ibis.union(*parts)
    return u.group_by([*segs, "step", "m"]).agg(n=u.count())


def _count(counts: pd.Series, i: int) -> int:
    """Leads that reached step ``i``; an empty period sums to NULL in the engine, i.e. 0."""
    value = counts[f"r{i}"]
    return 0 if pd.isna(value) else int(value)


def _segment(key: dict[str, str], counts: pd.Series, hist: pd.DataFrame, stages: Sequence[str]) -> FunnelSegment:
    steps = []
    first = _count(counts, 0)
    for i, stage in enumerate(stages):
        r = _count(counts, i)
        prev = _count(counts, i - 1) if i else r
        h = hist[hist["step"] == i] if i else hist.iloc[0:0]
        med = weighted_quantile(h["m"].to_numpy(float), h["n"].to_numpy(float), 0.5) if len(h) else None
        steps.append(FunnelStep(stage, r, (r / prev if prev else None) if i else (1.0 if r else None),
                                r / first if first else None, prev - r, None if med is None else med / 60.0,
                                int(h["n"].sum()) if len(h) else 0))
    label = "/".join(key.values()) if key else "all"
    return FunnelSegment(key, label, tuple(steps))


def funnel(ws: Any, *, start: datetime | None = None, end: datetime | None = None,
           segment_by: Sequence[str] = (), stages: Sequence[str] | None = None) -> Funnel:
    """The funnel of the leads created in ``[start, end)``, overall and per segment."""
    stages = funnel_stages(stages or ws.config.stages)
    segment_by = tuple(segment_by)
    _check(segment_by, stages)
    segs = [f"seg_{c}" for c in segment_by]
    t = stage_times(ws, stages, start, end, segment_by)
    n = len(stages)
    overall_counts = t.agg(**_reached(t, n)).execute().iloc[0]
    dur = _durations(t, n, segs)
    overall_hist = dur.group_by(["step", "m"]).agg(n=dur.n.sum()).execute()
    overall = _segment({}, overall_counts, overall_hist, stages)
    segments: list[FunnelSegment] = []
    if segs:
        counts = t.group_by(segs).agg(**_reached(t, n)).order_by(segs).execute()
        hist = dur.execute()
        for _i, row in counts.iterrows():
            key = {c: str(row[f"seg_{c}"]) for c in segment_by}
            mask = pd.Series(True, index=hist.index)
            for c in segment_by:
                mask &= hist[f"seg_{c}"] == key[c]
            segments.append(_segment(key, row, hist[mask], stages))
    return Funnel(tuple(stages), segment_by, start, end, overall, tuple(segments))
